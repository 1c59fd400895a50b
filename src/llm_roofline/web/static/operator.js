// The selected operator's numbers and roofline, and the roofline of every operator of the stage.
import { deploymentText, linkChart, linkPoints } from "./parallel.js";
import { rooflineChart } from "./roofline.js";
import { $, esc } from "./dom.js";
import { int, intensity, pct, secs, si } from "./fmt.js";
import { app, select, selectedOp, STAGE_NAMES, stageOps } from "./store.js";

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

export function renderOp() {
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

/** The Devices note and, with several devices, the link roofline of the stage's communication operators. */
export function renderLinks(r) {
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

export function renderRoofline() {
  const ops = stageOps();
  const sel = selectedOp(ops);
  const { points, bw, peaks } = rooflineInputs(ops);
  $("roofline-title").textContent = `Roofline: every operator · ${STAGE_NAMES[app.state.stage]}`;
  rooflineChart($("roofline"), { ops: points, bandwidth: bw, peaks, selected: sel?.name, onSelect: select,
    list: $("roofline-points") });
}

