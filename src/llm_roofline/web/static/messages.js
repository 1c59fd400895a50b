// The status line and the error box (which names the field the API says is wrong).
import { $ } from "./dom.js";

const FIELD_INPUTS = { batch_size: "batch", prompt_len: "prompt", gen_len: "gen", model: "model", config: "model",
  hardware: "hardware", w_bits: "w-bits", a_bits: "a-bits", kv_bits: "kv-bits",
  memory_bandwidth_bytes_per_s: "hw-bw", peak_flops_per_s: "hw-peak", memory_capacity_bytes: "hw-cap",
  tp: "tp", pp: "pp", ep: "ep", attention_dp: "adp", dp: "dp" };

export function setStatus(text) { $("status").textContent = text; }

export function showError(message, field) {
  const el = $("error");
  el.textContent = message;
  el.hidden = false;
  for (const id of Object.values(FIELD_INPUTS)) $(id).classList.remove("invalid");
  if (field && FIELD_INPUTS[field]) $(FIELD_INPUTS[field]).classList.add("invalid");
  $("controls-fold").open = true;
}

export function clearError() {
  $("error").hidden = true;
  for (const id of Object.values(FIELD_INPUTS)) $(id).classList.remove("invalid");
}

/** A persistent message about the link the page was opened with (until the reader dismisses it). */
export function showNotice(lines) {
  const box = $("notice");
  if (!lines.length) { box.hidden = true; return; }
  const list = box.querySelector("ul");
  list.replaceChildren(...lines.map((line) => {
    const li = document.createElement("li");
    li.textContent = line;
    return li;
  }));
  box.hidden = false;
}

export function addNotice(line) {
  const box = $("notice");
  const items = [...box.querySelectorAll("li")].map((li) => li.textContent);
  showNotice(box.hidden ? [line] : items.concat([line]));
}
