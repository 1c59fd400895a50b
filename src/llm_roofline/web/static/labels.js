// Placing chart labels where they cross nothing: each label tries its candidate positions in order
// and takes the first whose outline (rotated text included) stays inside the plot and overlaps no
// obstacle (lines, points, labels placed before it). Outlines are convex polygons in the SVG's
// user units; overlap is the separating-axis test.
import { svgEl } from "./svg.js";

/** The outline of an SVG element (its bounding box through its transform), grown by ``pad``. */
export function outline(el, pad = 2) {
  const b = el.getBBox();
  const m = el.getCTM();
  const corners = [[b.x - pad, b.y - pad], [b.x + b.width + pad, b.y - pad], [b.x + b.width + pad, b.y + b.height + pad],
    [b.x - pad, b.y + b.height + pad]];
  return corners.map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
}

export const rect = (x0, y0, x1, y1) => [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
export const disc = (cx, cy, r) => rect(cx - r, cy - r, cx + r, cy + r);

/** Segments of a polyline (each a two-point polygon). */
export function segments(points) {
  const out = [];
  for (let i = 1; i < points.length; i++) out.push([points[i - 1], points[i]]);
  return out;
}

function axesOf(poly) {
  const out = [];
  for (let i = 0; i < poly.length; i++) {
    const [x0, y0] = poly[i], [x1, y1] = poly[(i + 1) % poly.length];
    if (x0 !== x1 || y0 !== y1) out.push([y0 - y1, x1 - x0]);
  }
  return out;
}

/** Whether two convex polygons (or segments) overlap (separating-axis theorem). */
export function overlaps(a, b) {
  for (const [nx, ny] of axesOf(a).concat(axesOf(b))) {
    let aMin = Infinity, aMax = -Infinity, bMin = Infinity, bMax = -Infinity;
    for (const [x, y] of a) { const p = x * nx + y * ny; aMin = Math.min(aMin, p); aMax = Math.max(aMax, p); }
    for (const [x, y] of b) { const p = x * nx + y * ny; bMin = Math.min(bMin, p); bMax = Math.max(bMax, p); }
    if (aMax <= bMin || bMax <= aMin) return false;
  }
  return true;
}

export function insideBox(poly, box) {
  return poly.every(([x, y]) => x >= box.left && x <= box.right && y >= box.top && y <= box.bottom);
}

/**
 * A text label at the first candidate position that fits. candidates: [{x, y, anchor, angle}]
 * (angle in degrees about (x, y)); obstacles: polygons, extended with the placed label's outline.
 * ``required``: when nothing fits, keep the candidate with the fewest overlaps (else drop the label).
 */
export function placeLabel(parent, text, cls, candidates, obstacles, box, { required = true, extraAttrs = {} } = {}) {
  const el = svgEl("text", { class: cls, ...extraAttrs }, parent, text);
  let best = null;
  for (const c of candidates) {
    el.setAttribute("x", c.x);
    el.setAttribute("y", c.y);
    el.setAttribute("text-anchor", c.anchor || "start");
    if (c.angle) el.setAttribute("transform", `rotate(${c.angle} ${c.x} ${c.y})`); else el.removeAttribute("transform");
    const poly = outline(el);
    const hits = obstacles.filter((o) => overlaps(poly, o)).length + (insideBox(poly, box) ? 0 : 100);
    if (!hits) {
      obstacles.push(poly);
      return el;
    }
    if (!best || hits < best.hits) best = { c, hits };
  }
  if (!required || !best) {
    el.remove();
    return null;
  }
  const c = best.c;
  el.setAttribute("x", c.x);
  el.setAttribute("y", c.y);
  el.setAttribute("text-anchor", c.anchor || "start");
  if (c.angle) el.setAttribute("transform", `rotate(${c.angle} ${c.x} ${c.y})`); else el.removeAttribute("transform");
  obstacles.push(outline(el));
  return el;
}
