// What a chart drew, for the browser tests (web_page.chart_geometry): label outlines (through their
// transforms), circles, sampled ceilings and marker lines, the plot box, the shaded region.
(sel) => {
  const svg = document.querySelector(sel + ' svg');
  if (!svg) return null;
  const at = (el, x, y) => { const m = el.getCTM(); return [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]; };
  const outline = (el) => { const b = el.getBBox();
    return [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]].map(([x, y]) => at(el, x, y)); };
  const sample = (el) => { const n = el.getTotalLength(), out = [];
    for (let s = 0; s <= n; s += 1) { const p = el.getPointAtLength(s); out.push(at(el, p.x, p.y)); } return out; };
  const labels = [...svg.querySelectorAll('text.ceiling-label, text.ridge-label, text.pt-label, text.pt-count, ' +
    'text.marker-label, text.capline-label')].map((el) => ({ cls: el.getAttribute('class'), text: el.textContent,
    poly: outline(el), rotated: (el.getAttribute('transform') || '').includes('rotate'), group: el.dataset.group || null }));
  const circles = [...svg.querySelectorAll('circle')].map((c) => { const [x, y] = at(c, +c.getAttribute('cx'), +c.getAttribute('cy'));
    return { x, y, r: +c.getAttribute('r'), op: c.dataset.op || null }; });
  const ceilings = [...svg.querySelectorAll('path.ceiling')].map((p) => ({ main: !p.classList.contains('alt'), points: sample(p) }));
  const markers = [...svg.querySelectorAll('line.capline, line.nowline, line.ridge')].map((l) => ({ cls: l.getAttribute('class'),
    x: l.dataset.x ? +l.dataset.x : null, points: sample(l) }));
  const axis = [...svg.querySelectorAll('g.axis line')];
  const v = axis.find((l) => l.getAttribute('x1') === l.getAttribute('x2'));
  const h = axis.find((l) => l.getAttribute('y1') === l.getAttribute('y2'));
  const box = { left: +v.getAttribute('x1'), top: +v.getAttribute('y1'), right: +h.getAttribute('x2'), bottom: +h.getAttribute('y1') };
  const fill = svg.querySelector('rect.overfill');
  const polygons = [...svg.querySelectorAll('polygon')].map((p) => ({ series: p.dataset.series,
    points: p.getAttribute('points').trim().split(/\s+/).map((xy) => xy.split(',').map(Number)) }));
  return { labels, circles, ceilings, markers, box, polygons,
    overfill: fill ? { x: +fill.getAttribute('x'), from: +fill.dataset.from } : null,
    width: +svg.getAttribute('width'), height: +svg.getAttribute('height') };
}
