// Chart scaffolding shared by the roofline and the line charts: the figure frame, scales, axes.
import { si } from "./fmt.js";
import { svgEl } from "./svg.js";

export function decades(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

export function niceLinear(lo, hi, n = 5) {
  if (hi <= lo) hi = lo + 1;
  const span = hi - lo;
  const step0 = span / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) || 10 * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

export function scale(lo, hi, a, b, log) {
  if (log) {
    const l0 = Math.log10(lo), l1 = Math.log10(hi);
    return (v) => a + ((Math.log10(v) - l0) / (l1 - l0)) * (b - a);
  }
  return (v) => a + ((v - lo) / (hi - lo)) * (b - a);
}

export function powLabel(v, unit = "") {
  return si(v, unit, 3).replace(" ", "\u2009");
}

export function frame(container, height, opts = {}) {
  container.replaceChildren();
  if (opts.caption) {
    const cap = document.createElement("figcaption");
    const t = document.createElement("span");
    t.textContent = opts.caption;
    cap.appendChild(t);
    if (opts.keys && opts.keys.length) {
      const keys = document.createElement("span");
      keys.className = "keys";
      for (const k of opts.keys) {
        const item = document.createElement("span");
        const sw = document.createElement("i");
        sw.style.background = k.color;
        item.append(sw, k.name);
        keys.appendChild(item);
      }
      cap.appendChild(keys);
    }
    container.appendChild(cap);
  }
  const W = Math.max(260, Math.round(container.clientWidth || 420));
  const H = Math.round(height(W));
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" }, container);
  if (opts.label) svgEl("title", {}, svg, opts.label);
  return { svg, W, H };
}

export function axes(svg, box, x, y, xs, ys, xFmt, yFmt, xLabel, yLabel) {
  const g = svgEl("g", { class: "grid" }, svg);
  for (const t of xs) svgEl("line", { x1: x(t), x2: x(t), y1: box.top, y2: box.bottom }, g);
  for (const t of ys) svgEl("line", { x1: box.left, x2: box.right, y1: y(t), y2: y(t) }, g);
  const a = svgEl("g", { class: "axis" }, svg);
  svgEl("line", { x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom }, a);
  svgEl("line", { x1: box.left, x2: box.left, y1: box.top, y2: box.bottom }, a);
  let lastX = -1e9;
  for (const t of xs) {
    const px = x(t);
    if (px - lastX < 34) continue;
    lastX = px;
    svgEl("text", { x: px, y: box.bottom + 14, "text-anchor": "middle", class: "tick" }, svg, xFmt(t));
  }
  let lastY = 1e9;
  for (const t of ys) {
    const py = y(t);
    if (lastY - py < 14) continue;
    lastY = py;
    svgEl("text", { x: box.left - 5, y: py + 3.5, "text-anchor": "end", class: "tick" }, svg, yFmt(t));
  }
  if (xLabel) svgEl("text", { x: (box.left + box.right) / 2, y: box.bottom + 30, "text-anchor": "middle", class: "axis-label" }, svg, xLabel);
  if (yLabel) {
    svgEl("text", { x: 0, y: 0, transform: `translate(${box.left - 46},${(box.top + box.bottom) / 2}) rotate(-90)`,
      "text-anchor": "middle", class: "axis-label" }, svg, yLabel);
  }
}

