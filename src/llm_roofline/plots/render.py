"""Drawing: each figure from its data object (``data.py``) with matplotlib's Agg canvas.

Formatting only: values are scaled to display units (ms, GB, TFLOP/s) and laid out; nothing here
computes FLOPs, bytes or times. Colours are shared by every figure: memory-bound operators and
regions in blue, compute-bound in vermillion (Okabe-Ito palette, readable by colour-blind readers).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from ..units import si
from .data import (
    BandwidthData,
    BreakdownData,
    FlashAttentionData,
    HardwareData,
    QuantizationData,
    RooflineData,
    SweepData,
)
from .measured import draw_measured, measured_handles, measured_x, measured_y
from .options import PlotError, image_format

MEMORY_COLOR = "#0072B2"
COMPUTE_COLOR = "#D55E00"
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F7F7F", "#F0E442", "#000000")
PART_COLORS = {"weights": "#0072B2", "KV cache": "#E69F00", "activations": "#009E73"}
KIND_COLORS = {"matmul": "#0072B2", "attention": "#D55E00", "norm": "#009E73", "elementwise": "#CC79A7",
               "embedding": "#E69F00", "conv": "#56B4E9", "scan": "#F0E442"}
STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 8.5,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.25, "grid.linewidth": 0.6, "lines.linewidth": 1.8,
    "legend.frameon": False, "svg.hashsalt": "llm-roofline", "figure.dpi": 100,
}
_METADATA = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None, "Producer": None}}
_EXTRA = {"png": {"pil_kwargs": {"optimize": True}}, "svg": {}, "pdf": {}}


# ------------------------------------------------------------------------------------------------
# common helpers
# ------------------------------------------------------------------------------------------------

def new_figure(size: tuple[float, float]) -> Figure:
    import matplotlib

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


def _log2_axis(ax, values) -> None:
    """Base-2 log axis with plain integer labels when the values span a wide range."""
    v = np.asarray(values, dtype=float)
    v = v[v > 0]
    if v.size and v.max() / v.min() >= 16:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}" if x >= 1 else f"{x:g}"))


def _plain(value: float, _pos=None) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:g}"


def log_y(ax) -> None:
    """Log-scale y axis labelled with plain numbers (minor ticks too when it spans about a decade)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))
    ax.yaxis.set_minor_formatter(FuncFormatter(
        lambda v, p: _plain(v) if _short_log_span(ax) and _leading(v) in (2, 3, 5) else ""))


def _leading(value: float) -> int:
    return int(round(value / 10 ** math.floor(math.log10(value)))) if value > 0 else 0


def _short_log_span(ax) -> bool:
    lo, hi = ax.get_ylim()
    return lo > 0 and hi / lo < 25


def _maybe_log_y(ax, *arrays) -> None:
    v = np.concatenate([np.ravel(a) for a in arrays]).astype(float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size and v.max() / v.min() > 60:
        log_y(ax)


def _fits_plot(ax, x, y, fits, color, label, **kw) -> None:
    """A curve that is solid where the scenario fits in memory and faint where it does not."""
    x, y, fits = np.asarray(x), np.asarray(y), np.asarray(fits, dtype=bool)
    ok = np.where(fits, y, np.nan)
    ax.plot(x, ok, color=color, label=label, **kw)
    if not fits.all():
        over = fits.copy()
        over[:-1] |= ~fits[1:]  # keep the curve joined at the capacity edge
        ax.plot(x, np.where(~fits | (over & ~np.roll(fits, -1)), y, np.nan), color=color, alpha=0.35,
                linestyle=(0, (2, 2)), **kw)


def _title(fig: Figure, title: str | None, default: str) -> None:
    fig.suptitle(title if title is not None else default, fontsize=11.5)


# ------------------------------------------------------------------------------------------------
# roofline
# ------------------------------------------------------------------------------------------------

def _cluster(xs: np.ndarray, ys: np.ndarray, tol: float = 0.045) -> list[list[int]]:
    """Indices of points that would sit on top of each other on log-log axes (within ``tol`` decades)."""
    lx, ly = np.log10(xs), np.log10(ys)
    clusters: list[list[int]] = []
    for i in np.argsort(lx):
        for c in clusters:
            j = c[0]
            if abs(lx[i] - lx[j]) < tol and abs(ly[i] - ly[j]) < tol:
                c.append(int(i))
                break
        else:
            clusters.append([int(i)])
    return clusters


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
        if abs(dx) + abs(dy) > 24 or cost > 0:
            ann.arrow_patch = None
            ann.remove()
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=7.5,
                              ha="left" if dx > 0 else "right" if dx < 0 else "center",
                              va="bottom" if dy > 0 else "top", color="#222222", zorder=6, annotation_clip=False,
                              arrowprops=dict(arrowstyle="-", color="#999999", lw=0.6, shrinkA=1, shrinkB=4))
        placed.append(box)
        out.append(ann)
    return out


def _share(v: float) -> str:
    if v < 0.01:
        return "<1%"
    return ">99%" if 0.99 < v < 1 else f"{100 * v:.0f}%"


def draw_roofline(data: RooflineData, *, size=None, title=None) -> Figure:
    stages = data.stages
    fig = new_figure(size or (6.2 * len(stages), 5.4))
    sc = data.scenario
    default = (f"{data.model} on {data.hardware}\nbatch {sc['batch_size']}, prompt {sc['prompt_len']}, "
               f"W{sc['w_bits']:g}A{sc['a_bits']:g}KV{sc['kv_bits']:g}"
               + (", FlashAttention" if sc["flash_attention"] else ""))
    _title(fig, title, default)
    axes = fig.subplots(1, len(stages), sharey=True, squeeze=False)[0]
    shown = [s.arithmetic_intensity[(s.flops > 0) & (s.arithmetic_intensity > 0)] for s in stages]
    perf = [s.performance_flops_per_s[(s.flops > 0) & (s.performance_flops_per_s > 0)] for s in stages]
    all_x = np.concatenate(shown + [np.array(list(data.ridge_points.values()))] + measured_x(data.measured))
    all_y = np.concatenate(perf + [np.array(list(data.ceilings.values()))] + measured_y(data.measured))
    x_lo = 10 ** math.floor(math.log10(all_x.min() / 2))
    x_hi = 10 ** math.ceil(math.log10(all_x.max() * 3))
    y_lo = 10 ** math.floor(math.log10(all_y.min() / 3))
    y_hi = all_y.max() * 4
    grid_x = np.logspace(math.log10(x_lo), math.log10(x_hi), 400)
    first = next(iter(data.ceilings))
    ridge = data.ridge_points[first]
    pending = []
    for ax, stage in zip(axes, stages, strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(y_lo / 1e12, y_hi / 1e12)
        ax.axvspan(x_lo, ridge, color=MEMORY_COLOR, alpha=0.07, lw=0)
        ax.axvspan(ridge, x_hi, color=COMPUTE_COLOR, alpha=0.07, lw=0)
        ax.text(0.02, 0.98, "memory-bound", transform=ax.transAxes, color=MEMORY_COLOR, fontsize=8.5,
                va="top", ha="left", fontweight="bold")
        ax.text(0.98, 0.02, "compute-bound", transform=ax.transAxes, color=COMPUTE_COLOR, fontsize=8.5,
                va="bottom", ha="right", fontweight="bold")
        for i, (label, peak) in enumerate(data.ceilings.items()):
            style = "-" if i == 0 else (0, (5, 2)) if i == 1 else (0, (2, 1.5))
            ax.plot(grid_x, data.roof(label, grid_x) / 1e12, color="#333333", lw=1.6 if i == 0 else 1.1,
                    linestyle=style, zorder=3)
            r = data.ridge_points[label]
            above = peak == max(data.ceilings.values())  # the top ceiling is labelled above its line
            ax.annotate(f"{label} peak {si(peak, 'FLOP/s')}", (r, peak / 1e12), xytext=(8, 3 if above else -3),
                        textcoords="offset points", ha="left", va="bottom" if above else "top", fontsize=8,
                        color="#333333")
            ax.plot([r], [peak / 1e12], marker="D", color="#333333", ms=5, zorder=4)
            ax.axvline(r, color="#333333", lw=0.7, ls=":", zorder=2)
            ax.annotate(f"ridge {r:.3g} FLOP/B", (r, y_lo / 1e12), xytext=(-3, 40), textcoords="offset points",
                        fontsize=7.5, color="#333333", rotation=90, ha="right", va="bottom")
        at = x_lo * 4
        ax.annotate(si(data.bandwidth_bytes_per_s, "B/s"), (at, float(data.roof(first, at)) / 1e12), xytext=(5, -3),
                    textcoords="offset points", fontsize=8, color="#333333", va="top")
        keep = (stage.flops > 0) & (stage.arithmetic_intensity > 0) & (stage.performance_flops_per_s > 0)
        idx = np.flatnonzero(keep)
        xs, ys = stage.arithmetic_intensity[idx], stage.performance_flops_per_s[idx]
        sizes = 18 + 260 * stage.time_share[idx]
        colors = [COMPUTE_COLOR if stage.compute_bound[i] else MEMORY_COLOR for i in idx]
        ax.scatter([stage.total_intensity], [stage.total_performance_flops_per_s / 1e12], marker="*", s=230,
                   facecolors="none", edgecolors="#222222", linewidths=1.0, zorder=6)
        ax.scatter(xs, ys / 1e12, s=sizes, c=colors, edgecolors="white", linewidths=0.6, zorder=5, alpha=0.9)
        draw_measured(ax, data.measured, grid_x)
        ax.set_title(f"{stage.stage}: {_fmt_time(stage.total_time_s)} in total")
        ax.set_xlabel("Arithmetic intensity (FLOP/byte)")
        hidden = [n for n, f in zip(stage.names, stage.flops, strict=True) if not f > 0]
        if hidden:
            ax.text(0.02, 0.92, "no FLOPs, not shown: " + ", ".join(hidden), transform=ax.transAxes, fontsize=7,
                    color="#555555", va="top")
        labels = []
        for c in _cluster(xs, ys):
            names = [stage.names[idx[i]] for i in c]
            share = float(stage.time_share[idx[c]].sum())
            text = "\n".join(textwrap.wrap(", ".join(names), 30)) + f" ({_share(share)})"
            labels.append((float(xs[c[0]]), float(ys[c[0]] / 1e12), text, share))
        labels.sort(key=lambda t: -t[3])
        pending.append((ax, [(x, y, t) for x, y, t, _ in labels]))
    axes[0].set_ylabel("Attainable performance (TFLOP/s)")
    handles = [Line2D([], [], marker="o", ls="", color=MEMORY_COLOR, label="memory-bound operator"),
               Line2D([], [], marker="o", ls="", color=COMPUTE_COLOR, label="compute-bound operator"),
               Line2D([], [], marker="*", ls="", mfc="none", mec="#222222", ms=11, label="whole stage"),
               Line2D([], [], marker="D", ls="", color="#333333", label="ridge point")]
    handles += measured_handles(data.measured)
    fig.legend(handles=handles, loc="outside lower center", ncols=4 if len(stages) > 1 or data.measured is None else 3,
               fontsize=8.5,
               title="marker area ~ share of the stage's time; labels: operators (share of time)",
               title_fontsize=8)
    fig.canvas.draw()
    fig.set_layout_engine("none")  # freeze the layout so that label positions stay where they were checked
    for ax, points in pending:
        place_labels(ax, points)
    return fig


def _fmt_time(seconds_value: float) -> str:
    from ..units import seconds

    return seconds(seconds_value)


# ------------------------------------------------------------------------------------------------
# sweeps
# ------------------------------------------------------------------------------------------------

_X_LABELS = {"batch_size": "Batch size (sequences)", "prompt_len": "Sequence length (prompt tokens)"}


def _fixed_text(fixed: dict) -> str:
    from .data import scenario_label

    return scenario_label(fixed)


def draw_sweep(data: SweepData, *, size=None, title=None) -> Figure:
    fig = new_figure(size or (13.0, 4.2))
    ax_lat, ax_thr, ax_mem = fig.subplots(1, 3)
    lat_scale, lat_unit = time_unit(np.concatenate([s.latency_s for s in data.series]))
    for i, s in enumerate(data.series):
        color = PALETTE[i % len(PALETTE)]
        label = s.label
        if data.x_name == "batch_size" and len(set(s.max_batch_size.tolist())) == 1:
            label += f" (fits up to batch {s.max_batch_size[0]:,.0f})"
        _fits_plot(ax_lat, s.x, s.latency_s / lat_scale, s.fits, color, label)
        _fits_plot(ax_thr, s.x, s.throughput_tokens_per_s, s.fits, color, label)
        _fits_plot(ax_mem, s.x, s.total_bytes / 1e9, s.fits, color, label)
    ax_mem.axhline(data.capacity_bytes / 1e9, color="#222222", lw=1.2, ls="--")
    ax_mem.annotate(f"device memory {si(data.capacity_bytes, 'B')}", (0.02, data.capacity_bytes / 1e9),
                    xycoords=("axes fraction", "data"), xytext=(0, 4), textcoords="offset points", fontsize=8)
    top = max(max(np.nanmax(s.total_bytes) for s in data.series), data.capacity_bytes) / 1e9
    ax_mem.set_ylim(0, min(top, 1.8 * data.capacity_bytes / 1e9) * 1.12)
    latency = "Time per output token" if data.gen_len > 0 else "Decode step latency"
    ax_lat.set_ylabel(f"{latency} ({lat_unit})")
    ax_thr.set_ylabel("Throughput (tokens/s)" + (" incl. prefill" if data.gen_len > 0 else ", decode"))
    ax_mem.set_ylabel("Memory footprint (GB)")
    for ax in (ax_lat, ax_thr, ax_mem):
        ax.set_xlabel(_X_LABELS[data.x_name])
        _log2_axis(ax, data.series[0].x)
    _maybe_log_y(ax_lat, *[s.latency_s for s in data.series])
    _maybe_log_y(ax_thr, *[s.throughput_tokens_per_s for s in data.series])
    if ax_lat.get_yscale() == "linear":
        ax_lat.set_ylim(bottom=0)
    if ax_thr.get_yscale() == "linear":
        ax_thr.set_ylim(bottom=0)
    handles, labels = ax_lat.get_legend_handles_labels()
    if any(not s.fits.all() for s in data.series):
        handles.append(Line2D([], [], color="#777777", alpha=0.5, ls=(0, (2, 2))))
        labels.append("does not fit in memory")
    if len(data.series) > 1 or len(handles) > 1:
        ax_lat.legend(handles, labels, loc="upper left")
    fixed = _fixed_text({k: v for k, v in data.fixed.items() if not (k == "gen_len" and v == 0)})
    kind = "batch size" if data.x_name == "batch_size" else "sequence length"
    default = f"{data.model} on {data.hardware}: serving vs {kind}" + (f" ({fixed})" if fixed else "")
    if data.gen_len > 0:
        default += f", {data.gen_len} generated tokens"
    _title(fig, title, default)
    return fig


# ------------------------------------------------------------------------------------------------
# quantization
# ------------------------------------------------------------------------------------------------

def _bits_label(w, a, kv) -> str:
    if w == 16 and a == 16 and kv == 16:
        return "FP16"
    parts = [f"W{w}"] + ([f"A{a}"] if a != 16 else []) + ([f"KV{kv}"] if kv != 16 else [])
    return "".join(parts)


def draw_memory_bars(ax, mem, legend=True) -> None:
    n_s, n_c = len(mem.scenarios), len(mem.configs)
    width, gap = 0.8, 1.0
    xs, ticks = [], []
    for s in range(n_s):
        for c in range(n_c):
            xs.append(s * (n_c + gap) + c)
            ticks.append(mem.configs[c])
    xs = np.array(xs)
    rel = mem.relative.reshape(n_s * n_c, 3)
    bottom = np.zeros(len(xs))
    for k, part in enumerate(PART_COLORS):
        ax.bar(xs, rel[:, k], width, bottom=bottom, color=PART_COLORS[part], label=part, edgecolor="white",
               linewidth=0.5)
        bottom += rel[:, k]
    for x, total, top in zip(xs, mem.total_bytes.ravel(), bottom, strict=True):
        ax.annotate(f"{total / 1e9:.3g}", (x, top), xytext=(0, 2), textcoords="offset points", ha="center",
                    fontsize=7)
    ax.set_xticks(xs, ticks, rotation=90, fontsize=8)
    for s, (b, p) in enumerate(mem.scenarios):
        center = s * (n_c + gap) + (n_c - 1) / 2
        ax.annotate(f"batch {b}, prompt {p}", (center, 1.12), xycoords=("data", "data"), ha="center",
                    fontsize=8.5, fontweight="bold")
    ax.set_ylim(0, 1.22)
    ax.set_ylabel(f"Memory relative to {mem.configs[0]}")
    ax.grid(axis="x", visible=False)
    if legend:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8.5)


def draw_quantization(data: QuantizationData, *, size=None, title=None) -> Figure:
    fig = new_figure(size or (11.0, 8.0))
    grid = fig.add_gridspec(2, 2)
    ax_dec, ax_pre = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    ax_mem = fig.add_subplot(grid[1, :])
    d_scale, d_unit = time_unit(data.decode_time_s)
    p_scale, p_unit = time_unit(data.prefill_time_s)
    for i, w in enumerate(data.w_bits):
        color = PALETTE[i % len(PALETTE)]
        label = _bits_label(w, data.a_bits, data.kv_bits)
        ax_dec.plot(data.batch_sizes, data.decode_time_s[i] / d_scale, color=color, label=label)
        ax_pre.plot(data.prompt_lens, data.prefill_time_s[i] / p_scale, color=color, label=label)
    ax_dec.set_xlabel("Batch size (sequences)")
    ax_dec.set_ylabel(f"Decode step time ({d_unit})")
    ax_dec.set_title(f"decode, KV length {data.decode_prompt_len}")
    ax_dec.set_ylim(bottom=0)
    _log2_axis(ax_dec, data.batch_sizes)
    ax_pre.set_xlabel("Sequence length (prompt tokens)")
    ax_pre.set_ylabel(f"Prefill time ({p_unit})")
    ax_pre.set_title(f"prefill, batch {data.prefill_batch_size}")
    _log2_axis(ax_pre, data.prompt_lens)
    _maybe_log_y(ax_pre, data.prefill_time_s)
    ax_dec.legend(title="weights", loc="upper left")
    draw_memory_bars(ax_mem, data.memory)
    ax_mem.set_title("memory footprint (weights, KV cache of the prompt, peak activations); GB on top")
    _title(fig, title, f"{data.model} on {data.hardware}: weight quantization")
    return fig


# ------------------------------------------------------------------------------------------------
# FlashAttention
# ------------------------------------------------------------------------------------------------

def draw_flash_attention(data: FlashAttentionData, *, size=None, title=None) -> Figure:
    fig = new_figure(size or (11.0, 7.6))
    axes = fig.subplots(2, 2)
    panels = [(0, 0, data.prefill_bytes, "bytes", "prefill: memory traffic"),
              (0, 1, data.prefill_time_s, "time", "prefill: time"),
              (1, 0, data.decode_bytes, "bytes", "decode step: memory traffic"),
              (1, 1, data.decode_time_s, "time", "decode step: time")]
    for r, c, values, what, name in panels:
        ax = axes[r, c]
        scale, unit = (1e9, "GB") if what == "bytes" else time_unit(values)
        for b in range(len(data.batch_sizes)):
            color = PALETTE[b % len(PALETTE)]
            ax.plot(data.prompt_lens, values[0, b] / scale, color=color, marker="o", ms=3.5)
            ax.plot(data.prompt_lens, values[1, b] / scale, color=color, marker="s", ms=3.5, ls="--")
        ax.set_title(name)
        ax.set_xlabel("Sequence length (prompt tokens)")
        ax.set_ylabel(("Memory traffic" if what == "bytes" else "Time") + f" ({unit})")
        _log2_axis(ax, data.prompt_lens)
        log_y(ax)
    handles = [Line2D([], [], color=PALETTE[b % len(PALETTE)], label=f"batch {batch:g}")
               for b, batch in enumerate(data.batch_sizes)]
    handles += [Line2D([], [], color="#444444", marker="o", ms=3.5, label="standard attention"),
                Line2D([], [], color="#444444", marker="s", ms=3.5, ls="--", label="FlashAttention")]
    axes[0, 0].legend(handles=handles, loc="upper left")
    _title(fig, title, f"{data.model} on {data.hardware}: with and without FlashAttention (KV length = prompt)")
    return fig


# ------------------------------------------------------------------------------------------------
# bandwidth and hardware
# ------------------------------------------------------------------------------------------------

def draw_bandwidth(data: BandwidthData, *, size=None, title=None) -> Figure:
    fig = new_figure(size or (11.0, 4.2))
    ax_t, ax_r = fig.subplots(1, 2)
    scale, unit = time_unit(data.decode_time_s)
    bw = data.bandwidths / 1e12
    for i, b in enumerate(data.batch_sizes):
        color = PALETTE[i % len(PALETTE)]
        ax_t.plot(bw, data.decode_time_s[i] / scale, color=color, marker="o", ms=3, label=f"batch {b:g}")
        ax_r.plot(bw, data.throughput_tokens_per_s[i], color=color, marker="o", ms=3, label=f"batch {b:g}")
    for ax in (ax_t, ax_r):
        ax.axvline(data.device_bandwidth_bytes_per_s / 1e12, color="#222222", lw=1, ls=":")
        ax.annotate(f"{data.hardware.replace(' (custom)', '')}: {si(data.device_bandwidth_bytes_per_s, 'B/s')}",
                    (data.device_bandwidth_bytes_per_s / 1e12, 0.97), xycoords=("data", "axes fraction"),
                    xytext=(4, 0), textcoords="offset points", fontsize=8, va="top")
        ax.set_xlabel("Memory bandwidth (TB/s)")
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
    ax_t.set_ylabel(f"Decode step time ({unit})")
    ax_r.set_ylabel("Decode throughput (tokens/s)")
    if len(data.batch_sizes) > 1:
        ax_t.legend(loc="upper right")
    batch = f"batch {data.batch_sizes[0]:g}, " if len(data.batch_sizes) == 1 else ""
    default = (f"{data.model}: decode vs memory bandwidth, {si(data.peak_flops_per_s, 'FLOP/s')} 16-bit peak, "
               f"{batch}KV length {data.prompt_len}")
    _title(fig, title, default)
    return fig


def draw_hardware(data: HardwareData, *, size=None, title=None) -> Figure:
    panels = [("decode", "Decode step time", data.decode_time_s), ("ttft", "Prefill time (TTFT)", data.ttft_s),
              ("thr", "Throughput (tokens/s)", data.throughput_tokens_per_s)]
    if data.throughput_per_usd is not None:
        panels.append(("usd", "Throughput per USD (tokens/s/$)", data.throughput_per_usd))
    n = len(data.devices)
    fig = new_figure(size or (3.3 * len(panels) + 1.6, 1.2 + 0.42 * n))
    axes = fig.subplots(1, len(panels), sharey=True)
    y = np.arange(n)[::-1]
    for ax, (key, name, values) in zip(axes, panels, strict=True):
        if key in ("decode", "ttft"):
            scale, unit = time_unit(values)
            name = f"{name} ({unit})"
        else:
            scale = 1.0
        colors = [PALETTE[i % len(PALETTE)] for i in range(n)]
        bars = ax.barh(y, values / scale, color=colors, height=0.62)
        for bar, fits in zip(bars, data.fits, strict=True):
            if not fits:
                bar.set_hatch("////")
                bar.set_alpha(0.45)
        for yy, v in zip(y, values / scale, strict=True):
            ax.annotate(_plain(float(f"{v:.3g}")), (v, yy), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=7.5)
        ax.set_xlabel(name)
        ax.set_xlim(0, np.nanmax(values / scale) * 1.22)
        ax.grid(axis="y", visible=False)
    axes[0].set_yticks(y, data.devices)
    sc = data.scenario
    default = (f"{data.model}: batch {sc['batch_size']}, prompt {sc['prompt_len']}"
               + (f", {sc['gen_len']} generated" if sc["gen_len"] else "")
               + f", W{sc['w_bits']:g}A{sc['a_bits']:g}KV{sc['kv_bits']:g}")
    if not data.fits.all():
        default += "  (hatched: does not fit in memory)"
    _title(fig, title, default)
    return fig


# ------------------------------------------------------------------------------------------------
# breakdown
# ------------------------------------------------------------------------------------------------

def draw_breakdown(data: BreakdownData, *, size=None, title=None, share: bool = False, top: int = 8) -> Figure:
    n = len(data.scenarios)
    fig = new_figure(size or (max(7.5, 2.5 + 1.3 * n), 4.6))
    axes = fig.subplots(1, 2)
    # With many groups (per operator), keep the ``top`` slowest over both stages and lump the rest.
    weight = data.prefill_time_s.sum(1) / max(data.prefill_total_s.sum(), 1e-30) + \
        data.decode_time_s.sum(1) / max(data.decode_total_s.sum(), 1e-30)
    order = list(np.argsort(-weight))
    keep, rest = order[:top], order[top:]
    for ax, values, totals, stage in ((axes[0], data.prefill_time_s, data.prefill_total_s, "prefill"),
                                      (axes[1], data.decode_time_s, data.decode_total_s, "decode step")):
        rows = [(data.groups[i], values[i]) for i in keep]
        if rest:
            rows.append((f"{len(rest)} other", values[rest].sum(0)))
        scale, unit = (1.0, "") if share else time_unit(totals)
        x = np.arange(n)
        bottom = np.zeros(n)
        for j, (name, v) in enumerate(rows):
            shown = v / totals if share else v / scale
            color = KIND_COLORS.get(name, PALETTE[(j + 2) % len(PALETTE)]) if data.group_by == "kind" else \
                PALETTE[j % len(PALETTE)]
            if name.endswith("other"):
                color = "#BBBBBB"
            ax.bar(x, shown, 0.6, bottom=bottom, color=color, label=name, edgecolor="white", linewidth=0.5)
            bottom += shown
        if not share:
            for xx, t in zip(x, totals, strict=True):
                ax.annotate(_fmt_time(t), (xx, t / scale), xytext=(0, 2), textcoords="offset points",
                            ha="center", fontsize=7.5)
            ax.set_ylim(0, bottom.max() * 1.12)
        ax.set_xticks(x, data.scenarios, rotation=30 if n > 3 else 0, ha="right" if n > 3 else "center")
        ax.set_title(stage)
        ax.set_ylabel("Share of time" if share else f"Time ({unit})")
        ax.grid(axis="x", visible=False)
        if share:
            ax.set_ylim(0, 1.04)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="outside right center", title="operator " + data.group_by)
    _title(fig, title, f"{data.model} on {data.hardware}: time by operator {data.group_by}")
    return fig


__all__ = ["COMPUTE_COLOR", "MEMORY_COLOR", "draw_bandwidth",
           "draw_breakdown", "draw_flash_attention", "draw_hardware", "draw_memory_bars", "draw_quantization",
           "draw_roofline", "draw_sweep", "new_figure", "place_labels", "save"]
