// Small hand-written SVG charts: log-log rooflines and line charts. No dependencies.
import { intensity, si } from "./fmt.js";

const NS = "http://www.w3.org/2000/svg";

export function svgEl(tag, attrs = {}, parent = null, text = null) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) e.setAttribute(k, v);
  }
  if (text !== null) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

export function title(parent, text) {
  svgEl("title", {}, parent, text);
}

export function decades(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

function niceLinear(lo, hi, n = 5) {
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

/**
 * Roofline (log-log): memory ceiling bandwidth * I, compute ceilings (one per distinct peak), the
 * ridge point(s), one point per operator. ops: [{name, intensity, perf, bound, share, peak}].
 */
export function rooflineChart(container, { ops, bandwidth, peaks, selected = null, focus = null, onSelect = null,
  height = (W) => Math.min(360, Math.max(220, W * 0.56)), caption = null }) {
  const { svg, W, H } = frame(container, height, { caption, label: "Roofline chart" });
  const plotted = ops.filter((o) => o.intensity > 0 && o.perf > 0);
  const peakValues = [...new Set(peaks.map((p) => p.value))].sort((a, b) => a - b);
  const topPeak = peakValues[peakValues.length - 1];
  const ridges = peakValues.map((p) => p / bandwidth);
  const xsData = plotted.map((o) => o.intensity).concat(ridges);
  let xLo = Math.min(...xsData) / 3, xHi = Math.max(...xsData) * 3;
  xLo = 10 ** Math.floor(Math.log10(xLo)); xHi = 10 ** Math.ceil(Math.log10(xHi));
  const yData = plotted.map((o) => o.perf).concat([bandwidth * xLo, topPeak]);
  let yLo = 10 ** Math.floor(Math.log10(Math.min(...yData) / 2));
  let yHi = 10 ** Math.ceil(Math.log10(topPeak * 2.5));
  if (yHi / yLo > 1e7) yLo = yHi / 1e7;
  const box = { left: 58, right: W - 12, top: 12, bottom: H - 38 };
  const x = scale(xLo, xHi, box.left, box.right, true);
  const y = scale(yLo, yHi, box.bottom, box.top, true);
  axes(svg, box, x, y, decades(xLo, xHi), decades(yLo, yHi), (t) => intensity(t), (t) => powLabel(t, "FLOP/s"),
    "arithmetic intensity (FLOP/byte)", null);
  svgEl("text", { x: box.left - 52, y: box.top - 1, class: "axis-label" }, svg, "");
  // Ceilings: the memory slope up to each ridge, then each compute roof.
  const clipY = (v) => Math.max(yLo, Math.min(yHi, v));
  const xAt = (perf) => perf / bandwidth;
  const mainPeak = peaks.find((p) => p.main) || peaks[peaks.length - 1];
  for (const pv of peakValues) {
    const isMain = pv === mainPeak.value;
    const r = pv / bandwidth;
    const x0 = Math.max(xLo, xAt(yLo));
    svgEl("path", { class: isMain ? "ceiling" : "ceiling alt",
      d: `M${x(x0)},${y(clipY(bandwidth * x0))} L${x(r)},${y(pv)} L${box.right},${y(pv)}` }, svg);
    const names = peaks.filter((p) => p.value === pv).map((p) => p.name).join("/");
    svgEl("text", { x: box.right - 4, y: y(pv) - 5, "text-anchor": "end", class: "ceiling-label" }, svg,
      `${names} peak ${powLabel(pv, "FLOP/s")}`);
  }
  // Memory-bandwidth label along the slope.
  const lx = Math.max(xLo * 2.2, xAt(yLo) * 3);
  const angle = -Math.atan2(y(bandwidth * lx) - y(bandwidth * lx * 10), x(lx * 10) - x(lx)) * 180 / Math.PI;
  if (bandwidth * lx < topPeak / 4) {
    svgEl("text", { x: 0, y: 0, transform: `translate(${x(lx) + 4},${y(bandwidth * lx) - 6}) rotate(${-angle})`,
      class: "ceiling-label" }, svg, `${powLabel(bandwidth, "B/s")} memory`);
  }
  // Ridge point of the main roof.
  const ridge = mainPeak.value / bandwidth;
  svgEl("line", { class: "ridge", x1: x(ridge), x2: x(ridge), y1: y(mainPeak.value), y2: box.bottom }, svg);
  svgEl("circle", { cx: x(ridge), cy: y(mainPeak.value), r: 3.5, fill: "#11151c" }, svg);
  const anchorRight = x(ridge) > box.right - 110;
  svgEl("text", { x: x(ridge) + (anchorRight ? -6 : 6), y: box.bottom - 6, "text-anchor": anchorRight ? "end" : "start",
    class: "ridge-label" }, svg, `ridge ${intensity(ridge)} FLOP/B`);
  // Points: largest first so small ones stay clickable on top.
  const maxShare = Math.max(1e-12, ...plotted.map((o) => o.share || 0));
  const order = [...plotted].sort((a, b) => (b.share || 0) - (a.share || 0));
  for (const o of order) {
    const faint = focus !== null && o.name !== focus;
    const r = faint ? 3.2 : 3.5 + 7 * Math.sqrt((o.share || 0) / maxShare);
    const cls = `pt ${faint ? "faint" : o.bound}${o.name === selected ? " sel" : ""}`;
    const c = svgEl("circle", { cx: x(o.intensity), cy: y(Math.max(yLo, o.perf)), r, class: cls, "data-op": o.name }, svg);
    title(c, `${o.name}: ${intensity(o.intensity)} FLOP/B, ${si(o.perf, "FLOP/s")}, ${o.bound}-bound`);
    if (onSelect) c.addEventListener("click", () => onSelect(o.name));
  }
  const label = focus || selected;
  const lo = plotted.find((o) => o.name === label);
  if (lo) {
    const px = x(lo.intensity), py = y(Math.max(yLo, lo.perf));
    const left = px > box.right - 120;
    const below = py < box.top + 34;
    svgEl("text", { x: px + (left ? -10 : 10), y: below ? py + 20 : py - 8, "text-anchor": left ? "end" : "start",
      class: "pt-label" }, svg, lo.name);
    if (focus) {
      const c = svgEl("circle", { cx: px, cy: py, r: 6, class: `pt ${lo.bound} sel` }, svg);
      title(c, lo.name);
    }
  }
  if (!plotted.length) {
    svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "tick" }, svg, "no operator with FLOPs to place");
  }
  return svg;
}

/**
 * A line chart. series: [{name, values, color, dash}] over x; options: xlog, ylog, stacked (areas),
 * hlines [{y, label}], vlines [{x, label}], over: x beyond which the region is shaded (does not fit).
 */
export function lineChart(container, { caption, x: xs, series, xlog = true, ylog = false, xFmt = (v) => si(v),
  yFmt = (v) => si(v), xLabel = "", yLabel = "", stacked = false, hlines = [], vlines = [], overFrom = null,
  height = (W) => Math.min(240, Math.max(180, W * 0.55)), empty = null, yMax = null }) {
  const { svg, W, H } = frame(container, height, { caption, label: caption, keys: series });
  const valid = series.map((s) => s.values.map((v) => (v === null || v === undefined || Number.isNaN(v) ? null : v)));
  const any = valid.some((vs) => vs.some((v) => v !== null && (!ylog || v > 0)));
  if (!any || !xs.length) {
    container.querySelector("svg").remove();
    const p = document.createElement("div");
    p.className = "empty";
    p.textContent = empty || "nothing to show";
    container.appendChild(p);
    return null;
  }
  let tops = valid;
  if (stacked) {
    tops = [];
    let acc = xs.map(() => 0);
    for (const vs of valid) {
      acc = acc.map((a, i) => a + (vs[i] || 0));
      tops.push(acc);
    }
  }
  const all = tops.flat().filter((v) => v !== null && (!ylog || v > 0)).concat(hlines.map((h) => h.y));
  let yLo = ylog ? Math.min(...all) : 0;
  let yHi = Math.max(...all);
  if (ylog) {
    yLo = 10 ** Math.floor(Math.log10(yLo));
    yHi = 10 ** Math.ceil(Math.log10(yHi * 1.05));
    if (yHi <= yLo) yHi = yLo * 10;
  } else {
    yHi = yHi > 0 ? yHi * 1.08 : 1;
    if (yMax !== null && yMax < yHi) yHi = yMax;
  }
  const xLo = Math.min(...xs), xHi = Math.max(...xs);
  const box = { left: 56, right: W - 14, top: 14, bottom: H - 36 };
  const x = scale(xLo, xHi === xLo ? xLo * 2 : xHi, box.left, box.right, xlog);
  const y = scale(yLo, yHi, box.bottom, box.top, ylog);
  const xt = xlog ? decades(xLo, xHi).filter((t) => t >= xLo * 0.999 && t <= xHi * 1.001) : niceLinear(xLo, xHi);
  const xticks = xlog && xt.length < 3 ? [xLo, ...xt, xHi] : xt;
  const yt = ylog ? decades(yLo, yHi) : niceLinear(0, yHi);
  if (overFrom !== null && overFrom < xHi) {
    const x0 = Math.max(box.left, x(Math.max(overFrom, xLo)));
    svgEl("rect", { x: x0, y: box.top, width: box.right - x0, height: box.bottom - box.top, class: "overfill" }, svg);
  }
  axes(svg, box, x, y, xticks, yt.filter((t) => t >= yLo && t <= yHi), xFmt, yFmt, xLabel, yLabel);
  const clipId = `clip-${Math.random().toString(36).slice(2)}`;
  const cp = svgEl("clipPath", { id: clipId }, svgEl("defs", {}, svg));
  svgEl("rect", { x: box.left, y: box.top - 1, width: box.right - box.left, height: box.bottom - box.top + 2 }, cp);
  const plot = svgEl("g", { "clip-path": `url(#${clipId})` }, svg);
  if (stacked) {
    let lower = xs.map(() => 0);
    tops.forEach((top, k) => {
      const up = top.map((v, i) => `${x(xs[i])},${y(v)}`);
      const down = lower.map((v, i) => `${x(xs[i])},${y(v)}`).reverse();
      const a = svgEl("polygon", { points: up.concat(down).join(" "), fill: series[k].color, opacity: 0.85 }, plot);
      title(a, series[k].name);
      lower = top;
    });
  } else {
    series.forEach((s, k) => {
      let d = "";
      let pen = false;
      valid[k].forEach((v, i) => {
        if (v === null || (ylog && v <= 0)) { pen = false; return; }
        d += `${pen ? "L" : "M"}${x(xs[i]).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
      });
      const p = svgEl("path", { d, class: "line", stroke: s.color, "stroke-dasharray": s.dash || null }, plot);
      title(p, s.name);
    });
  }
  for (const h of hlines) {
    if (h.y < yLo || h.y > yHi) continue;
    svgEl("line", { x1: box.left, x2: box.right, y1: y(h.y), y2: y(h.y), class: "capline" }, svg);
    svgEl("text", { x: box.left + 5, y: y(h.y) - 5, class: "capline-label" }, svg, h.label);
  }
  for (const v of vlines) {
    if (v.x < xLo || v.x > xHi) continue;
    svgEl("line", { x1: x(v.x), x2: x(v.x), y1: box.top, y2: box.bottom, class: v.cls || "nowline" }, svg);
    if (v.label) {
      const right = x(v.x) > box.right - 90;
      svgEl("text", { x: x(v.x) + (right ? -4 : 4), y: box.top + 10, "text-anchor": right ? "end" : "start",
        class: v.cls === "capline" ? "capline-label" : "tick" }, svg, v.label);
    }
  }
  return svg;
}
