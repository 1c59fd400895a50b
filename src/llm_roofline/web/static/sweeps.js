// The sweep charts: latency, throughput and memory vs batch size and vs prompt length, with the
// region that does not fit in memory shaded from the exact limit.
import { post } from "./api.js";
import { $ } from "./dom.js";
import { int, secs, si } from "./fmt.js";
import { lineChart } from "./linechart.js";
import { app } from "./store.js";

export const BATCHES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024];
export const LENGTHS = [128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384,
  24576, 32768, 49152, 65536, 98304, 131072];
const REFINE_POINTS = 256;  // values between the last length that fits and the first that does not

function sweepValues(extra, base, limit) {
  return [...new Set(base.concat(extra).filter((v) => Number.isInteger(v) && v >= 1 && v <= limit))]
    .sort((a, b) => a - b);
}

/**
 * The two sweeps of the current state. The batch sweep includes the largest batch that fits (N,
 * from the report) and N + 1, so its memory curve bends exactly at the limit; the prompt sweep is
 * refined between the last length that fits and the first that does not (one more request).
 */
export async function fetchSweeps(body, report, signal) {
  const limits = app.meta?.limits || {};
  const n = report.memory.max_batch_size;
  const batches = sweepValues([Number(body.batch_size), ...(n >= 1 ? [n, n + 1] : [])], BATCHES,
    (limits.batch_size || [1, 1e6])[1]);
  const lengths = sweepValues([Number(body.prompt_len)], LENGTHS, (limits.prompt_len || [1, 1e7])[1]);
  const [sb, ss] = await Promise.allSettled([
    post("/api/sweep", { ...body, batch_size: batches }, signal),
    post("/api/sweep", { ...body, prompt_len: lengths }, signal),
  ]);
  let seq = ss.status === "fulfilled" ? ss.value : null;
  if (seq) {
    const c = seq.columns;
    const j = c.fits.indexOf(false);
    if (j > 0 && c.prompt_len[j] - c.prompt_len[j - 1] > 1) {
      const lo = c.prompt_len[j - 1], hi = c.prompt_len[j];
      const count = Math.min(REFINE_POINTS, hi - lo + 1);
      const values = [...new Set(Array.from({ length: count }, (_, k) => Math.round(lo + (k * (hi - lo)) / (count - 1))))];
      try {
        seq = merge(seq, await post("/api/sweep", { ...body, prompt_len: values }, signal), "prompt_len");
      } catch (err) {
        if (err.name === "AbortError") throw err;  // a refinement that fails leaves the coarse sweep
      }
    }
  }
  return { batch: sb.status === "fulfilled" ? sb.value : null, seq };
}

/** Two sweeps over the same axis as one, sorted by that axis (points in both are kept once). */
function merge(a, b, axis) {
  const rows = new Map();
  for (const s of [a, b]) {
    s.columns[axis].forEach((v, i) => rows.set(v, Object.fromEntries(Object.keys(s.columns).map((k) => [k, s.columns[k][i]]))));
  }
  const sorted = [...rows.keys()].sort((p, q) => p - q).map((k) => rows.get(k));
  const columns = Object.fromEntries(Object.keys(a.columns).map((k) => [k, sorted.map((r) => r[k])]));
  return { ...a, points: sorted.length, columns };
}

/**
 * Where memory use reaches the capacity along the sweep: the first point that does not fit and the
 * one before it bracket the limit; total bytes is linear between them (exactly so in batch size),
 * so the crossing is interpolated. Null when every point fits; the first x when none does.
 */
export function fitLimit(xs, total, fits, capacity) {
  const j = fits.indexOf(false);
  if (j < 0) return null;
  if (j === 0) return xs[0];
  const x0 = xs[j - 1], x1 = xs[j], t0 = total[j - 1], t1 = total[j];
  if (!(t1 > t0)) return x1;
  return Math.min(x1, Math.max(x0, x0 + ((capacity - t0) / (t1 - t0)) * (x1 - x0)));
}

function memTop(r) {
  return Math.max(2.5 * r.memory.capacity_bytes, 1.3 * r.memory.total_bytes);
}

const C = { ttft: "#1f4fd1", tpot: "#ea580c", e2e: "#64748b", tput: "#0f766e" };
const MEMORY = [["weights", "weights_bytes", "#334155"], ["KV cache", "kv_cache_bytes", "#0ea5e9"],
  ["activations", "activations_bytes", "#a3e635"]];

function charts(prefix, c, axis, r, { xLabel, marks, extraMarks = [] }) {
  const cap = r.memory.capacity_bytes;
  const over = fitLimit(c[axis], c.total_bytes, c.fits, cap);
  const noGen = r.scenario.gen_len === 0 ? "set generated tokens > 0" : "no data";
  const what = axis === "batch_size" ? "batch size" : "prompt length";
  lineChart($(`sw-lat-${prefix}`), { caption: `Latency vs ${what}`, x: c[axis], ylog: true, yFmt: (v) => secs(v, 2),
    xLabel, series: [{ name: "TTFT", values: c.ttft_s, color: C.ttft }, { name: "TPOT", values: c.tpot_s, color: C.tpot }],
    vlines: marks, overFrom: over });
  lineChart($(`sw-tput-${prefix}`), { caption: `Throughput vs ${what}`, x: c[axis], ylog: true, yFmt: (v) => si(v),
    xLabel, yLabel: "tokens/s", empty: noGen, vlines: marks.concat(extraMarks), overFrom: over,
    series: [{ name: "generated tokens/s", values: c.throughput_tokens_per_s, color: C.tput }] });
  lineChart($(`sw-mem-${prefix}`), { caption: `Memory vs ${what}`, x: c[axis], stacked: true, yFmt: (v) => si(v, "B"),
    xLabel, series: MEMORY.map(([name, key, color]) => ({ name, values: c[key], color })), overFrom: over,
    hlines: [{ y: cap, label: `capacity ${si(cap, "B")}` }], vlines: marks, yMax: memTop(r) });
}

export function renderSweeps() {
  const r = app.view?.report;
  if (!r) return;
  if (app.sweepBatch) {
    const c = app.sweepBatch.columns;
    const maxFit = r.memory.max_batch_size;
    const fitMark = maxFit >= 1 && maxFit <= Math.max(...c.batch_size)
      ? [{ x: maxFit, label: `fits ≤ ${int(maxFit)}`, cls: "capline" }] : [];
    charts("batch", c, "batch_size", r, { xLabel: "batch size", extraMarks: fitMark,
      marks: [{ x: r.scenario.batch_size, label: `batch ${int(r.scenario.batch_size)}` }] });
  }
  if (app.sweepSeq) {
    charts("seq", app.sweepSeq.columns, "prompt_len", r, { xLabel: "prompt tokens",
      marks: [{ x: r.scenario.prompt_len, label: `prompt ${int(r.scenario.prompt_len)}` }] });
  }
  $("sweep-note").textContent = `${r.model.name.split("/").pop()} on ${r.hardware.name}; generated tokens ` +
    `${int(r.scenario.gen_len)}; red shading: does not fit in memory`;
}
