"""Speculative decoding's batch collapse, and the advisor's ranking as bars."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from ..data.techniques import GainData, SpeculativeData, TechniquesData
from .common import PALETTE, _leading, figure_legend, log2_axis, log_y, new_figure, set_title, wrap_axis_labels

FAMILY_COLORS = {"quantization": "#0072B2", "attention": "#009E73", "speculative": "#D55E00", "layers": "#CC79A7",
                 "sparsity": "#E69F00", "kv-cache": "#56B4E9", "batching": "#7F7F7F", "parallelism": "#000000"}


def draw_speculative(data: SpeculativeData, *, size=None, title=None) -> Figure:
    fig = new_figure(size or (12.0, 4.6), minimum=(5.0, 3.0))
    ax_gain, ax_int = fig.subplots(1, 2)
    symbol = "α" if data.kind == "alpha" else "τ"
    for i, value in enumerate(data.acceptance):
        color = PALETTE[i % len(PALETTE)]
        label = f"{symbol} = {value:g} ({data.tokens_per_iteration[i]:.3g} tokens per iteration)"
        ax_gain.plot(data.batch_sizes, data.speedup[i], color=color, marker="o", ms=3.5, label=label)
        x = data.crossover[i]
        if np.isfinite(x):
            ax_gain.plot([x], [1.0], marker="X", ms=9, color=color, markeredgecolor="#222222", zorder=5)
            ax_gain.annotate(f"batch {x:,.0f}", (x, 1.0), xytext=(4, 6 + 10 * (i % 3)), textcoords="offset points",
                             fontsize=8, color=color)
    ax_gain.axhline(1.0, color="#222222", lw=1.1, ls="--")
    ax_gain.set_xlabel("Batch size (sequences)")
    ax_gain.set_ylabel("Speed-up in TPOT (one-token / speculative)")
    ax_gain.set_title("speed-up, crossover below 1 marked ×")
    ax_int.plot(data.batch_sizes, data.intensity[0], color="#222222", marker="o", ms=3.5)
    ax_int.axhline(data.ridge, color="#222222", lw=1.1, ls="--")
    ax_int.annotate(f"ridge {data.ridge:,.0f} FLOP/B: above it the verify step is compute-bound",
                    (0.02, data.ridge), xycoords=("axes fraction", "data"), xytext=(0, 4),
                    textcoords="offset points", fontsize=8)
    ax_int.set_xlabel("Batch size (sequences)")
    ax_int.set_ylabel("Verify step intensity (FLOP/B)")
    ax_int.set_title("the verify step on the roofline (at the reported KV length)")
    for ax in (ax_gain, ax_int):
        log2_axis(ax, data.batch_sizes)
    log_y(ax_int)
    handles = [Line2D([], [], color=PALETTE[i % len(PALETTE)], marker="o", ms=3.5) for i in range(len(data.acceptance))]
    labels = [f"{symbol} = {v:g} ({e:.3g} tokens per iteration)"
              for v, e in zip(data.acceptance, data.tokens_per_iteration, strict=True)]
    legend = figure_legend(fig, handles, labels)
    set_title(fig, title, f"{data.model} on {data.hardware}: {data.method.split(',')[0]} against the batch size "
                          f"(prompt {data.settings['prompt_len']}, {data.settings['gen_len']} generated)")
    wrap_axis_labels(fig, below=legend)
    return fig


def draw_techniques(data: TechniquesData, *, size=None, title=None) -> Figure:
    n = len(data.names)
    fig = new_figure(size or (10.0, max(3.0, 0.38 * n + 1.6)), minimum=(5.0, 2.5))
    ax = fig.subplots(1, 1)
    gains = data.gains[data.rank_by]
    y = np.arange(n)[::-1]
    for i in range(n):
        value = gains[i] if np.isfinite(gains[i]) else 1.0
        ax.barh(y[i], value - 1.0, left=1.0, color=FAMILY_COLORS.get(data.families[i], "#7F7F7F"),
                hatch="//" if data.affects_accuracy[i] else None, edgecolor="#222222", lw=0.5,
                alpha=1.0 if data.fits[i] else 0.35)
        ax.annotate(f"{gains[i]:.3g}x", (max(value, 1.0), y[i]), xytext=(4, 0), textcoords="offset points",
                    va="center", ha="left", fontsize=8)
    ax.set_yticks(y, [t if f else f"{t} (does not fit)" for t, f in zip(data.titles, data.fits, strict=True)])
    ax.axvline(1.0, color="#222222", lw=1.0)
    ax.set_xscale("log")
    finite = gains[np.isfinite(gains)]
    lo, hi = (min(finite.min(), 1.0), max(finite.max(), 1.0)) if finite.size else (1.0, 1.0)
    ax.set_xlim(lo / 1.2, hi * 1.35)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}x" if _leading(v) in (2, 5) else ""))
    metric = {"tpot": "TPOT", "ttft": "TTFT", "throughput": "throughput", "memory": "memory"}[data.rank_by]
    ax.set_xlabel(f"Gain in {metric} (x, log scale; 1 = no change)")
    ax.grid(axis="y", alpha=0)
    families = [f for f in FAMILY_COLORS if f in data.families]
    handles = [Patch(facecolor=FAMILY_COLORS[f], edgecolor="#222222", lw=0.5, label=f) for f in families]
    handles.append(Patch(facecolor="white", edgecolor="#222222", hatch="//", lw=0.5,
                         label="changes the model's output"))
    legend = figure_legend(fig, handles, [h.get_label() for h in handles])
    s = data.scenario
    set_title(fig, title, f"{data.model} on {data.hardware}: techniques ranked by {metric} (batch {s['batch_size']}, "
                          f"prompt {s['prompt_len']}, {s['gen_len']} generated)")
    wrap_axis_labels(fig, below=legend)
    return fig


def draw_gain(data: GainData, *, size=None, title=None) -> Figure:
    fig = new_figure(size or (12.0, 4.4), minimum=(5.0, 3.0))
    ax_tpot, ax_thr = fig.subplots(1, 2)
    for i, name in enumerate(data.titles):
        color = PALETTE[i % len(PALETTE)]
        for ax, values in ((ax_tpot, data.tpot[i]), (ax_thr, data.throughput[i])):
            ax.plot(data.x, np.where(data.fits[i], values, np.nan), color=color, marker="o", ms=3.5, label=name)
            if not data.fits[i].all():
                ax.plot(data.x, np.where(~data.fits[i], values, np.nan), color=color, alpha=0.35, ls=(0, (2, 2)))
    label = "Batch size (sequences)" if data.x_name == "batch_size" else "Prompt length (tokens)"
    for ax, what in ((ax_tpot, "TPOT gain (plain / with)"), (ax_thr, "Throughput gain (with / plain)")):
        ax.axhline(1.0, color="#222222", lw=1.0, ls="--")
        ax.set_xlabel(label)
        ax.set_ylabel(what)
        log2_axis(ax, data.x)
    handles, labels = ax_tpot.get_legend_handles_labels()
    legend = figure_legend(fig, handles, labels)
    axis = "batch size" if data.x_name == "batch_size" else "prompt length"
    set_title(fig, title, f"{data.model} on {data.hardware}: gains against the {axis}")
    wrap_axis_labels(fig, below=legend)
    return fig
