// The controls: fill them from the state, and turn the user's edits into state changes.
import { requestBody } from "./api.js";
import { findHardware, findModel, peak16 } from "./catalog.js";
import { $, download } from "./dom.js";
import { si } from "./fmt.js";
import { setStatus, showError } from "./messages.js";
import { app, DEFAULTS, FORMAT_LABELS, FORMATS, setState } from "./store.js";
import { b64encode } from "./urlstate.js";

export function fillForm() {
  const s = app.state;
  const m = findModel(s.model);
  $("model").value = app.upload ? "" : (m ? m.id : s.model);
  $("model").placeholder = app.upload ? `uploaded: ${app.upload.name}` : "e.g. llama-2-7b";
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
  $("w-bits").value = s.w;
  $("a-bits").value = s.a;
  $("kv-bits").value = s.kv;
  $("flash").checked = s.fa === "1";
  $("efficiency").value = s.eff;
  modelInfo();
  hwInfo();
}

export function modelInfo() {
  const m = app.upload ? null : findModel(app.state.model);
  const r = app.view?.report;
  let text = "";
  if (app.upload) text = `Uploaded config.json: ${app.upload.name}`;
  else if (m) text = m.description || m.family;
  if (r) text += `${text ? " · " : ""}${si(r.model.params_total)} params, ${r.model.num_layers} layers`;
  $("model-info").textContent = text;
}

function hwInfo() {
  const h = findHardware(app.state.hw);
  if (!h) { $("hw-info").textContent = ""; return; }
  $("hw-info").textContent = `${si(h.memory_bandwidth_bytes_per_s, "B/s")} · ${si(h.memory_capacity_bytes, "B")} · ` +
    `${si(peak16(h), "FLOP/s")} (16-bit)`;
}


export function bindForm() {
  const opts = FORMATS.map((f) => `<option value="${f}">${FORMAT_LABELS[f] || f}</option>`).join("");
  for (const id of ["w-bits", "a-bits", "kv-bits"]) $(id).innerHTML = opts;
  $("model-list").replaceChildren(...app.models.map((m) => {
    const o = document.createElement("option");
    o.value = m.id;
    o.label = [m.aliases.join(", "), m.description].filter(Boolean).join(" · ");
    return o;
  }));
  $("hardware-list").replaceChildren(...app.hardware.map((h) => {
    const o = document.createElement("option");
    o.value = h.name;
    o.label = `${h.vendor} · ${si(h.memory_bandwidth_bytes_per_s, "B/s")} · ${si(h.memory_capacity_bytes, "B")}` +
      (h.aliases.length ? ` · ${h.aliases.slice(0, 3).join(", ")}` : "");
    return o;
  }));

  const pickModel = (commit) => {
    const el = $("model");
    const m = findModel(el.value);
    el.classList.toggle("invalid", commit && !m && el.value.trim() !== "");
    if (m && (m.id !== app.state.model || app.upload)) {
      app.upload = null;
      el.value = m.id;
      setState({ model: m.id, cfg: "", cfgname: "", op: "" });
      fillForm();
    } else if (commit && !m && el.value.trim()) {
      showError(`model: '${el.value.trim()}' is not in the catalog; pick one from the list or upload a config.json`, "model");
    }
  };
  $("model").addEventListener("input", () => pickModel(false));
  $("model").addEventListener("change", () => pickModel(true));

  const pickHardware = (commit) => {
    const el = $("hardware");
    const h = findHardware(el.value);
    el.classList.toggle("invalid", commit && !h && el.value.trim() !== "");
    if (h && h.name !== app.state.hw) {
      el.value = h.name;
      setState({ hw: h.name, bw: "", peak: "", cap: "" });
      fillForm();
    } else if (commit && !h && el.value.trim()) {
      showError(`hardware: '${el.value.trim()}' is not in the catalog; pick one from the list`, "hardware");
    }
  };
  $("hardware").addEventListener("input", () => pickHardware(false));
  $("hardware").addEventListener("change", () => pickHardware(true));

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
  $("efficiency").addEventListener("change", () => setState({ eff: $("efficiency").value }));
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

