"""Serving sweeps: latency, throughput and memory against the batch size or the sequence length."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ...units import si
from ..data import SweepData
from .common import (
    PALETTE,
    figure_legend,
    fits_plot,
    log2_axis,
    maybe_log_y,
    new_figure,
    set_title,
    time_unit,
    wrap_axis_labels,
)

_X_LABELS = {"batch_size": "Batch size (sequences)", "prompt_len": "Sequence length (prompt tokens)"}


def _fixed_text(fixed: dict) -> str:
    from ..data import scenario_label

    return scenario_label(fixed)


def draw_sweep(data: SweepData, *, size=None, title=None) -> Figure:
    fig = new_figure(size or (13.0, 4.2), minimum=(4.5, 3.0))
    ax_lat, ax_thr, ax_mem = fig.subplots(1, 3)
    lat_scale, lat_unit = time_unit(np.concatenate([s.latency_s for s in data.series]))
    for i, s in enumerate(data.series):
        color = PALETTE[i % len(PALETTE)]
        label = s.label
        if data.x_name == "batch_size" and len(set(s.max_batch_size.tolist())) == 1:
            label += f" (fits up to batch {s.max_batch_size[0]:,.0f})"
        fits_plot(ax_lat, s.x, s.latency_s / lat_scale, s.fits, color, label)
        fits_plot(ax_thr, s.x, s.throughput_tokens_per_s, s.fits, color, label)
        fits_plot(ax_mem, s.x, s.total_bytes / 1e9, s.fits, color, label)
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
        log2_axis(ax, data.series[0].x)
    maybe_log_y(ax_lat, *[s.latency_s for s in data.series])
    maybe_log_y(ax_thr, *[s.throughput_tokens_per_s for s in data.series])
    if ax_lat.get_yscale() == "linear":
        ax_lat.set_ylim(bottom=0)
    if ax_thr.get_yscale() == "linear":
        ax_thr.set_ylim(bottom=0)
    handles, labels = ax_lat.get_legend_handles_labels()
    if any(not s.fits.all() for s in data.series):
        handles.append(Line2D([], [], color="#777777", alpha=0.5, ls=(0, (2, 2))))
        labels.append("does not fit in memory")
    legend = figure_legend(fig, handles, labels) if len(data.series) > 1 or len(handles) > 1 else None
    fixed = _fixed_text({k: v for k, v in data.fixed.items() if k != "gen_len"})  # stated below when > 0
    kind = "batch size" if data.x_name == "batch_size" else "sequence length"
    default = f"{data.model} on {data.hardware}: serving vs {kind}" + (f" ({fixed})" if fixed else "")
    if data.gen_len > 0:
        default += f", {data.gen_len} generated tokens"
    set_title(fig, title, default)
    wrap_axis_labels(fig, below=legend)
    return fig
