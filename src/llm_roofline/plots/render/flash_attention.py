"""Memory traffic and time with and without FlashAttention (Fig. 16)."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..data import FlashAttentionData
from .common import PALETTE, figure_legend, log2_axis, log_y, new_figure, set_title, time_unit, wrap_axis_labels

MARKERS, LINES = ("o", "s", "^"), ("-", "--", ":")
KERNEL_LABELS = {"naive": "standard attention", "ideal": "FlashAttention (ideal: Q, K, V read once)",
                 "fa2": "FlashAttention-2 as it tiles (K, V per query block)"}


def draw_flash_attention(data: FlashAttentionData, *, size=None, title=None) -> Figure:
    fig = new_figure(size or (11.0, 7.6), minimum=(4.0, 3.5))
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
            for k in range(len(data.kernels)):
                ax.plot(data.prompt_lens, values[k, b] / scale, color=color, marker=MARKERS[k], ms=3.5, ls=LINES[k])
        ax.set_title(name)
        ax.set_xlabel("Sequence length (prompt tokens)")
        ax.set_ylabel(("Memory traffic" if what == "bytes" else "Time") + f" ({unit})")
        log2_axis(ax, data.prompt_lens)
        log_y(ax)
    handles = [Line2D([], [], color=PALETTE[b % len(PALETTE)], label=f"batch {batch:g}")
               for b, batch in enumerate(data.batch_sizes)]
    handles += [Line2D([], [], color="#444444", marker=MARKERS[k], ms=3.5, ls=LINES[k], label=KERNEL_LABELS[kernel])
                for k, kernel in enumerate(data.kernels)]
    legend = figure_legend(fig, handles, [h.get_label() for h in handles])
    set_title(fig, title, f"{data.model} on {data.hardware}: with and without FlashAttention (KV length = prompt)")
    wrap_axis_labels(fig, below=legend)
    return fig
