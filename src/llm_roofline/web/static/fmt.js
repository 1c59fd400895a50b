// Number formatting: decimal SI prefixes (as the CLI prints them), seconds / minutes / hours, rates.
// Past the largest prefix, numbers switch to engineering notation (mantissa 1..999, exponent a
// multiple of 3: 12.8e21 B), so that no value prints as a long run of digits.

const STEPS = [["", 1], ["k", 1e3], ["M", 1e6], ["G", 1e9], ["T", 1e12], ["P", 1e15], ["E", 1e18]];
const missing = (v) => v === null || v === undefined || Number.isNaN(v);

function sig(v, digits) {
  const s = Number(v).toPrecision(digits);
  return String(Number(s));
}

/** Engineering notation: 1.07e12, 12.8e21, 950 (below 1e3 the plain number). */
export function eng(value, digits = 3) {
  if (missing(value)) return "–";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "-∞";
  const a = Math.abs(value);
  if (a < 1e3) return sig(value, digits);
  let e = 3 * Math.floor(Math.log10(a) / 3);
  let m = Number((value / 10 ** e).toPrecision(digits));
  if (Math.abs(m) >= 1000) { m /= 1000; e += 3; }  // 999.6e3 rounds to 1e6
  return `${sig(m, digits)}e${e}`;
}

/** value with a decimal SI prefix (k ... E) and unit; past E, engineering notation (12.8e21 B). */
export function si(value, unit = "", digits = 3) {
  if (missing(value)) return "–";
  if (value === 0) return `0 ${unit}`.trim();
  const a = Math.abs(value);
  let i = 0;
  while (i + 1 < STEPS.length && a >= STEPS[i + 1][1]) i++;
  let m = Number(sig(value / STEPS[i][1], digits));
  if (Math.abs(m) >= 1000 && i + 1 < STEPS.length) m = Number(sig(value / STEPS[++i][1], digits));  // 999.96 k = 1 M
  if (Math.abs(m) >= 1000 || !Number.isFinite(value)) return `${eng(value, digits)} ${unit}`.trim();
  return `${m} ${STEPS[i][0]}${unit}`.trim();
}

/** Seconds as ns / µs / ms / s / min / h; past 1,000 h, hours in engineering notation. */
export function secs(value, digits = 3) {
  if (missing(value)) return "–";
  const a = Math.abs(value);
  if (a === 0) return "0 s";
  if (a >= 3600 * 999.5) return `${eng(value / 3600, digits)} h`;
  if (a >= 3600) return `${sig(value / 3600, digits)} h`;
  if (a >= 60) return `${sig(value / 60, digits)} min`;
  if (a >= 0.9995) return `${sig(value, digits)} s`;
  if (a >= 0.9995e-3) return `${sig(value * 1e3, digits)} ms`;
  if (a >= 0.9995e-6) return `${sig(value * 1e6, digits)} µs`;
  return `${sig(value * 1e9, digits)} ns`;
}

export function secsParts(value) {
  // [number, unit] for the big metric cards.
  const text = secs(value);
  const i = text.lastIndexOf(" ");
  return i < 0 ? [text, ""] : [text.slice(0, i), text.slice(i + 1)];
}

export function pct(x, digits = 1) {
  if (missing(x)) return "–";
  const v = 100 * x;
  if (v > 0 && v < 0.1) return "<0.1%";
  return `${v.toFixed(digits)}%`;
}

/** A count: digits with thousands separators up to 1e9, engineering notation beyond. */
export function int(n) {
  if (missing(n)) return "–";
  if (Math.abs(n) >= 1e9) return eng(n);
  return Math.round(n).toLocaleString("en-US");
}

export function rate(v) {
  if (missing(v)) return "–";
  if (v >= 1e5) return si(v, "", 3);
  return v >= 100 ? Math.round(v).toLocaleString("en-US") : sig(v, 3);
}

export function intensity(v) {
  if (missing(v)) return "–";
  if (v === 0) return "0";
  return v >= 1000 ? si(v, "", 3) : sig(v, 3);
}
