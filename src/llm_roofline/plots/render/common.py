"""Shared look of every figure: colours, matplotlib style, the canvas, saving, and axis helpers.

Colours: memory-bound operators and regions in blue, compute-bound in vermillion (Okabe-Ito
palette, readable by colour-blind readers)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..options import PlotError, image_format

MEMORY_COLOR = "#0072B2"
COMPUTE_COLOR = "#D55E00"
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F7F7F", "#F0E442", "#000000")
PART_COLORS = {"weights": "#0072B2", "KV cache": "#E69F00", "activations": "#009E73"}
KIND_COLORS = {"matmul": "#0072B2", "attention": "#D55E00", "norm": "#009E73", "elementwise": "#CC79A7",
               "embedding": "#E69F00", "conv": "#56B4E9", "scan": "#F0E442", "communication": "#7F7F7F"}
STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 8.5,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.25, "grid.linewidth": 0.6, "lines.linewidth": 1.8,
    "legend.frameon": False, "svg.hashsalt": "llm-roofline", "figure.dpi": 100,
}
_METADATA = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None, "Producer": None}}
_EXTRA = {"png": {"pil_kwargs": {"optimize": True}}, "svg": {}, "pdf": {}}


def new_figure(size: tuple[float, float], minimum: tuple[float, float] = (3.0, 2.5)) -> Figure:
    """An empty figure of ``size`` inches (width, height); a size below ``minimum``, where the panels
    would have no room left beside their labels, is an error that names the smallest that works."""
    import matplotlib

    if size[0] < minimum[0] - 1e-9 or size[1] < minimum[1] - 1e-9:
        raise PlotError(f"size {size[0]:g}x{size[1]:g} inches is too small for this kind: it needs at least "
                        f"{minimum[0]:g}x{minimum[1]:g}")

    matplotlib.rcParams.update(STYLE)
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str, *, dpi: float = 150) -> str:
    """Write ``fig`` to ``path`` in the format its extension names (png, svg, pdf)."""
    fmt = image_format(path)
    try:
        fig.savefig(path, format=fmt, dpi=dpi, metadata=_METADATA[fmt], **_EXTRA[fmt])
    except OSError as exc:
        raise PlotError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def time_unit(values) -> tuple[float, str]:
    """Scale that shows the largest finite value of ``values`` (seconds) in s, ms or us."""
    top = np.nanmax(np.abs(np.asarray(values, dtype=float))) if np.size(values) else 0.0
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if top >= scale:
            return scale, unit
    return 1e-9, "ns"


def log2_axis(ax, values) -> None:
    """Base-2 log axis with plain integer labels when the values span a wide range."""
    v = np.asarray(values, dtype=float)
    v = v[v > 0]
    if v.size and v.max() / v.min() >= 16:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}" if x >= 1 else f"{x:g}"))


def plain(value: float, _pos=None) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:g}"


def log_y(ax) -> None:
    """Log-scale y axis labelled with plain numbers (minor ticks too when it spans about a decade)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(plain))
    ax.yaxis.set_minor_formatter(FuncFormatter(
        lambda v, p: plain(v) if _short_log_span(ax) and _leading(v) in (2, 3, 5) else ""))


def _leading(value: float) -> int:
    return int(round(value / 10 ** math.floor(math.log10(value)))) if value > 0 else 0


def _short_log_span(ax) -> bool:
    lo, hi = ax.get_ylim()
    return lo > 0 and hi / lo < 25


def maybe_log_y(ax, *arrays) -> None:
    v = np.concatenate([np.ravel(a) for a in arrays]).astype(float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size and v.max() / v.min() > 60:
        log_y(ax)


def fits_plot(ax, x, y, fits, color, label, **kw) -> None:
    """A curve that is solid where the scenario fits in memory and faint where it does not."""
    x, y, fits = np.asarray(x), np.asarray(y), np.asarray(fits, dtype=bool)
    ok = np.where(fits, y, np.nan)
    ax.plot(x, ok, color=color, label=label, **kw)
    if not fits.all():
        over = fits.copy()
        over[:-1] |= ~fits[1:]  # keep the curve joined at the capacity edge
        ax.plot(x, np.where(~fits | (over & ~np.roll(fits, -1)), y, np.nan), color=color, alpha=0.35,
                linestyle=(0, (2, 2)), **kw)


def set_title(fig: Figure, title: str | None, default: str) -> None:
    """The figure's title, wrapped onto more lines where the figure is narrower than the text."""
    fig.suptitle(title if title is not None else default, fontsize=11.5, wrap=True)


def wrap_axis_labels(fig: Figure, *, below=None, right=None) -> None:
    """An axis label longer than its panel (narrow figures, several panels side by side) breaks
    before its parenthesis, 'Batch size (sequences)' -> 'Batch size' over '(sequences)', so that
    neighbouring labels never run into each other or off the figure. A panel's size is its grid
    cell's share of the figure less the legend ``below`` or at the ``right`` of the panels, taken
    before the layout runs (measuring after it would double the cost of a figure)."""
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width - (right.get_window_extent(renderer).width if right is not None else 0.0)
    height = fig.bbox.height - (below.get_window_extent(renderer).height if below is not None else 0.0)
    for ax in fig.axes:
        cell = ax.get_position(original=True)
        for label, room in ((ax.xaxis.label, cell.width * width), (ax.yaxis.label, cell.height * height)):
            text = label.get_text()
            extent = label.get_window_extent(renderer)
            if max(extent.width, extent.height) > 0.95 * room and " (" in text and "\n" not in text:
                label.set_text(text.replace(" (", "\n(", 1))


LEGEND_SHARE = 0.35  # of the figure's height (bottom) or width (right) a legend may take before it grows


def figure_legend(fig: Figure, handles, labels, *, where: str = "bottom", **kwargs):
    """A legend outside every panel, so that it never covers data: below the panels with as many
    columns as the figure's width holds (``where='bottom'``), or at their right with as many rows as
    its height holds (``'right'``). A legend larger than ``LEGEND_SHARE`` of the figure makes the
    figure grow by the difference, so the panels keep their size however many curves there are."""
    if not handles:
        return None
    bottom = where == "bottom"
    renderer = fig.canvas.get_renderer()

    def make(ncols: int):
        return fig.legend(handles, labels, loc="outside lower center" if bottom else "outside right upper",
                          ncols=ncols, **kwargs)

    n = len(handles)
    if bottom:  # the widest layout that fits: one row if it can, else fewer columns
        room = 0.98 * fig.bbox.width
        legend = make(n)
        wide = legend.get_window_extent(renderer).width
        ncols = max(1, min(n - 1, int(n * room / wide) + 1))  # a first guess from the one-row width
        while wide > room:
            legend.remove()
            legend = make(ncols)
            wide = legend.get_window_extent(renderer).width
            if ncols == 1:
                break
            ncols -= 1
    else:  # one column if it is short enough, else as many columns as make it fit the height
        room = 0.95 * fig.bbox.height
        legend = make(1)
        ncols = 1
        while legend.get_window_extent(renderer).height > room and ncols < n:
            ncols += 1
            legend.remove()
            legend = make(ncols)
    box = legend.get_window_extent(renderer)
    width, height = fig.get_size_inches()
    if bottom and box.height > LEGEND_SHARE * fig.bbox.height:
        fig.set_size_inches(width, height + (box.height - LEGEND_SHARE * fig.bbox.height) / fig.dpi)
    if not bottom and box.width > LEGEND_SHARE * fig.bbox.width:
        fig.set_size_inches(width + (box.width - LEGEND_SHARE * fig.bbox.width) / fig.dpi, height)
    return legend


def fmt_time(seconds_value: float) -> str:
    from ...units import seconds

    return seconds(seconds_value)
