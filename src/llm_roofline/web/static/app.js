// The page: state (in the URL) -> requests to the API -> graph, operator details, charts, tables.
import { lineChart, rooflineChart } from "./charts.js";
import { int, intensity, pct, rate, secs, secsParts, si } from "./fmt.js";
import { drawLayer, drawModel } from "./graph.js";
import { deploymentText, linkChart, linkPoints } from "./parallel.js";

const $ = (id) => document.getElementById(id);
const FORMATS = ["16", "fp16", "bf16", "fp32", "fp8", "int8", "int4", "nf4", "fp4"];
// "16": 16-bit floats on the device's faster 16-bit path (fp16 or bf16); the named formats pin one.
const FORMAT_LABELS = { 16: "16-bit" };
const DEFAULTS = {
  model: "meta-llama/Llama-2-7b-hf", hw: "rtx-a6000", stage: "decode", b: "1", p: "1024", g: "256",
  w: "16", a: "16", kv: "16", fa: "0", eff: "ideal", view: "layer", op: "", bw: "", peak: "", cap: "",
  cfg: "", cfgname: "", tp: "1", pp: "1", ep: "1", adp: "1", dp: "1", sys: "", comm: "", ov: "0",
};
const DEGREES = [["tp", "tp"], ["pp", "pp"], ["ep", "ep"], ["adp", "adp"], ["dp", "dp"]]; // [input id, state key]
const KEYS = Object.keys(DEFAULTS);
const STAGE_NAMES = { prefill: "Prefill", decode: "Decode step", generation: "Whole generation" };

const app = {
  state: { ...DEFAULTS },
  models: [], hardware: [], systems: [], meta: null,
  upload: null, // {config, name}
  view: null, sweepBatch: null, sweepSeq: null,
  seq: 0, controller: null, timer: null,
};
window.__roofline = app; // for tests and the curious

// --- state <-> URL -----------------------------------------------------------------------------
function readUrl() {
  const q = new URLSearchParams(location.search);
  const s = { ...DEFAULTS };
  for (const k of KEYS) if (q.has(k)) s[k] = q.get(k);
  return s;
}

function writeUrl() {
  const q = new URLSearchParams();
  for (const k of KEYS) {
    const v = app.state[k];
    if (v !== DEFAULTS[k] && v !== "" && v !== null && v !== undefined) q.set(k, v);
  }
  const url = `${location.pathname}${q.toString() ? `?${q}` : ""}`;
  if (url !== `${location.pathname}${location.search}`) history.replaceState(null, "", url);
}

function b64encode(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function b64decode(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

// --- catalogs and matching ---------------------------------------------------------------------
const norm = (s) => String(s).toLowerCase().replace(/[-_\s.]/g, "");

function findModel(text) {
  const key = String(text).trim().toLowerCase();
  if (!key) return null;
  return app.models.find((m) => m.id.toLowerCase() === key || m.aliases.some((a) => a.toLowerCase() === key)
    || m.id.split("/").pop().toLowerCase() === key) || null;
}

function findHardware(text) {
  let key = norm(text);
  if (!key) return null;
  for (const prefix of ["nvidia", "amd", "intel", "google", "apple"]) {
    const hit = app.hardware.find((h) => norm(h.name) === key || h.aliases.some((a) => norm(a) === key));
    if (hit) return hit;
    if (key.startsWith(prefix)) key = key.slice(prefix.length);
  }
  return app.hardware.find((h) => norm(h.name) === key || h.aliases.some((a) => norm(a) === key)) || null;
}

function peak16(h) {
  const p = h.peak_flops_per_s;
  return Math.max(p.fp16 || 0, p.bf16 || 0) || Math.max(...Object.values(p));
}

// --- the form ----------------------------------------------------------------------------------
function fillForm() {
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
  for (const [id, key] of DEGREES) $(id).value = s[key];
  $("system").value = s.sys;
  $("comm").value = s.comm;
  $("overlap").checked = s.ov === "1";
  modelInfo();
  hwInfo();
}

function devices(s = app.state) {
  return ["tp", "pp", "adp", "dp"].reduce((n, k) => n * Math.max(1, Number(s[k]) || 1), 1);
}

function modelInfo() {
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

function setState(patch, { fetch = true } = {}) {
  Object.assign(app.state, patch);
  writeUrl();
  if (fetch) schedule(); else render();
}

function bindForm() {
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
  let resizeTimer = null;
  let lastWidth = window.innerWidth;
  window.addEventListener("resize", () => {
    if (window.innerWidth === lastWidth) return;
    lastWidth = window.innerWidth;
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(render, 120);
  });
}

function useUpload(config, name) {
  app.upload = { config, name };
  setState({ cfg: b64encode(JSON.stringify(config)), cfgname: name, op: "" });
  fillForm();
}

function fileStem() {
  const r = app.view?.report;
  const safe = (s) => String(s).replace(/[^A-Za-z0-9._-]+/g, "_");
  return r ? `llm-roofline_${safe(r.model.name)}_${safe(r.hardware.name)}_b${r.scenario.batch_size}` : "llm-roofline";
}

function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// --- requests ----------------------------------------------------------------------------------
function numberOrText(v) {
  return /^\d+$/.test(String(v).trim()) ? Number(v) : String(v).trim();
}

export function requestBody(state = app.state) {
  const s = state;
  const body = {
    batch_size: Number(s.b), prompt_len: Number(s.p), gen_len: Number(s.g),
    w_bits: numberOrText(s.w), a_bits: numberOrText(s.a), kv_bits: numberOrText(s.kv),
    flash_attention: s.fa === "1", efficiency: s.eff,
  };
  if (app.upload) { body.config = app.upload.config; body.config_name = app.upload.name; } else body.model = s.model;
  body.hardware = s.sys && devices(s) > 1 ? s.sys : s.hw;
  for (const [key, field] of [["tp", "tp"], ["pp", "pp"], ["ep", "ep"], ["adp", "attention_dp"], ["dp", "dp"]]) {
    if (String(s[key]) !== "1") body[field] = Number(s[key]);
  }
  if (s.comm) body.comm = s.comm;
  if (s.ov === "1") body.overlap = true;
  if (s.bw) body.memory_bandwidth_bytes_per_s = Number(s.bw) * 1e9;
  if (s.peak) body.peak_flops_per_s = Number(s.peak) * 1e12;
  if (s.cap) body.memory_capacity_bytes = Number(s.cap) * 1e9;
  return body;
}

function sweepValues(current, base) {
  return [...new Set(base.concat([current]).filter((v) => Number.isFinite(v) && v >= 1))].sort((a, b) => a - b);
}
const BATCHES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024];
const LENGTHS = [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072];

async function post(path, body, signal) {
  const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify(body), signal });
  const data = await res.json();
  if (!res.ok) {
    const err = new Error(data.detail || `${res.status}`);
    err.field = data.field;
    throw err;
  }
  return data;
}

function schedule() {
  clearTimeout(app.timer);
  app.timer = setTimeout(refresh, 90);
}

async function refresh() {
  const seq = ++app.seq;
  if (app.controller) app.controller.abort();
  const controller = new AbortController();
  app.controller = controller;
  const body = requestBody();
  const t0 = performance.now();
  setStatus("updating…");
  document.body.dataset.loading = "1";
  try {
    const view = await post("/api/view", body, controller.signal);
    if (seq !== app.seq) return;
    app.view = view;
    clearError();
    delete document.body.dataset.stale;
    render();
    setStatus(`${Math.round(performance.now() - t0)} ms`);
    document.body.dataset.ready = String(seq);
    document.body.dataset.loading = "";
    const batches = sweepValues(Number(body.batch_size), BATCHES);
    const lengths = sweepValues(Number(body.prompt_len), LENGTHS);
    const [sb, ss] = await Promise.allSettled([
      post("/api/sweep", { ...body, batch_size: batches }, controller.signal),
      post("/api/sweep", { ...body, prompt_len: lengths }, controller.signal),
    ]);
    if (seq !== app.seq) return;
    app.sweepBatch = sb.status === "fulfilled" ? sb.value : null;
    app.sweepSeq = ss.status === "fulfilled" ? ss.value : null;
    renderSweeps();
    document.body.dataset.sweeps = String(seq);
  } catch (err) {
    if (err.name === "AbortError" || seq !== app.seq) return;
    showError(err.message, err.field);
    setStatus("");
    document.body.dataset.loading = "";
    document.body.dataset.error = String(seq);
    document.body.dataset.stale = "1";
  }
}

function setStatus(text) { $("status").textContent = text; }

const FIELD_INPUTS = { batch_size: "batch", prompt_len: "prompt", gen_len: "gen", model: "model", config: "model",
  hardware: "hardware", w_bits: "w-bits", a_bits: "a-bits", kv_bits: "kv-bits",
  memory_bandwidth_bytes_per_s: "hw-bw", peak_flops_per_s: "hw-peak", memory_capacity_bytes: "hw-cap",
  tp: "tp", pp: "pp", ep: "ep", attention_dp: "adp", dp: "dp" };

function showError(message, field) {
  const el = $("error");
  el.textContent = message;
  el.hidden = false;
  for (const id of Object.values(FIELD_INPUTS)) $(id).classList.remove("invalid");
  if (field && FIELD_INPUTS[field]) $(FIELD_INPUTS[field]).classList.add("invalid");
  $("controls-fold").open = true;
}

function clearError() {
  $("error").hidden = true;
  for (const id of Object.values(FIELD_INPUTS)) $(id).classList.remove("invalid");
}

// --- rendering ---------------------------------------------------------------------------------
function stageOps() {
  const v = app.view;
  if (!v) return [];
  if (app.state.stage === "prefill") return v.report.prefill.ops;
  if (app.state.stage === "generation") return v.generation_ops;
  return v.report.decode.ops;
}

function stageGraph() {
  return app.state.stage === "prefill" ? app.view.graph.prefill : app.view.graph.decode;
}

function selectedOp(ops) {
  const name = app.state.op;
  const hit = ops.find((o) => o.name === name);
  if (hit) return hit;
  return [...ops].sort((a, b) => b.time_share - a.time_share)[0];
}

function select(name) {
  setState({ op: name }, { fetch: false });
}

function render() {
  if (!app.view) return;
  const r = app.view.report;
  renderSummary(r);
  renderMetrics(r);
  renderGraph();
  renderOp();
  renderRoofline();
  renderMemory(r);
  renderTable();
  renderSweeps();
  renderLinks(r);
  modelInfo();
}

function renderLinks(r) {
  $("par-info").textContent = deploymentText(r);
  const p = r.parallelism;
  const panel = $("link-panel");
  panel.hidden = p.devices === 1;
  if (p.devices === 1) return;
  const ops = stageOps();
  const sel = selectedOp(ops);
  $("link-title").textContent = `Link roofline: communication operators · ${STAGE_NAMES[app.state.stage]}`;
  $("link-note").textContent = `${p.system.scale_up.name}; dashed: ideal ring all-reduce over ${p.tp}`;
  linkChart($("link-roofline"), { points: linkPoints(ops), link: p.system.scale_up, tp: p.tp, selected: sel?.name,
    onSelect: select });
}

function renderSummary(r) {
  const s = r.scenario;
  const fmt = (bits, fam) => (fam === "bf16" ? "bf16" : fam === "float" && bits === 16 ? "16-bit"
    : `${fam === "int" ? "int" : fam === "tf32" ? "tf" : "fp"}${bits}`);
  const par = r.parallelism;
  const where = par.devices > 1 ? `${int(par.devices)} × ${esc(r.hardware.name)} (${esc(par.system.name)})`
    : esc(r.hardware.name);
  const text = `<b>${esc(r.model.name)}</b> on <b>${where}</b> · batch ${int(s.batch_size)} · ` +
    `prompt ${int(s.prompt_len)} · generate ${int(s.gen_len)} · W ${fmt(s.w_bits, s.w_family)} · ` +
    `A ${fmt(s.a_bits, s.a_family)} · KV ${fmt(s.kv_bits, s.kv_family)}${s.flash_attention ? " · FlashAttention" : ""}`;
  $("summary").innerHTML = text;
  $("fold-hint").textContent = `${r.model.name.split("/").pop()} · ${r.hardware.name} · b${s.batch_size} · p${s.prompt_len}`;
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function metric(key, value, unit, sub, raw) {
  return `<div class="metric" data-metric="${key}" data-value="${raw ?? ""}"><div class="k">${key}</div>` +
    `<div class="v"><span class="num">${value}</span><small>${unit}</small></div><div class="s">${sub}</div></div>`;
}

function renderMetrics(r) {
  const g = r.generation, m = r.memory;
  const [ttft, ttftU] = secsParts(g.ttft_s);
  const [tpot, tpotU] = secsParts(g.tpot_s);
  const [e2e, e2eU] = secsParts(g.e2e_s);
  const tput = g.throughput_tokens_per_s;
  const fits = m.fits ? '<span class="fitbadge ok">fits</span>' : '<span class="fitbadge bad">DOES NOT FIT</span>';
  const memText = `${si(m.total_bytes, "B")} <small>of ${si(m.capacity_bytes, "B")}</small>`;
  $("metrics").innerHTML =
    metric("TTFT", ttft, ttftU, `prefill, ${int(g.prompt_len)} tokens`, g.ttft_s) +
    metric("TPOT", g.tpot_s === null ? "–" : tpot, g.tpot_s === null ? "" : tpotU,
      g.gen_len ? `mean of ${int(g.gen_len)} steps` : "no tokens generated", g.tpot_s) +
    metric("End-to-end", e2e, e2eU, `TTFT + ${int(g.gen_len)} steps`, g.e2e_s) +
    metric("Throughput", tput === null ? "–" : rate(tput), tput === null ? "" : "tok/s",
      tput === null ? "set generated tokens" : r.parallelism.devices > 1
        ? `${rate(g.throughput_tokens_per_s_per_device)} tok/s per device × ${int(r.parallelism.devices)}`
        : `${int(g.batch_size * g.gen_len)} tokens / e2e`, tput) +
    `<div class="metric mem" data-metric="Memory" data-value="${m.total_bytes}" data-fits="${m.fits}">` +
    `<div class="k">Memory${r.parallelism.devices > 1 ? " per device" : ""} ${fits}</div><div class="v">${memText}</div>` +
    `<div class="s">largest batch that fits: <b>${int(m.max_batch_size)}</b></div></div>`;
}

function renderGraph() {
  const v = app.view;
  const ops = stageOps();
  const byName = new Map(ops.map((o) => [o.name, o]));
  const sel = selectedOp(ops);
  const graph = stageGraph();
  const meta = { layer_kinds: v.graph.layer_kinds, experts_prefix: v.graph.experts_prefix,
    shared_experts_prefix: v.graph.shared_experts_prefix, num_layers: v.graph.num_layers };
  const container = $("graph");
  const scroll = container.scrollTop;
  if (app.state.view === "model") {
    $("graph-title").textContent = `Whole model · ${STAGE_NAMES[app.state.stage]}`;
    drawModel(container, { graph, meta, ops: byName, selected: sel?.name, onSelect: select,
      onOpenLayer: () => setState({ view: "layer" }, { fetch: false }) });
  } else {
    const kinds = v.graph.layer_kinds.length > 1 ? ` (union of ${v.graph.layer_kinds.length} layer kinds)` : "";
    $("graph-title").textContent = `Decoder layer × ${v.graph.num_layers}${kinds} · ${STAGE_NAMES[app.state.stage]}`;
    drawLayer(container, { graph, meta, ops: byName, selected: sel?.name, onSelect: select });
  }
  // Fit wide graphs to the panel (down to 70 %), scroll beyond that.
  const svg = container.querySelector("svg");
  if (svg) {
    const w = Number(svg.getAttribute("width")), h = Number(svg.getAttribute("height"));
    const avail = container.clientWidth - 2;
    const k = Math.max(0.7, Math.min(1, avail / w));
    svg.setAttribute("width", Math.round(w * k));
    svg.setAttribute("height", Math.round(h * k));
  }
  container.scrollTop = scroll;
  for (const r of document.querySelectorAll('input[name="view"]')) r.checked = r.value === app.state.view;
}

function peaksOf(report) {
  return Object.entries(report.hardware.effective_peak_flops_per_s).map(([name, value]) => ({ name, value }));
}

function rooflineInputs(ops) {
  const r = app.view.report;
  const bw = r.hardware.effective_bandwidth_bytes_per_s;
  const opPeak = new Map(r.decode.ops.concat(r.prefill.ops).map((o) => [o.name, o.peak_flops_per_s]));
  const points = ops.map((o) => ({ name: o.name, intensity: o.arithmetic_intensity, perf: o.performance_flops_per_s,
    bound: o.bound, share: o.time_share, peak: o.peak_flops_per_s ?? opPeak.get(o.name) }));
  // The ceilings that apply: the distinct peaks the operators use, named by the device's precisions.
  const devicePeaks = peaksOf(r);
  const used = new Map();
  for (const p of points) {
    if (!p.peak || !(p.intensity > 0)) continue;
    used.set(p.peak, (used.get(p.peak) || 0) + (p.share || 0));
  }
  if (!used.size) used.set(Math.max(...devicePeaks.map((p) => p.value)), 1);
  const main = [...used.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const peaks = [...used.keys()].map((value) => {
    const names = devicePeaks.filter((p) => Math.abs(p.value - value) <= 1e-9 * value).map((p) => p.name);
    return { value, name: names.length ? names.slice(0, 2).join("/") : "peak", main: value === main };
  });
  return { points, bw, peaks };
}

function renderOp() {
  const ops = stageOps();
  const op = selectedOp(ops);
  const panel = $("op-details");
  if (!op) { panel.replaceChildren(); return; }
  const stage = app.state.stage;
  const { points, bw, peaks } = rooflineInputs(ops);
  const point = points.find((p) => p.name === op.name);
  const peak = point?.peak;
  const attainable = op.attainable_flops_per_s ?? null;  // none for whole-generation sums
  $("op-title").textContent = op.name;
  $("op-bound").textContent = `${op.bound}-bound`;
  $("op-bound").className = `badge ${op.bound}`;
  const total = op.time_s * op.count;
  const rows = [
    ["FLOPs", si(op.flops, "FLOP")],
    ["Bytes (memory traffic)", si(op.bytes, "B")],
    ["weights", si(op.weight_bytes, "B"), true],
    ["activations read", si(op.act_read_bytes, "B"), true],
    ["activations written", si(op.act_write_bytes, "B"), true],
    ["KV cache read", si(op.kv_read_bytes, "B"), true],
    ["KV cache written", si(op.kv_write_bytes, "B"), true],
    ["Arithmetic intensity", `${intensity(op.arithmetic_intensity)} FLOP/B`],
    ["Attainable (roofline)", attainable === null ? "–" : si(attainable, "FLOP/s")],
    ["Attained (FLOPs / time)", si(op.performance_flops_per_s, "FLOP/s")],
    ["Compute ceiling", peak ? si(peak, "FLOP/s") : "–"],
    ["Bound", op.bound],
    ["Time per occurrence", secs(op.time_s)],
  ];
  if (stage === "generation") {
    rows.push(["prefill", secs(op.prefill_time_s), true], [`${int(app.view.report.generation.gen_len)} decode steps`,
      secs(op.decode_time_s), true]);
  }
  if (op.link_bytes) {
    rows.splice(2, 0, ["Bytes on the link", si(op.link_bytes, "B")], ["Link time (collective)", secs(op.link_time_s)]);
  }
  rows.push([`× ${op.count} occurrence${op.count > 1 ? "s" : ""}`, secs(total)],
    [`Share of ${stage === "generation" ? "end-to-end" : "the stage"}`, pct(op.time_share)]);
  const sub = `${op.kind} · ${STAGE_NAMES[stage]}${stage === "generation" ? " (prefill + all decode steps)" : ""}` +
    ` · numbers per occurrence`;
  panel.innerHTML = `<p class="op-sub">${esc(sub)}</p><table class="kv" id="op-table"><tbody>${rows.map(([k, v, s]) =>
    `<tr class="${s ? "sub" : ""}" data-key="${esc(k)}"><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("")}</tbody></table>`;
  const p = app.view.report.parallelism;
  if (op.link_bytes && p.devices > 1) {
    linkChart($("op-roofline"), { points: linkPoints(ops), link: p.system.scale_up, tp: p.tp, selected: op.name,
      caption: `${op.name} on the link roofline`, height: (W) => Math.min(250, Math.max(190, W * 0.58)) });
    return;
  }
  rooflineChart($("op-roofline"), { ops: points, bandwidth: bw, peaks, focus: op.name, selected: op.name,
    caption: `${op.name} on the roofline`, height: (W) => Math.min(250, Math.max(190, W * 0.58)) });
}

function renderRoofline() {
  const ops = stageOps();
  const sel = selectedOp(ops);
  const { points, bw, peaks } = rooflineInputs(ops);
  $("roofline-title").textContent = `Roofline: every operator · ${STAGE_NAMES[app.state.stage]}`;
  rooflineChart($("roofline"), { ops: points, bandwidth: bw, peaks, selected: sel?.name, onSelect: select });
}

function renderMemory(r) {
  const m = r.memory, s = r.scenario;
  const top = Math.max(m.total_bytes, m.capacity_bytes);
  const w = (v) => `${(100 * v / top).toFixed(3)}%`;
  const over = m.total_bytes > m.capacity_bytes;
  const rows = [
    ["c-weights", "Weights", m.weights_bytes, `${si(r.model.params_total)} parameters`],
    ["c-kv", "KV cache", m.kv_cache_bytes, `${int(s.batch_size)} sequences after ${int(s.prompt_len + s.gen_len)} tokens`],
    ["c-act", "Activations (peak)", m.activations_bytes, "largest single operator"],
  ];
  $("memory").innerHTML =
    `<div class="membar" title="memory use against capacity">${rows.map(([c, , v]) => `<i class="${c}" data-w="${w(v)}"></i>`).join("")}` +
    `<span class="cap" data-left="${w(m.capacity_bytes)}" title="capacity"></span></div>` +
    `<table class="kv"><tbody>${rows.map(([c, k, v, note]) =>
      `<tr><td><i class="sw ${c}"></i> ${k} <small>${note}</small></td><td>${si(v, "B")}</td></tr>`).join("")}` +
    `<tr><td><b>Total</b></td><td>${si(m.total_bytes, "B")}</td></tr>` +
    `<tr><td>Capacity (${esc(r.hardware.name)})</td><td>${si(m.capacity_bytes, "B")}</td></tr>` +
    `<tr><td>${over ? "Over by" : "Free"}</td><td>${si(Math.abs(m.capacity_bytes - m.total_bytes), "B")}</td></tr>` +
    `<tr><td>Largest batch that fits</td><td>${int(m.max_batch_size)}</td></tr></tbody></table>` +
    `<p class="${over ? "error" : "hint"}" id="fit-line">${over
      ? `<b>Does not fit:</b> needs ${si(m.total_bytes, "B")}, the device has ${si(m.capacity_bytes, "B")}. ` +
        (m.max_batch_size > 0 ? `A batch of ${int(m.max_batch_size)} fits.` : "Not even a batch of 1 fits.")
      : `Fits, with ${pct(1 - m.total_bytes / m.capacity_bytes, 0)} of memory left.`}</p>`;
  applySizes($("memory"));
}

// Sizes set through the CSSOM (the Content-Security-Policy allows no inline style attributes).
function applySizes(root) {
  for (const el of root.querySelectorAll("[data-w]")) el.style.width = el.dataset.w;
  for (const el of root.querySelectorAll("[data-left]")) el.style.left = `calc(${el.dataset.left} - 1px)`;
}

function renderTable() {
  const ops = stageOps();
  const sel = selectedOp(ops);
  const stage = app.state.stage;
  $("table-title").textContent = `Operators · ${STAGE_NAMES[stage]}`;
  const maxShare = Math.max(1e-12, ...ops.map((o) => o.time_share));
  const head = ["operator", "count", "FLOPs", "bytes", "weights", "act.", "KV", "FLOP/B", "FLOP/s", "bound", "time",
    "share"];
  const body = ops.map((o) => `<tr data-op="${esc(o.name)}" class="${o.name === sel?.name ? "selected" : ""}">` +
    `<td>${esc(o.name)}</td><td>${o.count}</td><td>${si(o.flops)}</td><td>${si(o.bytes, "B")}</td>` +
    `<td>${si(o.weight_bytes, "B")}</td><td>${si(o.activation_bytes, "B")}</td><td>${si(o.kv_cache_bytes, "B")}</td>` +
    `<td>${intensity(o.arithmetic_intensity)}</td><td>${si(o.performance_flops_per_s)}</td>` +
    `<td class="b-${o.bound}">${o.bound}</td><td>${secs(o.time_s)}</td>` +
    `<td><span class="sharebar" data-w="${(40 * o.time_share / maxShare).toFixed(1)}px"></span>${pct(o.time_share)}</td></tr>`).join("");
  const r = app.view.report;
  const t = stage === "prefill" ? r.prefill.total : stage === "decode" ? r.decode.total : null;
  const tot = t ? `<tr class="total"><td>total (× count)</td><td></td><td>${si(t.flops)}</td><td>${si(t.bytes, "B")}</td>` +
    `<td>${si(t.weight_bytes, "B")}</td><td>${si(t.activation_bytes, "B")}</td><td>${si(t.kv_cache_bytes, "B")}</td>` +
    `<td>${t.bytes ? intensity(t.arithmetic_intensity) : "–"}</td>` +
    `<td>${t.time_s ? si(t.performance_flops_per_s) : "–"}</td>` +
    `<td></td><td>${secs(t.time_s)}</td><td>100%</td></tr>`
    : `<tr class="total"><td>end-to-end</td><td colspan="9"></td><td>${secs(r.generation.e2e_s)}</td><td>100%</td></tr>`;
  const table = $("ops-table");
  table.innerHTML = `<thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${body}${tot}</tbody>`;
  applySizes(table);
  for (const tr of table.querySelectorAll("tbody tr[data-op]")) tr.addEventListener("click", () => select(tr.dataset.op));
}

// Memory charts show up to 2.5 x the capacity (or the current use), so the capacity line stays readable.
function memTop(r) {
  return Math.max(2.5 * r.memory.capacity_bytes, 1.3 * r.memory.total_bytes);
}

const C = { ttft: "#1f4fd1", tpot: "#ea580c", e2e: "#64748b", tput: "#0f766e" };

function renderSweeps() {
  const r = app.view?.report;
  if (!r) return;
  const b = app.sweepBatch, s = app.sweepSeq;
  const cap = r.memory.capacity_bytes;
  const msFmt = (v) => secs(v, 2);
  const noGen = r.scenario.gen_len === 0 ? "set generated tokens > 0" : "no data";
  if (b) {
    const c = b.columns;
    const maxFit = r.memory.max_batch_size;
    const firstOver = c.batch_size.find((v, i) => !c.fits[i]);  // the sweep's own verdict
    const marks = [{ x: r.scenario.batch_size, label: `batch ${r.scenario.batch_size}` }];
    lineChart($("sw-lat-batch"), { caption: "Latency vs batch size", x: c.batch_size, ylog: true, yFmt: msFmt,
      xLabel: "batch size", series: [{ name: "TTFT", values: c.ttft_s, color: C.ttft },
        { name: "TPOT", values: c.tpot_s, color: C.tpot }], vlines: marks, overFrom: firstOver ?? null });
    lineChart($("sw-tput-batch"), { caption: "Throughput vs batch size", x: c.batch_size, ylog: true,
      yFmt: (v) => si(v), xLabel: "batch size", yLabel: "tokens/s", empty: noGen,
      series: [{ name: "generated tokens/s", values: c.throughput_tokens_per_s, color: C.tput }],
      vlines: marks.concat(maxFit >= 1 && maxFit <= Math.max(...c.batch_size) ? [{ x: maxFit, label: `fits ≤ ${int(maxFit)}`, cls: "capline" }] : []),
      overFrom: firstOver ?? null });
    lineChart($("sw-mem-batch"), { caption: "Memory vs batch size", x: c.batch_size, stacked: true, yFmt: (v) => si(v, "B"),
      xLabel: "batch size", series: [{ name: "weights", values: c.weights_bytes, color: "#334155" },
        { name: "KV cache", values: c.kv_cache_bytes, color: "#0ea5e9" },
        { name: "activations", values: c.activations_bytes, color: "#a3e635" }],
      hlines: [{ y: cap, label: `capacity ${si(cap, "B")}` }], vlines: marks, yMax: memTop(r) });
  }
  if (s) {
    const c = s.columns;
    const firstOver = c.prompt_len.find((v, i) => !c.fits[i]);
    const marks = [{ x: r.scenario.prompt_len, label: `prompt ${int(r.scenario.prompt_len)}` }];
    lineChart($("sw-lat-seq"), { caption: "Latency vs prompt length", x: c.prompt_len, ylog: true, yFmt: msFmt,
      xLabel: "prompt tokens", series: [{ name: "TTFT", values: c.ttft_s, color: C.ttft },
        { name: "TPOT", values: c.tpot_s, color: C.tpot }], vlines: marks, overFrom: firstOver ?? null });
    lineChart($("sw-tput-seq"), { caption: "Throughput vs prompt length", x: c.prompt_len, ylog: true,
      yFmt: (v) => si(v), xLabel: "prompt tokens", yLabel: "tokens/s", empty: noGen,
      series: [{ name: "generated tokens/s", values: c.throughput_tokens_per_s, color: C.tput }], vlines: marks,
      overFrom: firstOver ?? null });
    lineChart($("sw-mem-seq"), { caption: "Memory vs prompt length", x: c.prompt_len, stacked: true, yFmt: (v) => si(v, "B"),
      xLabel: "prompt tokens", series: [{ name: "weights", values: c.weights_bytes, color: "#334155" },
        { name: "KV cache", values: c.kv_cache_bytes, color: "#0ea5e9" },
        { name: "activations", values: c.activations_bytes, color: "#a3e635" }],
      hlines: [{ y: cap, label: `capacity ${si(cap, "B")}` }], vlines: marks, yMax: memTop(r) });
  }
  $("sweep-note").textContent = `${r.model.name.split("/").pop()} on ${r.hardware.name}; generated tokens ${int(r.scenario.gen_len)}` +
    "; red shading: does not fit in memory";
}

// --- start ---------------------------------------------------------------------------------------
async function start() {
  app.state = readUrl();
  if (window.innerWidth < 760) $("controls-fold").open = false;
  const [models, hardware, meta, systems] = await Promise.all(["/api/models", "/api/hardware", "/api/meta",
    "/api/systems"].map((p) => fetch(p).then((r) => r.json())));
  app.models = models;
  app.hardware = hardware;
  app.systems = systems;
  app.meta = meta;
  if (app.state.cfg) {
    try {
      app.upload = { config: JSON.parse(b64decode(app.state.cfg)), name: app.state.cfgname || "uploaded model" };
    } catch {
      app.upload = null;
      app.state.cfg = "";
      showError("the link's uploaded config could not be read; showing the catalog model", "model");
    }
  }
  bindForm();
  fillForm();
  writeUrl();
  refresh();
}

start();
