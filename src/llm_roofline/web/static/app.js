// The page: state (in the URL) -> requests to the API -> graph, operator details, charts, tables.
import { BATCHES, LENGTHS, post, requestBody, sweepValues } from "./api.js";
import { $ } from "./dom.js";
import { bindForm, fillForm, modelInfo } from "./form.js";
import { drawLayer, drawModel } from "./graph.js";
import { renderMemory } from "./memory.js";
import { clearError, setStatus, showError } from "./messages.js";
import { renderMetrics, renderSummary } from "./metrics.js";
import { renderOp, renderRoofline } from "./operator.js";
import { app, DEFAULTS, onStateChange, select, selectedOp, setState, STAGE_NAMES, stageGraph, stageOps } from "./store.js";
import { renderSweeps } from "./sweeps.js";
import { renderTable } from "./table.js";
import { b64decode, readUrl, writeUrl } from "./urlstate.js";

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
async function start() {
  app.state = readUrl(DEFAULTS);
  if (window.innerWidth < 760) $("controls-fold").open = false;
  const [models, hardware, meta] = await Promise.all(["/api/models", "/api/hardware", "/api/meta"].map(
    (p) => fetch(p).then((r) => r.json())));
  app.models = models;
  app.hardware = hardware;
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
  onStateChange(schedule, render);
  bindForm();
  bindResize();
  fillForm();
  writeUrl(app.state, DEFAULTS);
  refresh();
}

start();
