// The page's state lives in the URL: read it, write it back, and carry uploaded configs as base64url.
import { checkEfficiency } from "./efficiency_state.js";
import { checkOptimizations } from "./optimizations_state.js";
import { checkTechniques } from "./techniques_state.js";

export function readUrl(defaults) {
  const q = new URLSearchParams(location.search);
  const s = { ...defaults };
  for (const k of Object.keys(defaults)) if (q.has(k)) s[k] = q.get(k);
  return s;
}

export function writeUrl(state, defaults) {
  const q = new URLSearchParams();
  for (const k of Object.keys(defaults)) {
    const v = state[k];
    if (v !== defaults[k] && v !== "" && v !== null && v !== undefined) q.set(k, v);
  }
  const url = `${location.pathname}${q.toString() ? `?${q}` : ""}`;
  if (url !== `${location.pathname}${location.search}`) history.replaceState(null, "", url);
}

export function b64encode(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64decode(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/**
 * The state a link asks for, checked against the catalogs and the API's limits before anything is
 * requested: each value that is not valid is replaced by its default, with a line saying so (the
 * page shows these lines until the reader dismisses them). ctx: {defaults, formats, bits, limits,
 * stages, views, findModel, findHardware, systems (names), maxDegree, efficiency: {modes, engines,
 * defaultEngine}, query}. Returns {state, upload, problems}.
 */
export function checkState(raw, ctx) {
  const s = { ...raw };
  const problems = [];
  const reset = (key, why) => {
    problems.push(`${key}=${String(raw[key]).slice(0, 60)}: ${why}; showing ${ctx.describe(key, ctx.defaults[key])}`);
    s[key] = ctx.defaults[key];
  };
  const known = new Set(Object.keys(ctx.defaults));
  for (const key of ctx.query.keys()) {
    if (!known.has(key)) problems.push(`${key}: not a parameter of this page (ignored)`);
  }
  let upload = null;
  if (s.cfg) {
    try {
      const config = JSON.parse(b64decode(s.cfg));
      if (!config || typeof config !== "object" || Array.isArray(config)) throw new Error("not an object");
      upload = { config, name: s.cfgname || "uploaded model" };
    } catch {
      problems.push("cfg: the uploaded config in this link cannot be read (was the link cut short?); " +
        `showing the catalog model ${s.model && ctx.findModel(s.model) ? ctx.findModel(s.model).id : ctx.defaults.model}`);
      s.cfg = "";
      s.cfgname = "";
    }
  }
  if (!upload) {
    const m = ctx.findModel(s.model);
    if (m) s.model = m.id; else reset("model", "not in the model catalog");
  }
  const h = ctx.findHardware(s.hw);
  if (h) s.hw = h.name; else reset("hw", "not in the device catalog");
  if (!(s.stage in ctx.stages)) reset("stage", `not one of ${Object.keys(ctx.stages).join(", ")}`);
  if (!ctx.views.includes(s.view)) reset("view", `not one of ${ctx.views.join(", ")}`);
  for (const [key, name] of [["b", "batch_size"], ["p", "prompt_len"], ["g", "gen_len"]]) {
    const [lo, hi] = ctx.limits[name];
    if (!/^\d+$/.test(String(s[key])) || Number(s[key]) < lo || Number(s[key]) > hi) {
      reset(key, `${name} must be an integer in ${lo}..${hi}`);
    } else {
      s[key] = String(Number(s[key]));
    }
  }
  const [bitsLo, bitsHi] = ctx.bits;
  for (const key of ["w", "a", "kv"]) {
    const v = String(s[key]);
    const bits = /^\d+$/.test(v) ? Number(v) : null;
    if (key === "w" && v === "own") continue;  // the model's own format
    if (!ctx.formats.includes(v) && !(bits !== null && bits >= bitsLo && bits <= bitsHi)) {
      reset(key, `not a format (${ctx.formats.join(", ")}) or a number of bits ${bitsLo}..${bitsHi}`);
    } else if (bits !== null) {
      s[key] = String(bits);
    }
  }
  if (!["0", "1"].includes(s.fa)) reset("fa", "FlashAttention is 1 (on) or 0 (off)");
  checkEfficiency(s, reset, ctx.efficiency);
  for (const key of ["tp", "pp", "ep", "adp", "dp"]) {
    const v = String(s[key]);
    if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > ctx.maxDegree) {
      reset(key, `a degree of parallelism is an integer in 1..${ctx.maxDegree}`);
    } else {
      s[key] = String(Number(v));
    }
  }
  if (s.sys !== "" && !ctx.systems.includes(s.sys)) reset("sys", "not in the system catalog");
  if (!["", "ideal", "fitted"].includes(s.comm)) reset("comm", "the collectives are ideal or fitted");
  if (!["0", "1"].includes(s.ov)) reset("ov", "overlap is 1 (on) or 0 (off)");
  for (const key of ["bw", "peak", "cap"]) {
    if (s[key] !== "" && !(Number(s[key]) > 0 && Number.isFinite(Number(s[key])))) reset(key, "not a positive number");
  }
  checkTechniques(s, reset);
  checkOptimizations(s, reset);
  if (s.stage === "verify" && !s.spec) reset("stage", "the verify step needs a speculative preset (spec)");
  return { state: s, upload, problems };
}
