// Requests to the JSON API: the body for the current state, POST with errors that name their field.
import { app, DEGREES, devices, OWN_FORMAT } from "./store.js";
import { efficiencyBody } from "./efficiency_state.js";
import { optimizationsBody } from "./optimizations_state.js";
import { techniquesBody } from "./techniques_state.js";

function numberOrText(v) {
  return /^\d+$/.test(String(v).trim()) ? Number(v) : String(v).trim();
}

export function requestBody(state = app.state) {
  const s = state;
  const body = {
    batch_size: Number(s.b), prompt_len: Number(s.p), gen_len: Number(s.g),
    a_bits: numberOrText(s.a), kv_bits: numberOrText(s.kv),
    flash_attention: s.fa === "1", ...efficiencyBody(s),
  };
  if (s.w !== OWN_FORMAT) body.w_bits = numberOrText(s.w);  // else the model's own format
  if (app.upload) { body.config = app.upload.config; body.config_name = app.upload.name; } else body.model = s.model;
  body.hardware = s.sys && devices(s) > 1 ? s.sys : s.hw;
  for (const [, key, field] of DEGREES) if (String(s[key]) !== "1") body[field] = Number(s[key]);
  if (s.comm) body.comm = s.comm;
  if (s.ov === "1") body.overlap = true;
  if (s.bw) body.memory_bandwidth_bytes_per_s = Number(s.bw) * 1e9;
  if (s.peak) body.peak_flops_per_s = Number(s.peak) * 1e12;
  if (s.cap) body.memory_capacity_bytes = Number(s.cap) * 1e9;
  const techniques = techniquesBody(s);
  if (techniques) body.techniques = techniques;
  const optimizations = optimizationsBody(s);
  if (optimizations) body.optimizations = optimizations;
  return body;
}

/** POST JSON; a 503 (server busy) is retried after its Retry-After (at most twice, at most 5 s each). */
export async function post(path, body, signal) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify(body), signal });
    const data = await res.json().catch(() => ({ detail: `${res.status} ${res.statusText}` }));  // a plain-text 503
    if (res.status === 503 && attempt < 2) {
      const wait = Math.min(5, Number(res.headers.get("retry-after")) || 1);
      await new Promise((resolve) => setTimeout(resolve, 1000 * wait));
      if (signal?.aborted) throw new DOMException("aborted", "AbortError");
      continue;
    }
    if (!res.ok) {
      const err = new Error(data.detail || `${res.status}`);
      err.field = data.field;
      throw err;
    }
    return data;
  }
}
