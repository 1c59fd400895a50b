// The serving panel's workers: how many, and each worker's devices (TP, EP, attention DP, PP) for Simulate
// (aggregated replicas, or the prefill and decode pools when disaggregated), and the lists of degrees
// Plan deployments searches. The API checks every value (one line naming the field when it refuses one);
// nothing here clamps or second-guesses them.
import { $ } from "./dom.js";

// [input id suffix, body field suffix]: a worker's degrees, as /api/serve-sim and /api/plan name them.
const DEGREES = [["tp", "tp"], ["ep", "ep"], ["adp", "attention_dp"], ["pp", "pp"]];
// [input id prefix, body field prefix] of the aggregated workers and of the two pools.
const POOLS = { agg: ["sv-", ""], prefill: ["sv-p-", "prefill_"], decode: ["sv-d-", "decode_"] };

function count(id) {
  const text = $(id).value.trim();
  return /^\d+$/.test(text) ? Number(text) : text;  // anything else goes as typed: the API says what is wrong
}

function pool(name) {
  const [id, field] = POOLS[name];
  const out = {};
  for (const [input, key] of DEGREES) {
    const v = count(`${id}${input}`);
    if (v !== 1) out[field + key] = v;  // 1 is the API's default: the body stays the CLI's flags
  }
  return out;
}

/** The simulation body's workers and their layouts (only what differs from one device per worker). */
export function workersBody(disagg) {
  if (!disagg) {
    const workers = count("sv-workers");
    return { ...(workers !== 1 ? { workers } : {}), ...pool("agg") };
  }
  const out = { ...pool("prefill"), ...pool("decode") };
  for (const [name, id] of [["prefill_workers", "sv-p-workers"], ["decode_workers", "sv-d-workers"]]) {
    const v = count(id);
    if (v !== 1) out[name] = v;
  }
  return out;
}

/** The plan body's degree lists ("1,2,4"; empty: the search's defaults, docs/serving.md). */
export function planLayouts() {
  const out = {};
  for (const [input, key] of DEGREES) {
    const text = $(`sv-plan-${input}`).value.trim();
    if (text) out[key] = text.split(",").map((t) => (/^\s*\d+\s*$/.test(t) ? Number(t) : t.trim()));
  }
  return out;
}

/** A worker's layout as the CLI writes it: "tp4", "adp8 ep8"; "" for one device. prefix: "", "prefill_" ... */
export function layoutText(row, prefix = "") {
  return [["tp", "tp"], ["adp", "attention_dp"], ["ep", "ep"], ["pp", "pp"]]
    .filter(([, key]) => (row[prefix + key] || 1) > 1).map(([name, key]) => `${name}${row[prefix + key]}`).join(" ");
}

/** One line on a simulation's deployment: its workers, their layouts and the GPUs in all. */
export function deploymentText(d) {
  const gpus = `${d.gpus} GPU${d.gpus > 1 ? "s" : ""}`;
  const of = (prefix) => {
    const text = layoutText(d, prefix);
    return text ? ` of ${text}` : "";
  };
  if (d.mode === "agg") return `${d.workers} worker${d.workers > 1 ? "s" : ""}${of("")}: ${gpus}`;
  return `${d.prefill_workers} prefill worker${d.prefill_workers > 1 ? "s" : ""}${of("prefill_")} + ` +
    `${d.decode_workers} decode worker${d.decode_workers > 1 ? "s" : ""}${of("decode_")}: ${gpus}`;
}

/** Show the aggregated workers' fields or the pools' with the disaggregation switch. */
export function initLayout() {
  const sync = () => {
    const disagg = $("sv-disagg").checked;
    $("sv-agg-layout").hidden = disagg;
    $("sv-disagg-layout").hidden = !disagg;
  };
  $("sv-disagg").addEventListener("change", sync);
  sync();
}
