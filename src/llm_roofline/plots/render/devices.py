"""Device figures: decode time against memory bandwidth (Fig. 20) and one scenario on several devices."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...units import si
from ..data import BandwidthData, HardwareData
from .common import PALETTE, figure_legend, new_figure, plain, set_title, time_unit, wrap_axis_labels


def draw_bandwidth(data: BandwidthData, *, size=None, title=None) -> Figure:
    fig = new_figure(size or (11.0, 4.2), minimum=(4.0, 3.0))
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
    legend = figure_legend(fig, *ax_t.get_legend_handles_labels()) if len(data.batch_sizes) > 1 else None
    batch = f"batch {data.batch_sizes[0]:g}, " if len(data.batch_sizes) == 1 else ""
    default = (f"{data.model}: decode vs memory bandwidth, {si(data.peak_flops_per_s, 'FLOP/s')} 16-bit peak, "
               f"{batch}KV length {data.prompt_len}")
    set_title(fig, title, default)
    wrap_axis_labels(fig, below=legend)
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
            ax.annotate(plain(float(f"{v:.3g}")), (v, yy), xytext=(3, 0), textcoords="offset points",
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
    set_title(fig, title, default)
    wrap_axis_labels(fig)
    return fig
