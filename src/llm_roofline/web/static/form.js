// The controls: fill them from the state, and turn the user's edits into state changes.
import { requestBody } from "./api.js";
import { findHardware, findModel, peak16 } from "./catalog.js";
import { $, download } from "./dom.js";
import { fillEfficiency } from "./efficiency.js";
import { si } from "./fmt.js";
import { setStatus, showError } from "./messages.js";
import { bindPicker, norm } from "./picker.js";
import { app, DEFAULTS, DEGREES, FORMAT_LABELS, FORMATS, OWN_FORMAT, setState } from "./store.js";
import { fillOptimizations } from "./optimizations.js";
import { fillTechniques } from "./techniques.js";
import { b64encode } from "./urlstate.js";

export function fillForm() {
  const s = app.state;
  const m = findModel(s.model);
  $("model").value = app.upload ? "" : (m ? m.id : s.model);
  $("model").placeholder = app.upload ? `uploaded: ${app.upload.name}` : "e.g. llama-2-7b";
  for (const id of ["model", "hardware"]) $(id).classList.remove("editing");
  $("clear-upload").hidden = !app.upload;
  const h = findHardware(s.hw);
  $("hardware").value = h ? h.name : s.hw;
  const custom = Boolean(s.bw || s.peak || s.cap);
  $("custom-hw").checked = custom;
  $("custom-hw-fields").hidden = !custom;
  if (h) {
    $("hw-bw").value = s.bw || String(+(h.memory_bandwidth_bytes_per_s / 1e9).toPrecision(6));
    $("hw-peak").value = s.peak || String(+(peak16(h) / 1e12).toPrecision(6));
    $("hw-cap").value = s.cap || String(+(h.memory_capacity_bytes / 1e9).toPrecision(6));
  }
  for (const r of document.querySelectorAll('input[name="stage"]')) r.checked = r.value === s.stage;
  for (const r of document.querySelectorAll('input[name="view"]')) r.checked = r.value === s.view;
  $("batch").value = s.b;
  $("batch-slider").value = String(Math.log2(Math.max(1, Number(s.b) || 1)));
  $("prompt").value = s.p;
  $("gen").value = s.g;
  for (const [id, key] of [["w-bits", "w"], ["a-bits", "a"], ["kv-bits", "kv"]]) setSelect($(id), s[key]);
  $("flash").checked = s.fa === "1";
  fillEfficiency();
  for (const [id, key] of DEGREES) $(id).value = s[key];
  $("system").value = s.sys;
  $("comm").value = s.comm;
  $("overlap").checked = s.ov === "1";
  if ($("spec").options.length) fillTechniques();
  if ($("fusion").options.length) fillOptimizations();
  modelInfo();
  hwInfo();
}

/** Select a value, adding its option first when a link asks for one the list lacks (e.g. 3 bits, tf32). */
function setSelect(select, value) {
  if (![...select.options].some((o) => o.value === value)) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = /^\d+$/.test(value) ? `${value}-bit` : value;
    select.appendChild(o);
  }
  select.value = value;
}

export function modelInfo() {
  const m = app.upload ? null : findModel(app.state.model);
  const r = app.view?.report;
  $("model-resolved").textContent = app.upload ? `uploaded: ${app.upload.name}` : (m ? m.id : app.state.model);
  let text = "";
  if (app.upload) text = "Uploaded config.json";
  else if (m) text = m.description || m.family;
  if (r) text += `${text ? " · " : ""}${si(r.model.params_total)} params, ${r.model.num_layers} layers`;
  $("model-info").textContent = text;
}

function hwInfo() {
  const h = findHardware(app.state.hw);
  $("hw-resolved").textContent = h ? h.name : app.state.hw;
  if (!h) { $("hw-info").textContent = ""; return; }
  $("hw-info").textContent = `${si(h.memory_bandwidth_bytes_per_s, "B/s")} · ${si(h.memory_capacity_bytes, "B")} · ` +
    `${si(peak16(h), "FLOP/s")} (16-bit)`;
}

export function bindForm() {
  const opts = FORMATS.map((f) => `<option value="${f}">${FORMAT_LABELS[f] || f}</option>`).join("");
  for (const id of ["w-bits", "a-bits", "kv-bits"]) $(id).innerHTML = opts;
  $("w-bits").insertAdjacentHTML("afterbegin", `<option value="${OWN_FORMAT}">${FORMAT_LABELS[OWN_FORMAT]}</option>`);
  bindPicker($("model"), $("model-suggest"), {
    entries: () => app.models.map((m) => ({ value: m.id, label: m.id,
      detail: [m.aliases.join(", "), m.description].filter(Boolean).join(" · "),
      keys: [m.id, m.id.split("/").pop(), ...m.aliases, m.family || ""].map(norm) })),
    exact: (text) => { const m = findModel(text); return m ? { value: m.id, label: m.id } : null; },
    current: () => (app.upload ? null : { value: app.state.model, label: app.state.model }),
    onPick: (e) => {
      $("model").value = e.value;
      if (e.value !== app.state.model || app.upload) {
        app.upload = null;
        setState({ model: e.value, cfg: "", cfgname: "", op: "" });
      }
      fillForm();
    },
    onReject: (text, found) => showError(found.length
      ? `model: '${text}' matches ${found.length} catalog models (${found.slice(0, 4).map((e) => e.value).join(", ")}` +
        `${found.length > 4 ? ", …" : ""}); pick one from the list`
      : `model: '${text}' is not in the catalog; pick one from the list or upload a config.json`, "model"),
  });
  bindPicker($("hardware"), $("hardware-suggest"), {
    entries: () => app.hardware.map((h) => ({ value: h.name, label: h.name,
      detail: `${h.vendor} · ${si(h.memory_bandwidth_bytes_per_s, "B/s")} · ${si(h.memory_capacity_bytes, "B")}` +
        (h.aliases.length ? ` · ${h.aliases.slice(0, 3).join(", ")}` : ""),
      keys: [h.name, ...h.aliases].map(norm) })),
    exact: (text) => { const h = findHardware(text); return h ? { value: h.name, label: h.name } : null; },
    current: () => ({ value: app.state.hw, label: app.state.hw }),
    onPick: (e) => {
      $("hardware").value = e.value;
      if (e.value !== app.state.hw) setState({ hw: e.value, bw: "", peak: "", cap: "" });
      fillForm();
    },
    onReject: (text, found) => showError(found.length
      ? `hardware: '${text}' matches ${found.length} devices (${found.slice(0, 4).map((e) => e.value).join(", ")}` +
        `${found.length > 4 ? ", …" : ""}); pick one from the list`
      : `hardware: '${text}' is not in the catalog; pick one from the list`, "hardware"),
  });

  $("custom-hw").addEventListener("change", () => {
    const on = $("custom-hw").checked;
    $("custom-hw-fields").hidden = !on;
    if (on) setState({ bw: $("hw-bw").value, peak: $("hw-peak").value, cap: $("hw-cap").value });
    else { setState({ bw: "", peak: "", cap: "" }); fillForm(); }
  });
  for (const [id, key] of [["hw-bw", "bw"], ["hw-peak", "peak"], ["hw-cap", "cap"]]) {
    $(id).addEventListener("input", () => {
      if (!$("custom-hw").checked) return;
      setState({ [key]: $(id).value });
    });
  }
  for (const r of document.querySelectorAll('input[name="stage"]')) {
    r.addEventListener("change", () => setState({ stage: r.value }, { fetch: false }));
  }
  for (const r of document.querySelectorAll('input[name="view"]')) {
    r.addEventListener("change", () => setState({ view: r.value }, { fetch: false }));
  }
  $("batch").addEventListener("input", () => {
    const v = $("batch").value;
    $("batch-slider").value = String(Math.log2(Math.max(1, Number(v) || 1)));
    setState({ b: v });
  });
  $("batch-slider").addEventListener("input", () => {
    const v = String(Math.round(2 ** Number($("batch-slider").value)));
    $("batch").value = v;
    setState({ b: v });
  });
  $("prompt").addEventListener("input", () => setState({ p: $("prompt").value }));
  $("gen").addEventListener("input", () => setState({ g: $("gen").value }));
  $("w-bits").addEventListener("change", () => setState({ w: $("w-bits").value }));
  $("a-bits").addEventListener("change", () => setState({ a: $("a-bits").value }));
  $("kv-bits").addEventListener("change", () => setState({ kv: $("kv-bits").value }));
  $("flash").addEventListener("change", () => setState({ fa: $("flash").checked ? "1" : "0" }));
  bindDevices();
  $("form").addEventListener("submit", (e) => e.preventDefault());

  $("config-file").addEventListener("change", async () => {
    const file = $("config-file").files[0];
    $("config-file").value = "";
    if (!file) return;
    const limit = app.meta?.max_body_bytes || 1_000_000;
    if (file.size > limit) { showError(`file: ${file.name} is ${si(file.size, "B")}; at most ${si(limit, "B")}`, "model"); return; }
    const form = new FormData();
    form.append("file", file, file.name);
    setStatus("uploading…");
    try {
      const res = await fetch("/api/upload", { method: "POST", body: form });
      const data = await res.json();
      if (!res.ok) { showError(data.detail || `upload failed (${res.status})`, "model"); setStatus(""); return; }
      const name = file.name.replace(/\.json$/i, "").replace(/--/g, "/") === "config" ? data.name : data.name;
      useUpload(data.config, name === "uploaded model" ? file.name.replace(/\.json$/i, "").replace(/--/g, "/") : name);
    } catch (err) {
      showError(`upload failed: ${err}`, "model");
    }
  });
  $("clear-upload").addEventListener("click", () => {
    app.upload = null;
    setState({ cfg: "", cfgname: "", model: app.state.model || DEFAULTS.model, op: "" });
    fillForm();
  });

  $("dl-json").addEventListener("click", () => {
    if (!app.view) return;
    download(`${fileStem()}.json`, JSON.stringify(app.view.report, null, 2) + "\n", "application/json");
  });
  $("dl-csv").addEventListener("click", async () => {
    const res = await fetch("/api/analyze/csv", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify(requestBody()) });
    if (res.ok) download(`${fileStem()}.csv`, await res.text(), "text/csv");
  });
  $("copy-link").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      setStatus("link copied");
    } catch {
      window.prompt("Link to this view:", location.href);
    }
  });
}

/** The Devices fieldset: degrees of parallelism, the system, collectives and overlap. */
function bindDevices() {
  for (const [id, key] of DEGREES) $(id).addEventListener("input", () => setState({ [key]: $(id).value }));
  $("system").replaceChildren(...[["", "First system with this device"]].concat(
    app.systems.map((x) => [x.name, `${x.name} · ${x.devices_per_node} × ${x.device} · ` +
      `${si(x.scale_up.device_bandwidth_bytes_per_s, "B/s")}`])).map(([v, t]) => {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = t;
    return o;
  }));
  $("system").addEventListener("change", () => {
    const sys = app.systems.find((x) => x.name === $("system").value);
    setState(sys ? { sys: sys.name, hw: sys.device, bw: "", peak: "", cap: "" } : { sys: "" });
    fillForm();
  });
  $("comm").addEventListener("change", () => setState({ comm: $("comm").value }));
  $("overlap").addEventListener("change", () => setState({ ov: $("overlap").checked ? "1" : "0" }));
}

export function useUpload(config, name) {
  app.upload = { config, name };
  setState({ cfg: b64encode(JSON.stringify(config)), cfgname: name, op: "" });
  fillForm();
}

export function fileStem() {
  const r = app.view?.report;
  const safe = (s) => String(s).replace(/[^A-Za-z0-9._-]+/g, "_");
  return r ? `llm-roofline_${safe(r.model.name)}_${safe(r.hardware.name)}_b${r.scenario.batch_size}` : "llm-roofline";
}

