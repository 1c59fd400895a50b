// A catalog field (model, device): typing only filters the suggestions; an entry is chosen by an
// explicit act: Enter (the highlighted suggestion, else the entry the text names exactly, else the
// only suggestion), a click on a suggestion, or leaving the field when the text names exactly one
// entry. A keystroke never picks: "a100-80g" is never taken for "a100" half-way through typing.
const MAX_SHOWN = 60;
export const norm = (s) => String(s).toLowerCase().replace(/[-_\s.,/()]/g, "");

/**
 * input: the text field; list: its <ul role=listbox>. entries(): [{value, label, detail, keys}]
 * (keys: normalized names to search); exact(text): the entry the text names exactly, or null;
 * current(): the value in use; onPick(entry); onReject(text, matches).
 */
export function bindPicker(input, list, { entries, exact, current, onPick, onReject }) {
  let shown = [];
  let active = -1;

  const matches = (text) => {
    const key = norm(text);
    if (!key) return entries();
    const hit = exact(text);
    const scored = [];
    for (const e of entries()) {
      let rank = null;
      if (hit && e.value === hit.value) rank = 0;
      else if (e.keys.some((k) => k.startsWith(key))) rank = 1;
      else if (e.keys.some((k) => k.includes(key))) rank = 2;
      if (rank !== null) scored.push([rank, e]);
    }
    return scored.sort((a, b) => a[0] - b[0]).map(([, e]) => e);
  };

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };

  const highlight = (i) => {
    active = i;
    for (const [k, li] of [...list.children].entries()) li.classList.toggle("active", k === i);
    const li = list.children[i];
    if (li) {
      input.setAttribute("aria-activedescendant", li.id);
      li.scrollIntoView({ block: "nearest" });
    }
  };

  const show = () => {
    shown = matches(input.value).slice(0, MAX_SHOWN);
    list.replaceChildren(...shown.map((e, i) => {
      const li = document.createElement("li");
      li.id = `${list.id}-${i}`;
      li.setAttribute("role", "option");
      li.dataset.value = e.value;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = e.label;
      const detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = e.detail || "";
      li.append(name, detail);
      // mousedown, not click: the field keeps its focus, so leaving it does not decide first
      li.addEventListener("mousedown", (ev) => { ev.preventDefault(); choose(e); });
      return li;
    }));
    list.hidden = !shown.length;
    input.setAttribute("aria-expanded", String(shown.length > 0));
    active = -1;
  };

  const choose = (entry) => {
    close();
    input.classList.remove("invalid", "editing");
    onPick(entry);
  };

  /** Enter or leaving the field: the text's own entry, else the only match, else a message. */
  const decide = (leaving) => {
    const text = input.value.trim();
    const entry = current();
    if (!text || (entry && text === entry.label)) {  // nothing new: show what is in use
      if (entry) input.value = entry.label;
      input.classList.remove("invalid", "editing");
      close();
      return;
    }
    const hit = exact(text);
    const found = hit ? [hit] : matches(text);
    if (found.length === 1) { choose(found[0]); return; }
    if (!leaving && found.length > 1) {  // Enter with several matches: highlight the first; Enter again takes it
      if (list.hidden) show();
      highlight(0);
      return;
    }
    if (found.length !== 1) {
      close();
      input.classList.add("invalid");
      input.classList.remove("editing");
      onReject(text, found);
    }
  };

  input.addEventListener("input", () => {
    input.classList.add("editing");
    input.classList.remove("invalid");
    show();
  });
  input.addEventListener("focus", () => { if (!input.readOnly) show(); });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      if (list.hidden) show();
      if (!shown.length) return;
      const step = ev.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + shown.length) % shown.length);
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      if (active >= 0 && shown[active]) choose(shown[active]);
      else decide(false);
    } else if (ev.key === "Escape") {
      const entry = current();
      if (entry) input.value = entry.label;
      input.classList.remove("invalid", "editing");
      close();
    }
  });
  input.addEventListener("blur", () => decide(true));
  return { close };
}
