// Number formatting: decimal SI prefixes (as the CLI prints them), seconds, rates.

const PREFIXES = [["E", 1e18], ["P", 1e15], ["T", 1e12], ["G", 1e9], ["M", 1e6], ["k", 1e3]];

function sig(v, digits) {
  const s = Number(v).toPrecision(digits);
  return String(Number(s));
}

export function si(value, unit = "", digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (value === 0) return `0 ${unit}`.trim();
  for (const [p, scale] of PREFIXES) {
    if (Math.abs(value) >= scale) return `${sig(value / scale, digits)} ${p}${unit}`;
  }
  return `${sig(value, digits)} ${unit}`.trim();
}

export function secs(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  const a = Math.abs(value);
  if (a >= 1) return `${sig(value, digits)} s`;
  if (a >= 1e-3) return `${sig(value * 1e3, digits)} ms`;
  if (a >= 1e-6) return `${sig(value * 1e6, digits)} µs`;
  if (a === 0) return "0 s";
  return `${sig(value * 1e9, digits)} ns`;
}

export function secsParts(value) {
  // [number, unit] for the big metric cards.
  const text = secs(value);
  const i = text.lastIndexOf(" ");
  return i < 0 ? [text, ""] : [text.slice(0, i), text.slice(i + 1)];
}

export function pct(x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  const v = 100 * x;
  if (v > 0 && v < 0.1) return "<0.1%";
  return `${v.toFixed(digits)}%`;
}

export function int(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  return Math.round(n).toLocaleString("en-US");
}

export function rate(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (v >= 1e5) return si(v, "", 3);
  return v >= 100 ? Math.round(v).toLocaleString("en-US") : sig(v, 3);
}

export function intensity(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (v === 0) return "0";
  return v >= 1000 ? si(v, "", 3) : sig(v, 3);
}
