// Several devices: the link roofline of the communication operators and the deployment's summary.
import { axes, decades, frame, powLabel, scale } from "./axes.js";
import { svgEl, title } from "./svg.js";
import { int, pct, secs, si } from "./fmt.js";

/** The communication operators of a stage: [{name, bytes (on the link), bw (bytes / time), count, share}]. */
export function linkPoints(ops) {
  return ops.filter((o) => o.link_bytes > 0 && o.link_time_s > 0).map((o) => ({
    name: o.name, bytes: o.link_bytes, bw: o.link_bytes / o.link_time_s, time: o.link_time_s, count: o.count,
    share: o.time_share, bound: o.bound }));
}

/**
 * The link roofline (log-log): achieved link bandwidth (link bytes / collective time) against the bytes a
 * device puts on the link, under the link's bandwidth (per device, per direction) and the ideal alpha-beta
 * curve of a ring all-reduce over the tp group: L / (2(tp-1) alpha + L / bandwidth). Small messages sit on
 * the latency slope, large ones approach the roof.
 */
export function linkChart(container, { points, link, tp, selected = null, onSelect = null, caption = null,
  height = (W) => Math.min(300, Math.max(200, W * 0.42)) }) {
  const { svg, W, H } = frame(container, height, { caption, label: "Link roofline" });
  if (!points.length || !link) {
    svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "tick" }, svg, "no communication operator");
    return svg;
  }
  const bw = link.bandwidth_bytes_per_s, alpha = link.latency_s, steps = Math.max(1, 2 * (tp - 1));
  let xLo = Math.min(...points.map((p) => p.bytes)) / 10, xHi = Math.max(...points.map((p) => p.bytes)) * 10;
  xLo = 10 ** Math.floor(Math.log10(xLo)); xHi = 10 ** Math.ceil(Math.log10(xHi));
  let yLo = 10 ** Math.floor(Math.log10(Math.min(...points.map((p) => p.bw)) / 3));
  const yHi = 10 ** Math.ceil(Math.log10(bw * 2.5));
  if (yHi / yLo > 1e7) yLo = yHi / 1e7;
  const box = { left: 58, right: W - 12, top: 12, bottom: H - 38 };
  const x = scale(xLo, xHi, box.left, box.right, true);
  const y = scale(yLo, yHi, box.bottom, box.top, true);
  axes(svg, box, x, y, decades(xLo, xHi), decades(yLo, yHi), (t) => powLabel(t, "B"), (t) => powLabel(t, "B/s"),
    "bytes on the link per device (one direction)", null);
  svgEl("path", { class: "ceiling", d: `M${box.left},${y(bw)} L${box.right},${y(bw)}` }, svg);
  svgEl("text", { x: box.right - 4, y: y(bw) - 5, "text-anchor": "end", class: "ceiling-label" }, svg,
    `${link.name}: ${powLabel(bw, "B/s")} per direction`);
  if (alpha > 0) {
    const d = [];
    for (let k = 0; k <= 60; k++) {
      const L = xLo * (xHi / xLo) ** (k / 60);
      const v = L / (steps * alpha + L / bw);
      if (v >= yLo) d.push(`${d.length ? "L" : "M"}${x(L).toFixed(1)},${y(v).toFixed(1)}`);
    }
    const curve = svgEl("path", { class: "link-curve", d: d.join(" ") }, svg);
    title(curve, `ideal ring all-reduce over ${tp}: ${steps} steps x ${secs(alpha)} + bytes / bandwidth`);
  }
  for (const p of [...points].sort((a, b) => (b.share || 0) - (a.share || 0))) {
    const c = svgEl("circle", { cx: x(p.bytes), cy: y(Math.max(yLo, p.bw)), r: p.name === selected ? 6 : 4.5,
      class: `pt ${p.bound}${p.name === selected ? " sel" : ""}`, "data-op": p.name }, svg);
    title(c, `${p.name} x${p.count}: ${si(p.bytes, "B")} on the link in ${secs(p.time)} = ${si(p.bw, "B/s")}, ` +
      `${pct(p.share)} of the stage`);
    if (onSelect) c.addEventListener("click", () => onSelect(p.name));
  }
  const sel = points.find((p) => p.name === selected);
  if (sel) {
    const px = x(sel.bytes), py = y(Math.max(yLo, sel.bw));
    const left = px > box.right - 120;
    svgEl("text", { x: px + (left ? -10 : 10), y: py - 8, "text-anchor": left ? "end" : "start", class: "pt-label" },
      svg, sel.name);
  }
  return svg;
}

/** One line about the deployment under the Devices fieldset. */
export function deploymentText(report) {
  const p = report.parallelism, c = report.communication;
  if (p.devices === 1) return "One device. Set TP, PP, EP, attention DP or replicas to spread the model.";
  const s = p.system, coll = p.collectives;
  return `${int(p.devices)} × ${s.device} on ${s.name} (${p.nodes} node${p.nodes > 1 ? "s" : ""}); ` +
    `${coll.mode === "fitted" ? `fitted ${coll.library}` : `ideal ${coll.algorithm}`} collectives; ` +
    `decode step ${pct(c.decode_share)} communication${c.overlapped ? " (overlapped)" : ""}; tables: ${p.straggler}.`;
}
