// The page's state: the scenario (mirrored in the URL), the catalogs, the API's last answers, and
// which operators the current stage shows.
import { EFFICIENCY_DEFAULTS } from "./efficiency_state.js";
import { OPTIMIZATION_DEFAULTS } from "./optimizations_state.js";
import { TECHNIQUE_DEFAULTS } from "./techniques_state.js";
import { writeUrl } from "./urlstate.js";

export const FORMATS = ["16", "fp16", "bf16", "fp32", "fp8", "int8", "int4", "nf4", "fp4"];
// "16": 16-bit floats on the device's faster 16-bit path (fp16 or bf16); the named formats pin one.
export const FORMAT_LABELS = { 16: "16-bit", own: "model's own" };
// Weights only: "own" = the model's own format (its config's quantization_config, else 16 bits).
export const OWN_FORMAT = "own";
export const DEFAULTS = {
  model: "meta-llama/Llama-2-7b-hf", hw: "rtx-a6000", stage: "decode", b: "1", p: "1024", g: "256",
  w: "16", a: "16", kv: "16", fa: "0", view: "layer", op: "", bw: "", peak: "", cap: "",
  cfg: "", cfgname: "", tp: "1", pp: "1", ep: "1", adp: "1", dp: "1", sys: "", comm: "", ov: "0",
  ...EFFICIENCY_DEFAULTS, ...TECHNIQUE_DEFAULTS, ...OPTIMIZATION_DEFAULTS,
};
// Degrees of parallelism: [input id, state key, API field].
export const DEGREES = [["tp", "tp", "tp"], ["pp", "pp", "pp"], ["ep", "ep", "ep"], ["adp", "adp", "attention_dp"],
  ["dp", "dp", "dp"]];
export const STAGE_NAMES = { prefill: "Prefill", decode: "Decode step", generation: "Whole generation",
  verify: "Verify step (speculative)" };

export const app = {
  state: { ...DEFAULTS },
  models: [], hardware: [], systems: [], meta: null,
  upload: null, // {config, name}
  view: null, sweepBatch: null, sweepSeq: null,
  seq: 0, controller: null, timer: null,
};
window.__roofline = app; // for tests and the curious

// What a state change triggers: a new request, or only a redraw (set by app.js).
const hooks = { fetch: () => {}, render: () => {} };
export function onStateChange(fetch, render) {
  hooks.fetch = fetch;
  hooks.render = render;
}

export function setState(patch, { fetch = true } = {}) {
  Object.assign(app.state, patch);
  writeUrl(app.state, DEFAULTS);
  if (fetch) hooks.fetch(); else hooks.render();
}

/** Devices of the deployment the state describes: tp x pp x attention DP x replicas. */
export function devices(s = app.state) {
  return ["tp", "pp", "adp", "dp"].reduce((n, k) => n * Math.max(1, Number(s[k]) || 1), 1);
}

export function stageOps() {
  const v = app.view;
  if (!v) return [];
  if (app.state.stage === "prefill") return v.report.prefill.ops;
  if (app.state.stage === "generation") return v.generation_ops;
  if (app.state.stage === "verify" && v.report.techniques?.speculative) return v.report.techniques.speculative.verify.ops;
  return v.report.decode.ops;
}

export function stageGraph() {
  return app.state.stage === "prefill" ? app.view.graph.prefill : app.view.graph.decode;
}

export function selectedOp(ops) {
  const name = app.state.op;
  const hit = ops.find((o) => o.name === name);
  if (hit) return hit;
  return [...ops].sort((a, b) => b.time_share - a.time_share)[0];
}

export function select(name) {
  setState({ op: name }, { fetch: false });
}
