// The page: state (in the URL) -> requests to the API -> graph, operator details, charts, tables.
import { post, requestBody } from "./api.js";
import { $ } from "./dom.js";
import { bindForm, fillForm, modelInfo } from "./form.js";
import { bindEfficiency, renderEfficiency } from "./efficiency.js";
import { drawLayer, drawModel } from "./graph.js";
import { renderMemory } from "./memory.js";
import { findHardware, findModel } from "./catalog.js";
import { addNotice, clearError, setStatus, showError, showNotice } from "./messages.js";
import { renderMetrics, renderSummary } from "./metrics.js";
import { renderLinks, renderOp, renderRoofline } from "./operator.js";
import { app, DEFAULTS, FORMAT_LABELS, FORMATS, OWN_FORMAT, onStateChange, select, selectedOp, setState, STAGE_NAMES, stageGraph,
  stageOps } from "./store.js";
import { fetchSweeps, renderSweeps } from "./sweeps.js";
import { bindOptimizations, fillOptimizations } from "./optimizations.js";
import { bindTechniques, fillTechniques, renderTechniqueNotes } from "./techniques.js";
import { renderTable } from "./table.js";
import { checkState, readUrl, writeUrl } from "./urlstate.js";

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
    if (app.checkOp) {
      app.checkOp = false;
      if (!stageOps().some((o) => o.name === app.state.op)) {
        addNotice(`op=${app.state.op.slice(0, 60)}: no such operator in this stage; showing the one that takes the most time`);
        setState({ op: "" }, { fetch: false });
      }
    }
    clearError();
    delete document.body.dataset.stale;
    render();
    setStatus(`${Math.round(performance.now() - t0)} ms`);
    document.body.dataset.ready = String(seq);
    document.body.dataset.loading = "";
    const sweeps = await fetchSweeps(body, view.report, controller.signal);
    if (seq !== app.seq) return;
    app.sweepBatch = sweeps.batch;
    app.sweepSeq = sweeps.seq;
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

function render() {
  if (!app.view) return;
  const r = app.view.report;
  renderSummary(r);
  renderEfficiency(r);
  renderMetrics(r);
  renderTechniqueNotes(r);
  renderGraph();
  renderOp();
  renderRoofline();
  renderMemory(r);
  renderTable();
  renderSweeps();
  renderLinks(r);
  modelInfo();
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
  fitGraph(container);
  container.scrollTop = scroll;
  for (const r of document.querySelectorAll('input[name="view"]')) r.checked = r.value === app.state.view;
}

// A graph wider than its panel takes the whole row (the operator panel moves below it) and is
// scaled down to at most MIN_GRAPH_SCALE (names stay >= ~10 px); beyond that the panel scrolls.
const MIN_GRAPH_SCALE = 0.9;

function fitGraph(container) {
  const svg = container.querySelector("svg");
  const row = container.closest(".row");
  if (!svg) return;
  const w = Number(svg.getAttribute("width")), h = Number(svg.getAttribute("height"));
  row.classList.remove("graph-wide");
  if (w * MIN_GRAPH_SCALE > container.clientWidth - 2) row.classList.add("graph-wide");
  const k = Math.max(MIN_GRAPH_SCALE, Math.min(1, (container.clientWidth - 2) / w));
  svg.setAttribute("width", Math.round(w * k));
  svg.setAttribute("height", Math.round(h * k));
  svg.dataset.scale = String(k);
}

function bindResize() {
  let resizeTimer = null;
  let lastWidth = window.innerWidth;
  window.addEventListener("resize", () => {
    if (window.innerWidth === lastWidth) return;
    lastWidth = window.innerWidth;
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(render, 120);
  });
}

// --- start ---------------------------------------------------------------------------------------
/** The page's defaults are the API's (GET /api/meta: llm_roofline.analyze's own defaults). */
function useApiDefaults(d, meta) {
  if (!d) return;
  const bits = (v) => String(v);
  Object.assign(DEFAULTS, { b: String(d.batch_size), p: String(d.prompt_len), g: String(d.gen_len),
    w: d.w_bits == null ? OWN_FORMAT : bits(d.w_bits),
    a: bits(d.a_bits), kv: bits(d.kv_bits), fa: d.flash_attention ? "1" : "0", eff: d.efficiency,
    eng: d.engine ?? meta.default_engine,
    tp: String(d.tp), pp: String(d.pp), ep: String(d.ep), adp: String(d.attention_dp), dp: String(d.dp) });
}

function describe(key, value) {
  if (["w", "a", "kv"].includes(key)) return FORMAT_LABELS[value] || value;
  return value === "" ? "none" : value;
}

async function start() {
  if (window.innerWidth < 760) $("controls-fold").open = false;
  const [models, hardware, meta, systems] = await Promise.all(["/api/models", "/api/hardware", "/api/meta",
    "/api/systems"].map((p) => fetch(p).then((r) => r.json())));
  app.models = models;
  app.hardware = hardware;
  app.systems = systems;
  app.meta = meta;
  useApiDefaults(meta.defaults, meta);
  const checked = checkState(readUrl(DEFAULTS), { defaults: DEFAULTS, formats: [...new Set(FORMATS.concat(meta.formats))],
    bits: meta.bits, limits: meta.limits, stages: STAGE_NAMES, views: ["layer", "model"], findModel, findHardware,
    systems: systems.map((x) => x.name), maxDegree: meta.max_degree,
    efficiency: { modes: meta.efficiency_modes, engines: meta.engines.map((e) => e.name),
      defaultEngine: meta.default_engine },
    query: new URLSearchParams(location.search), describe });
  app.state = checked.state;
  app.upload = checked.upload;
  app.checkOp = Boolean(app.state.op);  // the link's operator is checked against the first view
  showNotice(checked.problems);
  $("notice-close").addEventListener("click", () => showNotice([]));
  onStateChange(schedule, render);
  bindForm();
  bindEfficiency();
  bindTechniques();
  bindOptimizations();
  bindResize();
  fillForm();
  fillTechniques();
  fillOptimizations();
  writeUrl(app.state, DEFAULTS);
  refresh();
}

start();
