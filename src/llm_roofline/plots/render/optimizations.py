"""The technique figures: operator fusion on the roofline (Fig. 15) and offloading's three rooflines
(Fig. 17-18). Drawing only: the data objects hold every number."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ...units import si
from ..data.optimizations import FusionData, OffloadData
from .common import (
    COMPUTE_COLOR,
    MEMORY_COLOR,
    PALETTE,
    figure_legend,
    fmt_time,
    new_figure,
    set_title,
    wrap_axis_labels,
)

ROOF_STYLES = ("-", (0, (5, 2)), (0, (2, 1.5)))


def _log_limits(xs, ys, ceilings) -> tuple[float, float, float, float]:
    x = np.concatenate([np.asarray(v, dtype=float) for v in xs])
    y = np.concatenate([np.asarray(v, dtype=float) for v in ys] + [np.asarray(ceilings, dtype=float)])
    x, y = x[x > 0], y[y > 0]
    return (10 ** math.floor(math.log10(x.min() / 2)), 10 ** math.ceil(math.log10(x.max() * 3)),
            10 ** math.floor(math.log10(y.min() / 3)), y.max() * 4)


def _roof(ax, peak, bandwidth, grid, **kw):
    ax.plot(grid, np.minimum(peak, bandwidth * grid) / 1e12, **kw)


def draw_fusion(data: FusionData, *, size=None, title=None) -> Figure:
    fig = new_figure(size or (12.0, 9.0), minimum=(7.0, 6.0))
    s = data.settings
    set_title(fig, title, f"Operator fusion ({data.level}): {data.model} on {data.hardware}, batch "
                          f"{s['batch_size']}, prompt {s['prompt_len']}; kernels per decode step "
                          + ", ".join(f"{lv} {int(k)}" for lv, k in zip(data.levels, data.kernels, strict=True)))
    axes = fig.subplots(2, 2, height_ratios=(1.1, 1))
    xs = [p[1] for st in data.stages for p in (st.plain, st.fused)]
    ys = [p[2] for st in data.stages for p in (st.plain, st.fused)]
    x_lo, x_hi, y_lo, y_hi = _log_limits(xs, ys, [data.peak_flops_per_s])
    grid = np.logspace(math.log10(x_lo), math.log10(x_hi), 300)
    level = data.levels.index(data.level)
    for k, st in enumerate(data.stages):
        ax, bars = axes[0, k], axes[1, k]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(y_lo / 1e12, y_hi / 1e12)
        _roof(ax, data.peak_flops_per_s, data.bandwidth_bytes_per_s, grid, color="#333333", lw=1.4)
        _, x, y, share = st.plain
        ax.scatter(x, y / 1e12, s=18 + 240 * share, facecolors="none", edgecolors="#7F7F7F", linewidths=1.0,
                   zorder=4)
        names, x, y, share = st.fused
        fused = np.array(["+" in n for n in names], dtype=bool)
        ax.scatter(x[fused], y[fused] / 1e12, s=18 + 240 * share[fused], c=PALETTE[2], edgecolors="white",
                   linewidths=0.6, zorder=6)
        ax.set_title(f"{st.stage}: {fmt_time(data.times_s[0, k])} without fusion, "
                     f"{fmt_time(data.times_s[level, k])} {data.level}")
        ax.set_xlabel("Arithmetic intensity (FLOP/byte)")
        scale, unit = (1e3, "ms") if data.times_s[0, k] < 10 else (1.0, "s")
        compute = data.compute_bound_time_s[:, k] * scale
        memory = data.times_s[:, k] * scale - compute
        rows = np.arange(len(data.levels))
        bars.bar(rows, compute, 0.6, color=COMPUTE_COLOR, label="compute-bound operators")
        bars.bar(rows, memory, 0.6, bottom=compute, color=MEMORY_COLOR, label="memory-bound operators")
        for r in rows:
            text = fmt_time(data.times_s[r, k]) + (f"\n{int(data.kernels[r])} kernels" if k else "")
            bars.annotate(text, (r, compute[r] + memory[r]), xytext=(0, 2), textcoords="offset points", ha="center",
                          va="bottom", fontsize=7.5)
        bars.set_xticks(rows, list(data.levels))
        bars.set_ylabel(f"Time ({unit})")
        bars.set_ylim(0, (compute + memory).max() * 1.2)
        bars.set_title(f"{st.stage}: time by bound per fusion level" + (" (and kernels)" if k else ""))
    axes[0, 0].set_ylabel("Attainable performance (TFLOP/s)")
    handles = [Line2D([], [], marker="o", ls="", mfc="none", mec="#7F7F7F", label="operator, no fusion"),
               Line2D([], [], marker="o", ls="", color=PALETTE[2], label="fused operator"),
               Line2D([], [], marker="s", ls="", color=MEMORY_COLOR, label="time in memory-bound operators"),
               Line2D([], [], marker="s", ls="", color=COMPUTE_COLOR, label="time in compute-bound operators")]
    legend = figure_legend(fig, handles, [h.get_label() for h in handles], fontsize=8.5,
                           title="marker area ~ share of the stage's time")
    wrap_axis_labels(fig, below=legend)
    return fig


def draw_offload(data: OffloadData, *, size=None, title=None) -> Figure:
    fig = new_figure(size or (13.0, 5.2), minimum=(7.0, 3.5))
    s = data.settings
    set_title(fig, title, f"Offloading: {data.model} on {data.hardware} with {data.host}, batch "
                          f"{s['batch_size']}, prompt {s['prompt_len']}")
    ax, curves = fig.subplots(1, 2)
    x_lo, x_hi, y_lo, y_hi = _log_limits([p[1] for p in data.points], [p[2] for p in data.points],
                                         [r[1] for r in data.roofs])
    grid = np.logspace(math.log10(x_lo), math.log10(x_hi), 300)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo / 1e12, y_hi / 1e12)
    handles = []
    for k, ((label, peak, bandwidth), points) in enumerate(zip(data.roofs, data.points, strict=True)):
        color = PALETTE[k]
        _roof(ax, peak, bandwidth, grid, color=color, lw=1.5, linestyle=ROOF_STYLES[k])
        _, x, y, share = points
        ax.scatter(x, y / 1e12, s=16 + 200 * share, c=color, edgecolors="white", linewidths=0.5, zorder=5,
                   alpha=0.85)
        handles.append(Line2D([], [], color=color, linestyle=ROOF_STYLES[k], marker="o",
                              label=f"{label}: {si(bandwidth, 'B/s')}, {si(peak, 'FLOP/s')}"))
    ax.set_xlabel("Arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("Attainable performance (TFLOP/s)")
    ax.set_title("decode step's operators on three rooflines")
    for k, (name, tpot) in enumerate(zip(data.curves, data.tpot_s, strict=True)):
        curves.plot(100 * data.fractions, tpot * 1e3, color=PALETTE[[0, 4, 3][k]], marker="o", ms=3.5)
        handles.append(Line2D([], [], color=PALETTE[[0, 4, 3][k]], marker="o", ms=3.5, label=f"TPOT: {name}"))
    curves.set_yscale("log")
    curves.set_xlabel("Offloaded fraction (%)")
    curves.set_ylabel("Time per output token (ms)")
    curves.set_title(f"TPOT over {s['gen_len']} generated tokens")
    curves.axhline(data.tpot_s[0, 0] * 1e3, color=MEMORY_COLOR, lw=0.7, ls=":")
    legend = figure_legend(fig, handles, [h.get_label() for h in handles], fontsize=8.5,
                           title="marker area ~ share of the decode step's time")
    wrap_axis_labels(fig, below=legend)
    return fig
