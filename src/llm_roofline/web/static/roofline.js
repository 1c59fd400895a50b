// The roofline chart (log-log): the memory slope, one compute roof per distinct peak, the ridge
// point, one point per operator; labels placed where they cross no line, point or other label; and,
// under the chart, a list of the points that tells coincident operators apart.
import { axes, decades, frame, powLabel, scale } from "./axes.js";
import { intensity, si } from "./fmt.js";
import { disc, placeLabel, segments } from "./labels.js";
import { svgEl, title } from "./svg.js";

// Points whose centres are closer than this, or than either's radius (one dot hides the other's
// centre), are one group in the list.
const COINCIDENT_PX = 7;

/**
 * ops: [{name, intensity, perf, bound, share, peak}]; peaks: [{value, name, main}].
 * ``list``: a container for the list of points (grouped where they coincide on screen).
 */
export function rooflineChart(container, { ops, bandwidth, peaks, selected = null, focus = null, onSelect = null,
  height = (W) => Math.min(360, Math.max(220, W * 0.56)), caption = null, list = null }) {
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
  const yHi = 10 ** Math.ceil(Math.log10(topPeak * 2.5));
  if (yHi / yLo > 1e7) yLo = yHi / 1e7;
  const box = { left: 58, right: W - 12, top: 12, bottom: H - 38 };
  const x = scale(xLo, xHi, box.left, box.right, true);
  const y = scale(yLo, yHi, box.bottom, box.top, true);
  axes(svg, box, x, y, decades(xLo, xHi), decades(yLo, yHi), (t) => intensity(t), (t) => powLabel(t, "FLOP/s"),
    "arithmetic intensity (FLOP/byte)", null);
  const obstacles = [];
  const inner = { left: box.left + 2, right: box.right, top: box.top, bottom: box.bottom - 2 };
  // Ceilings: the memory slope up to each ridge, then each compute roof.
  const mainPeak = peaks.find((p) => p.main) || peaks[peaks.length - 1];
  const x0 = Math.max(xLo, yLo / bandwidth);  // where the slope enters the plot
  const slope = [];  // screen points of the main slope
  for (const pv of peakValues) {
    const r = pv / bandwidth;
    const pts = [[x(x0), y(Math.max(yLo, bandwidth * x0))], [x(r), y(pv)], [box.right, y(pv)]];
    svgEl("path", { class: pv === mainPeak.value ? "ceiling" : "ceiling alt",
      d: `M${pts.map((p) => p.join(",")).join(" L")}` }, svg);
    obstacles.push(...segments(pts));
    if (pv === mainPeak.value) slope.push(pts[0], pts[1]);
  }
  // Ridge point of the main roof.
  const ridge = mainPeak.value / bandwidth;
  svgEl("line", { class: "ridge", x1: x(ridge), x2: x(ridge), y1: y(mainPeak.value), y2: box.bottom }, svg);
  svgEl("circle", { cx: x(ridge), cy: y(mainPeak.value), r: 3.5, fill: "#11151c" }, svg);
  obstacles.push([[x(ridge), y(mainPeak.value)], [x(ridge), box.bottom]], disc(x(ridge), y(mainPeak.value), 3.5));
  // Points: largest first so small ones stay clickable on top.
  const maxShare = Math.max(1e-12, ...plotted.map((o) => o.share || 0));
  const order = [...plotted].sort((a, b) => (b.share || 0) - (a.share || 0));
  const screen = new Map();
  for (const o of order) {
    const faint = focus !== null && o.name !== focus;
    const r = faint ? 3.2 : 3.5 + 7 * Math.sqrt((o.share || 0) / maxShare);
    const px = x(o.intensity), py = y(Math.max(yLo, o.perf));
    screen.set(o.name, { x: px, y: py, r });
    const cls = `pt ${faint ? "faint" : o.bound}${o.name === selected ? " sel" : ""}`;
    const c = svgEl("circle", { cx: px, cy: py, r, class: cls, "data-op": o.name }, svg);
    title(c, `${o.name}: ${intensity(o.intensity)} FLOP/B, ${si(o.perf, "FLOP/s")}, ${o.bound}-bound`);
    if (onSelect) c.addEventListener("click", () => onSelect(o.name));
    obstacles.push(disc(px, py, r + 1));
  }
  const label = focus || selected;
  const lo = plotted.find((o) => o.name === label);
  if (lo && focus) {
    const p = screen.get(lo.name);
    const c = svgEl("circle", { cx: p.x, cy: p.y, r: 6, class: `pt ${lo.bound} sel` }, svg);
    title(c, lo.name);
    obstacles.push(disc(p.x, p.y, 7));
  }
  // Labels, most important first: the roofs, the ridge, the memory slope, the selected operator.
  for (const pv of [...peakValues].reverse()) {
    const names = peaks.filter((p) => p.value === pv).map((p) => p.name).join("/");
    const py = y(pv), rx = x(pv / bandwidth);
    const candidates = [{ x: box.right - 4, y: py - 5, anchor: "end" }, { x: box.right - 4, y: py + 13, anchor: "end" }];
    for (const f of [0, 0.25, 0.5]) {  // along the roof, right of the ridge
      const lx = rx + 8 + f * (box.right - rx);
      candidates.push({ x: lx, y: py - 5 }, { x: lx, y: py + 13 });
    }
    for (const f of [0, 0.3, 0.6]) {  // over the memory slope, at the roof's height
      const lx = rx - 8 - f * (rx - box.left);
      candidates.push({ x: lx, y: py - 5, anchor: "end" }, { x: lx, y: py + 13, anchor: "end" });
    }
    // The full label where it fits, else a shorter one; the main chart always shows one.
    const value = powLabel(pv, "FLOP/s");
    const texts = [`${names} peak ${value}`, `${names} ${value}`, names];
    texts.some((text, k) => placeLabel(svg, text, "ceiling-label", candidates, obstacles, inner,
      { required: k === texts.length - 1 && !focus }));
  }
  const rx = x(ridge);
  placeLabel(svg, `ridge ${intensity(ridge)} FLOP/B`, "ridge-label", [
    { x: rx + 6, y: box.bottom - 6 }, { x: rx - 6, y: box.bottom - 6, anchor: "end" },
    { x: rx + 6, y: box.bottom - 20 }, { x: rx - 6, y: box.bottom - 20, anchor: "end" },
  ], obstacles, inner);
  if (slope.length) {
    const [[ax, ay], [bx, by]] = slope;
    const angle = Math.atan2(by - ay, bx - ax) * 180 / Math.PI;
    const nx = Math.sin(angle * Math.PI / 180), ny = -Math.cos(angle * Math.PI / 180);  // unit normal, upwards
    const candidates = [];
    for (const t of [0.12, 0.25, 0.4, 0.55, 0.7, 0.04, 0.85, 0.18, 0.32, 0.47, 0.62, 0.77]) {
      const px = ax + t * (bx - ax), py = ay + t * (by - ay);
      for (const off of [5, -14, 16, -25]) candidates.push({ x: px + off * nx, y: py + off * ny, angle });
    }
    placeLabel(svg, `${powLabel(bandwidth, "B/s")} memory`, "ceiling-label", candidates, obstacles, inner,
      { required: false });
  }
  if (lo) {
    const p = screen.get(lo.name);
    // The operator's own chart names it in its caption: there the label is only drawn where it fits.
    placeLabel(svg, lo.name, "pt-label", around(p.x, p.y, Math.max(p.r, focus ? 6 : 0), box), obstacles, inner,
      { required: !focus });
  }
  const groups = coincident(plotted, screen);
  for (const g of groups) {  // how many operators share a dot, where there is room to say so
    if (g.ops.length < 2) continue;
    const d = g.r + 3;
    placeLabel(svg, `×${g.ops.length}`, "pt-count", [
      { x: g.x + d, y: g.y + 4 }, { x: g.x - d, y: g.y + 4, anchor: "end" }, { x: g.x, y: g.y - d - 1, anchor: "middle" },
      { x: g.x, y: g.y + d + 9, anchor: "middle" },
    ], obstacles, inner, { required: false, extraAttrs: { "data-group": g.ops.map((o) => o.name).join(" ") } });
  }
  if (!plotted.length) {
    svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "tick" }, svg, "no operator with FLOPs to place");
  }
  if (list) pointList(list, groups, { selected, onSelect });
  return svg;
}

/** Operators whose dots coincide on screen, grouped (single link), left to right. */
export function coincident(plotted, screen) {
  const groups = [];
  for (const o of [...plotted].sort((a, b) => a.intensity - b.intensity || b.perf - a.perf)) {
    const p = screen.get(o.name);
    const near = groups.filter((g) => g.points.some((q) => Math.hypot(q.x - p.x, q.y - p.y) < Math.max(COINCIDENT_PX, p.r, q.r)));
    const merged = { ops: [o], points: [p] };
    for (const g of near) {
      merged.ops.push(...g.ops);
      merged.points.push(...g.points);
      groups.splice(groups.indexOf(g), 1);
    }
    groups.push(merged);
  }
  for (const g of groups) {
    g.ops.sort((a, b) => (b.share || 0) - (a.share || 0));
    g.x = g.points.reduce((s, p) => s + p.x, 0) / g.points.length;
    g.y = g.points.reduce((s, p) => s + p.y, 0) / g.points.length;
    g.r = Math.max(...g.points.map((p) => p.r));
  }
  return groups.sort((a, b) => a.x - b.x || a.y - b.y);
}

function pointList(container, groups, { selected, onSelect }) {
  container.replaceChildren();
  const shared = groups.filter((g) => g.ops.length > 1).length;
  const head = document.createElement("p");
  head.className = "pt-list-head";
  head.textContent = `${groups.reduce((s, g) => s + g.ops.length, 0)} operators at ${groups.length} places` +
    (shared ? ` (${shared} shared by several: ×k on the chart)` : "");
  const ol = document.createElement("ol");
  ol.className = "pt-list";
  for (const g of groups) {
    const o0 = g.ops[0];
    const li = document.createElement("li");
    li.dataset.group = g.ops.map((o) => o.name).join(" ");
    const sw = document.createElement("i");
    sw.className = `sw ${o0.bound}`;
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = `${intensity(o0.intensity)} FLOP/B · ${si(o0.perf, "FLOP/s")}`;
    li.append(sw, where);
    for (const o of g.ops) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = `op-chip${o.name === selected ? " selected" : ""}`;
      b.dataset.op = o.name;
      b.textContent = o.name;
      if (onSelect) b.addEventListener("click", () => onSelect(o.name));
      li.append(b);
    }
    ol.append(li);
  }
  container.append(head, ol);
}

/** Label positions around a point of radius r, nearest first: beside, above, below, then further out. */
function around(px, py, r, box) {
  const out = [];
  for (const ring of [4, 14, 28]) {
    const d = r + ring;
    for (const dy of [-d, d + 8, -d - 10, d + 18]) {
      out.push({ x: px + d, y: py + dy }, { x: px - d, y: py + dy, anchor: "end" }, { x: px, y: py + dy, anchor: "middle" },
        { x: box.right - 4, y: py + dy, anchor: "end" }, { x: box.left + 6, y: py + dy });
    }
  }
  return out;
}
