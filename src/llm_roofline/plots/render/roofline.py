"""The roofline figure: every operator of a stage as a point under the device's ceilings (Fig. 5, 6)."""

from __future__ import annotations

import math
import textwrap

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ...units import plain, si
from ..data import RooflineData
from .common import COMPUTE_COLOR, MEMORY_COLOR, figure_legend, fmt_time, new_figure, set_title, wrap_axis_labels
from .labels import place_labels
from .measured import draw_measured, measured_handles, measured_x, measured_y


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


def _share(v: float) -> str:
    if v < 0.01:
        return "<1%"
    return ">99%" if 0.99 < v < 1 else f"{100 * v:.0f}%"


def _keep_inside(annotations) -> None:
    """A ceiling's label starts right of its ridge point; where that would run past the panel's right
    edge it ends at the edge instead (still above the top ceiling, below the others)."""
    for ann in annotations:
        renderer = ann.figure.canvas.get_renderer()
        if ann.get_window_extent(renderer).x1 > ann.axes.get_window_extent(renderer).x1:
            ann.xy = (ann.axes.get_xlim()[1], ann.xy[1])
            ann.set_horizontalalignment("right")
            ann.xyann = (-4, ann.xyann[1])


def draw_roofline(data: RooflineData, *, size=None, title=None) -> Figure:
    stages = data.stages
    fig = new_figure(size or (6.2 * len(stages), 5.4), minimum=(4.0 if len(stages) == 1 else 5.0, 3.5))
    sc = data.scenario
    default = (f"{data.model} on {data.hardware}\nbatch {sc['batch_size']}, prompt {sc['prompt_len']}, "
               f"W{sc['w_bits']:g}A{sc['a_bits']:g}KV{sc['kv_bits']:g}"
               + (", FlashAttention" if sc["flash_attention"] else ""))
    set_title(fig, title, default)
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
    pending, peak_labels = [], []
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
            peak_labels.append(ax.annotate(
                f"{label} peak {si(peak, 'FLOP/s')}", (r, peak / 1e12), xytext=(8, 3 if above else -3),
                textcoords="offset points", ha="left", va="bottom" if above else "top", fontsize=8, color="#333333"))
            ax.plot([r], [peak / 1e12], marker="D", color="#333333", ms=5, zorder=4)
            ax.axvline(r, color="#333333", lw=0.7, ls=":", zorder=2)
            ax.annotate(f"ridge {plain(r)} FLOP/B", (r, y_lo / 1e12), xytext=(-3, 40), textcoords="offset points",
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
        ax.set_title(f"{stage.stage}: {fmt_time(stage.total_time_s)} in total")
        ax.set_xlabel("Arithmetic intensity (FLOP/byte)")
        hidden = [n for n, f in zip(stage.names, stage.flops, strict=True) if not f > 0]
        if hidden:
            ax.text(0.02, 0.92, "\n".join(textwrap.wrap("no FLOPs, not shown: " + ", ".join(hidden), 60)),
                    transform=ax.transAxes, fontsize=7, color="#555555", va="top")
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
    legend = figure_legend(fig, handles, [h.get_label() for h in handles], fontsize=8.5, title_fontsize=8,
                           title="marker area ~ share of the stage's time; labels: operators (share of time)")
    wrap_axis_labels(fig, below=legend)
    fig.canvas.draw()
    fig.set_layout_engine("none")  # freeze the layout so that label positions stay where they were checked
    _keep_inside(peak_labels)
    for ax, points in pending:
        place_labels(ax, points)
    return fig
