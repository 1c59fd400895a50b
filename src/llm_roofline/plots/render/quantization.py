"""Quantization: time per weight bit-width and the memory breakdown per format (Fig. 7-9)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..data import QuantizationData
from .common import PALETTE, PART_COLORS, log2_axis, maybe_log_y, new_figure, set_title, time_unit, wrap_axis_labels


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
    fig = new_figure(size or (11.0, 8.0), minimum=(4.0, 3.5))
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
    log2_axis(ax_dec, data.batch_sizes)
    ax_pre.set_xlabel("Sequence length (prompt tokens)")
    ax_pre.set_ylabel(f"Prefill time ({p_unit})")
    ax_pre.set_title(f"prefill, batch {data.prefill_batch_size}")
    log2_axis(ax_pre, data.prompt_lens)
    maybe_log_y(ax_pre, data.prefill_time_s)
    ax_pre.legend(title="weights", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)  # off the data
    draw_memory_bars(ax_mem, data.memory)
    ax_mem.set_title("memory footprint (weights, KV cache of the prompt, peak activations); GB on top")
    set_title(fig, title, f"{data.model} on {data.hardware}: weight quantization")
    wrap_axis_labels(fig)
    return fig
