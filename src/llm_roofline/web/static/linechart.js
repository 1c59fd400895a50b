// Line charts of the sweeps: lines or stacked areas over a log x axis, horizontal and vertical
// marker lines with labels placed clear of each other and of the data, and the region beyond a
// limit shaded (memory: does not fit).
import { axes, decades, frame, niceLinear, scale } from "./axes.js";
import { si } from "./fmt.js";
import { placeLabel, segments } from "./labels.js";
import { svgEl, title } from "./svg.js";

/**
 * series: [{name, values, color, dash}] over x; options: xlog, ylog, stacked (areas), hlines [{y, label}],
 * vlines [{x, label, cls}], overFrom: the x where the shaded region starts (exactly: it need not be a
 * sample of x).
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
    svgEl("rect", { x: x0, y: box.top, width: box.right - x0, height: box.bottom - box.top, class: "overfill",
      "data-from": overFrom }, svg);
  }
  axes(svg, box, x, y, xticks, yt.filter((t) => t >= yLo && t <= yHi), xFmt, yFmt, xLabel, yLabel);
  const clipId = `clip-${Math.random().toString(36).slice(2)}`;
  const cp = svgEl("clipPath", { id: clipId }, svgEl("defs", {}, svg));
  svgEl("rect", { x: box.left, y: box.top - 1, width: box.right - box.left, height: box.bottom - box.top + 2 }, cp);
  const plot = svgEl("g", { "clip-path": `url(#${clipId})` }, svg);
  const lines = [];  // the data as screen polylines: labels avoid them where they can
  const clampY = (v) => Math.max(box.top, Math.min(box.bottom, v));
  if (stacked) {
    let lower = xs.map(() => 0);
    tops.forEach((top, k) => {
      const up = top.map((v, i) => [x(xs[i]), y(v)]);
      const down = lower.map((v, i) => [x(xs[i]), y(v)]).reverse();
      const a = svgEl("polygon", { points: up.concat(down).map((p) => p.join(",")).join(" "), fill: series[k].color,
        opacity: 0.85, "data-series": series[k].name }, plot);
      title(a, series[k].name);
      lines.push(up.map(([px, py]) => [px, clampY(py)]));
      lower = top;
    });
  } else {
    series.forEach((s, k) => {
      const runs = [[]];
      valid[k].forEach((v, i) => {
        if (v === null || (ylog && v <= 0)) { if (runs[runs.length - 1].length) runs.push([]); return; }
        runs[runs.length - 1].push([x(xs[i]), y(v)]);
      });
      const d = runs.filter((r) => r.length).map((r) => `M${r.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`)
        .join("L")}`).join("");
      const p = svgEl("path", { d, class: "line", stroke: s.color, "stroke-dasharray": s.dash || null }, plot);
      title(p, s.name);
      lines.push(...runs.map((r) => r.map(([px, py]) => [px, clampY(py)])));
    });
  }
  // Marker lines first, then their labels (hard obstacles: the marker lines and each other's labels;
  // soft: the data, avoided when a position allows).
  const labels = [];
  const hard = [];
  for (const h of hlines) {
    if (h.y < yLo || h.y > yHi) continue;
    const py = y(h.y);
    svgEl("line", { x1: box.left, x2: box.right, y1: py, y2: py, class: "capline" }, svg);
    hard.push([[box.left, py], [box.right, py]]);
    labels.push({ text: h.label, cls: "capline-label", candidates: [
      { x: box.left + 5, y: py - 7 }, { x: box.right - 5, y: py - 7, anchor: "end" },
      { x: box.left + 5, y: py + 14 }, { x: box.right - 5, y: py + 14, anchor: "end" },
      { x: (box.left + box.right) / 2, y: py - 7, anchor: "middle" }] });
  }
  for (const v of vlines) {
    if (v.x < xLo || v.x > xHi) continue;
    const px = x(v.x);
    svgEl("line", { x1: px, x2: px, y1: box.top, y2: box.bottom, class: v.cls || "nowline", "data-x": v.x }, svg);
    hard.push([[px, box.top], [px, box.bottom]]);
    if (!v.label) continue;
    const candidates = [];
    for (let row = 0; row < 8; row++) {
      const py = box.top + 10 + 14 * row;
      candidates.push({ x: px + 4, y: py }, { x: px - 4, y: py, anchor: "end" });
    }
    labels.push({ text: v.label, cls: v.cls === "capline" ? "capline-label" : "marker-label", candidates });
  }
  const inner = { left: box.left + 1, right: box.right, top: box.top - 4, bottom: box.bottom - 1 };
  const soft = lines.flatMap((l) => segments(l));
  const placed = [];
  for (const l of labels) {
    // First a place clear of the data too; failing that, clear of the other labels and markers.
    const obstacles = [...hard, ...placed, ...soft];
    let el = placeLabel(svg, l.text, l.cls, l.candidates, obstacles, inner, { required: false });
    if (!el) {
      const firm = [...hard, ...placed];
      el = placeLabel(svg, l.text, l.cls, l.candidates, firm, inner);
      placed.push(firm[firm.length - 1]);
    } else {
      placed.push(obstacles[obstacles.length - 1]);
    }
  }
  return svg;
}
