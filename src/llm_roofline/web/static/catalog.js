// Looking names up in the catalogs the server sent (/api/models, /api/hardware).
import { app } from "./store.js";

const norm = (s) => String(s).toLowerCase().replace(/[-_\s.]/g, "");

export function findModel(text) {
  const key = String(text).trim().toLowerCase();
  if (!key) return null;
  return app.models.find((m) => m.id.toLowerCase() === key || m.aliases.some((a) => a.toLowerCase() === key)
    || m.id.split("/").pop().toLowerCase() === key) || null;
}

export function findHardware(text) {
  let key = norm(text);
  if (!key) return null;
  for (const prefix of ["nvidia", "amd", "intel", "google", "apple"]) {
    const hit = app.hardware.find((h) => norm(h.name) === key || h.aliases.some((a) => norm(a) === key));
    if (hit) return hit;
    if (key.startsWith(prefix)) key = key.slice(prefix.length);
  }
  return app.hardware.find((h) => norm(h.name) === key || h.aliases.some((a) => norm(a) === key)) || null;
}

export function peak16(h) {
  const p = h.peak_flops_per_s;
  return Math.max(p.fp16 || 0, p.bf16 || 0) || Math.max(...Object.values(p));
}
