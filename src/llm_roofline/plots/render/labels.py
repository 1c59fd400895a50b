"""Operator labels placed next to their points without overlapping each other, markers or the edge."""

from __future__ import annotations

from collections.abc import Sequence

_OFFSETS = [(8, 4), (8, -12), (-8, 4), (-8, -12), (0, 10), (0, -18), (14, 16), (14, -26), (-14, 16),
            (-14, -26), (22, -4), (-22, -4), (6, 28), (6, -40), (-6, 28), (-6, -40), (30, 22), (30, -34),
            (-30, 22), (-30, -34), (40, 6), (-40, 6), (10, 44), (10, -56), (-10, 44), (-10, -56)]


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def place_labels(ax, points: Sequence[tuple[float, float, str]], marker_px: float = 7.0) -> list:
    """Annotate each (x, y, text) near its point where it overlaps no other label, marker or the axes'
    edge, trying offsets in order of distance; labels that find no free place get a leader line."""
    from matplotlib.transforms import Bbox

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    axes_box = ax.get_window_extent(renderer)
    markers = [Bbox.from_extents(px - marker_px, py - marker_px, px + marker_px, py + marker_px)
               for px, py in (ax.transData.transform((x, y)) for x, y, _ in points)]
    placed: list = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]  # fixed texts are obstacles
    out = []
    for k, (x, y, text) in enumerate(points):
        best = None
        for dx, dy in _OFFSETS:
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=7.5,
                              ha="left" if dx > 0 else "right" if dx < 0 else "center",
                              va="bottom" if dy > 0 else "top", color="#222222", zorder=6,
                              annotation_clip=False)
            box = ann.get_window_extent(renderer)
            inside = (box.x0 >= axes_box.x0 and box.x1 <= axes_box.x1 and box.y0 >= axes_box.y0
                      and box.y1 <= axes_box.y1)
            cost = sum(_overlap(box, b) for b in placed) + sum(
                _overlap(box, m) for j, m in enumerate(markers) if j != k) + (0 if inside else 1e6)
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, ann, box, (dx, dy))
            else:
                ann.remove()
            if cost == 0:
                break
        cost, ann, box, (dx, dy) = best
        ha, va = ann.get_horizontalalignment(), ann.get_verticalalignment()
        if cost >= 1e6:  # no place inside the panel: slide it in by its overflow (pixels -> points)
            dx += (max(axes_box.x0 - box.x0, 0.0) - max(box.x1 - axes_box.x1, 0.0)) * 72 / fig.dpi
            dy += (max(axes_box.y0 - box.y0, 0.0) - max(box.y1 - axes_box.y1, 0.0)) * 72 / fig.dpi
        if abs(dx) + abs(dy) > 24 or cost > 0:
            ann.remove()
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=7.5, ha=ha,
                              va=va, color="#222222", zorder=6, annotation_clip=False,
                              arrowprops=dict(arrowstyle="-", color="#999999", lw=0.6, shrinkA=1, shrinkB=4))
            box = ann.get_window_extent(renderer)
        placed.append(box)
        out.append(ann)
    return out
