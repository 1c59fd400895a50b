// The efficiency setting: its controls (mode and, under calibrated, the engine profile, both as the API
// offers them), the line that says which efficiency the report assumes and where its curves come from,
// and each operator's factors (roofline time, efficiency, fixed time, provenance).
import { $, esc } from "./dom.js";
import { pct, secs } from "./fmt.js";
import { app, setState } from "./store.js";
import { MODE_LABELS, reportMode } from "./efficiency_state.js";

const engines = () => app.meta?.engines || [];

function option(value, text, title = "") {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  if (title) o.title = title;
  return o;
}

export function bindEfficiency() {
  const modes = app.meta?.efficiency_modes || Object.keys(MODE_LABELS);
  $("efficiency").replaceChildren(...modes.map((m) => option(m, MODE_LABELS[m] || m)));
  $("engine").replaceChildren(...engines().map((e) => option(e.name,
    e.name === app.meta.default_engine ? `${e.name} (default)` : e.name, e.notes)));
  $("efficiency").addEventListener("change", () => {
    const eff = $("efficiency").value;
    // The engine belongs to calibrated: leaving it returns the engine to its default (the link drops it).
    setState(eff === "calibrated" ? { eff } : { eff, eng: app.meta.default_engine });
    fillEfficiency();
  });
  $("engine").addEventListener("change", () => { setState({ eng: $("engine").value }); fillEfficiency(); });
}

/** What an engine profile assumes, in one line (its notes and how it launches kernels). */
function engineText(e) {
  const launch = e.cuda_graphs ? "CUDA graphs" : `eager: ${secs(e.launch_overhead_s)} host launch per kernel`;
  const step = e.step_overhead_s > 0 ? ` · ${secs(e.step_overhead_s)} host time per step` : "";
  return `${e.notes} · ${launch}${step}`;
}

export function fillEfficiency() {
  const s = app.state;
  $("efficiency").value = s.eff;
  $("engine").value = s.eng;
  const calibrated = s.eff === "calibrated";
  $("engine-field").hidden = !calibrated;
  const e = engines().find((x) => x.name === s.eng);
  $("eff-info").textContent = calibrated && e ? engineText(e)
    : s.eff === "hardware" ? "The device entry's measured fractions of its peaks and bandwidth."
      : s.eff === "ideal" ? "Datasheet peaks and bandwidth, no overheads: an upper bound on speed." : "";
}

/** The efficiency a report assumes, in words: [short tag, full sentence (HTML)]. */
export function efficiencyWords(r) {
  const e = r.hardware.efficiency;
  const mode = reportMode(r, app.state.eff);
  if (mode === "calibrated") {
    const launch = e.cuda_graphs ? "CUDA graphs" : `no CUDA graphs, ${secs(e.launch_overhead_s)} host launch per kernel`;
    const step = e.step_overhead_s > 0 ? `, ${secs(e.step_overhead_s)} host time per step` : "";
    return [`calibrated (${e.engine}, ${e.curves_from} curves)`,
      `<b>Calibrated efficiency</b>: engine <b>${esc(e.engine)}</b> (kernel tables: ${esc(e.kernels)}; ${launch}${step}) · ` +
      `curves of <b>${esc(e.curves_from)}</b>, ${esc(e.curves)} · per operator, time = roofline time / efficiency + ` +
      "fixed time; the roofline stays the bound (click an operator for its factors and their source)"];
  }
  if (mode === "hardware") {
    return ["measured fractions", `<b>Measured efficiency</b> of ${esc(r.hardware.name)}: compute ` +
      `${pct(e.compute_fraction, 0)} of its peaks, bandwidth ${pct(e.bandwidth_fraction, 0)}, ` +
      `${secs(e.kernel_overhead_s)} per kernel`];
  }
  return ["ideal roofline", "<b>Ideal roofline</b> (the paper's): datasheet peaks and bandwidth, no overheads, " +
    "an upper bound on speed"];
}

export function renderEfficiency(r) {
  const [tag, sentence] = efficiencyWords(r);
  const line = $("eff-line");
  line.innerHTML = sentence;
  line.dataset.mode = reportMode(r, app.state.eff);
  line.title = tag;
}

/** The operator's efficiency factors as rows of its table (none under the ideal roofline). */
export function efficiencyRows(op, r) {
  if (reportMode(r, app.state.eff) === "ideal" || op.roofline_time_s === undefined) return [];
  return [["Roofline time", secs(op.roofline_time_s)], ["Efficiency (of the roofline)", pct(op.efficiency)],
    ["Fixed time", secs(op.fixed_time_s)]];
}

/** Where the operator's efficiency comes from (its provenance), per stage for the whole generation. */
export function provenanceHtml(op, r, stage) {
  if (reportMode(r, app.state.eff) === "ideal") return "";
  const item = (label, text) => `<li><b>${esc(label)}</b>: <span class="source">${esc(text)}</span></li>`;
  let items = "";
  if (op.efficiency_source !== undefined) {
    items = item("Efficiency source", op.efficiency_source);
  } else if (stage === "generation") {  // the whole generation: the prefill's and the decode step's own
    for (const [label, ops] of [["Prefill", r.prefill.ops], ["Decode steps", r.decode.ops]]) {
      const hit = ops.find((o) => o.name === op.name);
      if (hit) items += item(`${label}: efficiency source`, hit.efficiency_source);
    }
  }
  return items ? `<ul class="op-source" id="op-source">${items}</ul>` : "";
}
