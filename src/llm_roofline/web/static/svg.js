// Building SVG elements (the charts and the graph are hand-written SVG; no dependencies).

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
