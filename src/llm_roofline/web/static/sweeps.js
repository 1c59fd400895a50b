// The sweep charts: latency, throughput and memory vs batch size and vs prompt length.
import { lineChart } from "./charts.js";
import { $ } from "./dom.js";
import { int, secs, si } from "./fmt.js";
import { app } from "./store.js";

function memTop(r) {
  return Math.max(2.5 * r.memory.capacity_bytes, 1.3 * r.memory.total_bytes);
}

const C = { ttft: "#1f4fd1", tpot: "#ea580c", e2e: "#64748b", tput: "#0f766e" };

export function renderSweeps() {
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

