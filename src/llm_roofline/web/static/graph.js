// The operator graph: one decoder layer as a layered DAG (ranks and slots come from /api/graph,
// edges are the engine's dataflow edges), or the whole model (embedding, N x layer, head).
import { svgEl, title } from "./svg.js";
import { pct, secs, si } from "./fmt.js";

const W = 158, H = 40, GAP_Y = 20, GAP_X = 12, LANE = 34, PAD = 14, PILL_H = 24;
const COLORS = { memory: [37, 99, 235], compute: [234, 88, 12], link: [100, 116, 139] };

function fill(bound, strength) {
  const [r, g, b] = COLORS[bound] || COLORS.memory;
  const t = 0.1 + 0.9 * strength;
  const mix = (c) => Math.round(255 + (c - 255) * t);
  return [`rgb(${mix(r)},${mix(g)},${mix(b)})`, t > 0.55 ? "#fff" : "#16181d"];
}

function shorten(name, max) {
  return name.length <= max ? name : `${name.slice(0, max - 1)}…`;
}

function nodeBox(svg, { x, y, name, label = null, count, op, strength, selected, onSelect, width = W, height = H,
  extra = null }) {
  const g = svgEl("g", { class: `node${selected ? " selected" : ""}`, transform: `translate(${x - width / 2},${y})`,
    "data-op": name, tabindex: 0, role: "button" }, svg);
  const bound = op ? op.bound : "memory";
  const [bg, ink] = fill(bound, strength);
  svgEl("rect", { class: "box", width, height, rx: 7, fill: bg }, g);
  const shown = label || name;
  const countText = count > 1 ? ` ×${count}` : "";
  const room = width - 14;
  const t1 = svgEl("text", { x: 7, y: 16, class: "n1", fill: ink }, g, shown);
  const cnt = countText ? svgEl("tspan", { class: "cnt" }, t1, countText) : null;
  // Shorten the name (keeping the count) until the line fits.
  for (let keep = shown.length - 1; keep > 3 && t1.getComputedTextLength() > room; keep--) {
    t1.firstChild.textContent = shorten(shown, keep);
  }
  if (cnt && t1.getComputedTextLength() > room) cnt.remove();
  if (op) {
    if (extra) {
      svgEl("text", { x: 7, y: 31, class: "n2", fill: ink }, g, extra);
    } else {
      // FLOPs and bytes on line 2 with the time at its right; if that is too long, the time moves up
      // next to the name when there is room there, else the bytes are left to the tooltip.
      const tm = svgEl("text", { x: width - 7, y: 31, class: "tm", fill: ink, "text-anchor": "end" }, g, secs(op.time_s));
      const t2 = svgEl("text", { x: 7, y: 31, class: "n2", fill: ink }, g, `${si(op.flops, "FLOP")} · ${si(op.bytes, "B")}`);
      const tw = tm.getComputedTextLength();
      if (t2.getComputedTextLength() > room - tw - 6) {
        if (t1.getComputedTextLength() <= room - tw - 8) tm.setAttribute("y", 16);
        else t2.textContent = si(op.flops, "FLOP");
      }
    }
    // Share-of-time bar along the bottom edge.
    const share = Math.max(0, Math.min(1, op.time_share || 0));
    svgEl("rect", { x: 0, y: height - 3, width: Math.max(share * width, share > 0 ? 2 : 0), height: 3, rx: 1.5,
      fill: ink === "#fff" ? "rgba(255,255,255,.85)" : "rgba(22,24,29,.55)" }, g);
    title(g, `${name}${countText}: ${op.bound}-bound, ${si(op.flops, "FLOP")}, ${si(op.bytes, "B")}, ` +
      `${secs(op.time_s)} per occurrence, ${pct(op.time_share)} of the stage`);
  }
  if (onSelect) {
    g.addEventListener("click", () => onSelect(name));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onSelect(name); } });
  }
  return g;
}

function pill(svg, x, y, text, width = 120) {
  const g = svgEl("g", { class: "pill", transform: `translate(${x - width / 2},${y})` }, svg);
  svgEl("rect", { width, height: PILL_H, rx: PILL_H / 2 }, g);
  svgEl("text", { x: width / 2, y: 16, "text-anchor": "middle" }, g, text);
  return g;
}

function defs(svg) {
  const d = svgEl("defs", {}, svg);
  for (const [id, color] of [["arrow", "#9aa3b2"], ["arrow-res", "#8b5cf6"]]) {
    const m = svgEl("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
      orient: "auto-start-reverse" }, d);
    svgEl("path", { d: "M0,0 L10,5 L0,10 z", fill: color }, m);
  }
}

function strengthOf(values) {
  const max = Math.max(1e-30, ...values.map((v) => v || 0));
  return (v) => Math.sqrt(Math.max(0, v || 0) / max);
}

/** One decoder layer. graph: a stage graph of /api/graph; ops: name -> numbers of the stage. */
export function drawLayer(container, { graph, meta, ops, selected, onSelect }) {
  container.replaceChildren();
  const nodes = graph.nodes.filter((n) => n.section === "layer");
  if (!nodes.length) return;
  const slots = nodes.map((n) => n.slot);
  const minSlot = Math.min(0, ...slots), maxSlot = Math.max(0, ...slots);
  const left = PAD + LANE + W / 2;
  const X = (slot) => left + (slot - minSlot) * (W + GAP_X);
  const Y = (rank) => PAD + PILL_H + GAP_Y + (rank - 1) * (H + GAP_Y);
  const maxRank = Math.max(...nodes.map((n) => n.rank));
  const width = X(maxSlot) + W / 2 + PAD;
  const height = Y(maxRank) + H + GAP_Y + PILL_H + PAD;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": "Operator graph of one decoder layer" }, container);
  defs(svg);
  const pos = new Map();
  const inputX = X(0);
  pos.set("layer_input", { x: inputX, y: PAD, h: PILL_H, rank: 0, w: 130 });
  for (const n of nodes) pos.set(n.name, { x: X(n.slot), y: Y(n.rank), h: H, rank: n.rank, w: W });
  // Group boxes (MoE experts) behind everything; their labels go on top of the edges, at the bottom.
  const groupText = [];
  const kinds = meta.layer_kinds || [];
  const moe = kinds.map((k) => k.ffn).find((f) => f && f.type === "moe");
  const groupLabels = { routed_experts: moe ? `router + routed experts: top-${moe.top_k} of ${moe.num_experts}` : "experts",
    shared_experts: "shared experts" };
  const prefixes = { routed_experts: meta.experts_prefix, shared_experts: meta.shared_experts_prefix };
  for (const group of ["routed_experts", "shared_experts"]) {
    const members = nodes.filter((n) => n.group === group).map((n) => pos.get(n.name));
    if (!members.length) continue;
    const x0 = Math.min(...members.map((p) => p.x - W / 2)) - 7, x1 = Math.max(...members.map((p) => p.x + W / 2)) + 7;
    const y0 = Math.min(...members.map((p) => p.y)) - 7, y1 = Math.max(...members.map((p) => p.y + H)) + 19;
    svgEl("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, rx: 9, class: "group-box" }, svg);
    groupText.push([x0 + 8, y1 - 6, groupLabels[group]]);
  }
  const labelOf = (n) => {
    const prefix = n.group ? prefixes[n.group] : null;
    return prefix && n.name.startsWith(prefix) ? n.name.slice(prefix.length) : n.name;
  };
  // Edges.
  const laneX = PAD + LANE / 2 - 4;
  const byRank = new Map();
  for (const n of nodes) {
    if (!byRank.has(n.rank)) byRank.set(n.rank, []);
    byRank.get(n.rank).push(pos.get(n.name));
  }
  const eg = svgEl("g", {}, svg);
  for (const e of graph.edges) {
    const s = pos.get(e.source), t = pos.get(e.target);
    if (!s || !t) continue;
    const sy = s.y + s.h, ty = t.y;
    let d;
    if (e.residual) {
      const sx = s.x - s.w / 2, tx = t.x - W / 2, my = s.y + s.h / 2, ny = t.y + H / 2;
      d = `M${sx},${my} L${laneX + 8},${my} Q${laneX},${my} ${laneX},${my + 8} L${laneX},${ny - 8} Q${laneX},${ny} ${laneX + 8},${ny} L${tx},${ny}`;
    } else if (t.rank - s.rank <= 1) {
      const mid = (sy + ty) / 2;
      d = `M${s.x},${sy} C${s.x},${mid} ${t.x},${mid} ${t.x},${ty}`;
    } else {
      // A long edge: run down a free column, then bend into the target.
      let rx = s.x;
      for (let r = s.rank + 1; r < t.rank; r++) {
        for (const p of byRank.get(r) || []) {
          if (Math.abs(p.x - rx) < W / 2 + 6) rx = rx >= p.x ? p.x + W / 2 + 8 : p.x - W / 2 - 8;
        }
      }
      const y1 = sy + GAP_Y / 2, y2 = ty - GAP_Y / 2;
      d = `M${s.x},${sy} C${s.x},${y1} ${rx},${sy} ${rx},${y1 + 4} L${rx},${y2 - 4} C${rx},${ty} ${t.x},${y2} ${t.x},${ty}`;
    }
    const p = svgEl("path", { d, class: `edge${e.residual ? " residual" : ""}`,
      "marker-end": `url(#${e.residual ? "arrow-res" : "arrow"})` }, eg);
    title(p, `${e.source} → ${e.target}${e.residual ? " (residual)" : ""}`);
  }
  for (const [gx, gy, text] of groupText) svgEl("text", { x: gx, y: gy, class: "group-label" }, svg, text);
  pill(svg, inputX, PAD, "layer input", 130);
  const out = graph.layer_output ? pos.get(graph.layer_output) : null;
  if (out) {
    const oy = out.y + H + GAP_Y;
    svgEl("path", { d: `M${out.x},${out.y + H} L${out.x},${oy}`, class: "edge", "marker-end": "url(#arrow)" }, eg);
    pill(svg, out.x, oy, "to next layer", 130);
  }
  const strength = strengthOf(nodes.map((n) => ops.get(n.name)?.time_share));
  for (const n of nodes) {
    const p = pos.get(n.name);
    const op = ops.get(n.name);
    nodeBox(svg, { x: p.x, y: p.y, name: n.name, label: labelOf(n), count: n.count, op,
      strength: op ? strength(op.time_share) : 0, selected: n.name === selected, onSelect });
  }
}

/** The whole model: embedding ops, the decoder layers as one block, the head ops. */
export function drawModel(container, { graph, meta, ops, selected, onSelect, onOpenLayer }) {
  container.replaceChildren();
  const embed = graph.nodes.filter((n) => n.section === "embedding");
  const layer = graph.nodes.filter((n) => n.section === "layer");
  const head = graph.nodes.filter((n) => n.section === "head");
  const BW = 300, BH = 62;
  const width = BW + 2 * PAD + 120;
  const cx = width / 2;
  const rows = embed.length + head.length;
  const height = PAD * 2 + PILL_H * 2 + (rows + 2) * (H + GAP_Y) + BH + 20;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": "The whole model" }, container);
  defs(svg);
  const agg = { flops: 0, bytes: 0, time_s: 0, time_share: 0, compute_time: 0 };
  for (const n of layer) {
    const op = ops.get(n.name);
    if (!op) continue;
    agg.flops += op.flops * op.count;
    agg.bytes += op.bytes * op.count;
    agg.time_s += op.time_s * op.count;
    agg.time_share += op.time_share;
    if (op.bound === "compute") agg.compute_time += op.time_s * op.count;
  }
  const all = [...embed, ...head].map((n) => ops.get(n.name)?.time_share || 0).concat([agg.time_share]);
  const strength = strengthOf(all);
  let y = PAD;
  pill(svg, cx, y, "tokens", 110);
  let prevBottom = y + PILL_H;
  const eg = svgEl("g", {}, svg);
  const link = (y1, y2) => svgEl("path", { d: `M${cx},${y1} L${cx},${y2}`, class: "edge", "marker-end": "url(#arrow)" }, eg);
  y += PILL_H + GAP_Y;
  const column = (nodes) => {  // model-end operators, one under the other
    for (const n of nodes) {
      link(prevBottom, y);
      const op = ops.get(n.name);
      nodeBox(svg, { x: cx, y, name: n.name, count: n.count, op, strength: op ? strength(op.time_share) : 0,
        selected: n.name === selected, onSelect, width: BW });
      prevBottom = y + H;
      y += H + GAP_Y;
    }
    link(prevBottom, y);
  };
  column(embed);
  const bound = agg.compute_time > agg.time_s / 2 ? "compute" : "memory";
  const computeShare = agg.time_s > 0 ? agg.compute_time / agg.time_s : 0;
  const kinds = (meta.layer_kinds || []).map((k) => `${k.count}× ${describe(k)}`).join(" + ");
  const block = nodeBox(svg, { x: cx, y, name: `decoder layer`, count: meta.num_layers, width: BW, height: BH,
    op: { ...agg, bound }, strength: strength(agg.time_share), selected: false,
    extra: `${si(agg.flops, "FLOP")} · ${si(agg.bytes, "B")} · ${secs(agg.time_s)} · ${pct(agg.time_share)}`,
    onSelect: onOpenLayer ? () => onOpenLayer() : null });
  block.classList.add("model-block");
  const [, ink] = fill(bound, strength(agg.time_share));
  svgEl("text", { x: 8, y: 50, class: "n2", fill: ink }, block,
    `${pct(computeShare, 0)} of its time compute-bound · ${kinds}`.slice(0, 52));
  prevBottom = y + BH;
  y += BH + GAP_Y;
  column(head);
  pill(svg, cx, y, "logits", 110);
  svg.setAttribute("height", y + PILL_H + PAD);
  svg.setAttribute("viewBox", `0 0 ${width} ${y + PILL_H + PAD}`);
}

function describe(kind) {
  const m = kind.mixer || {};
  let mixer = m.type === "latent_attention" ? "MLA" : m.type === "mamba" ? "Mamba" : "attention";
  if (m.type === "attention" && m.sliding_window) mixer = `sliding attention (${m.sliding_window})`;
  if (m.type === "attention" && m.attention_chunk) mixer = `chunked attention (${m.attention_chunk})`;
  if (m.type === "attention" && m.sinks) mixer += " with sinks";
  const f = kind.ffn;
  const ffn = !f ? "" : f.type === "moe" ? ` + MoE ${f.top_k}/${f.num_experts}` : " + MLP";
  return `${mixer}${ffn}`;
}
