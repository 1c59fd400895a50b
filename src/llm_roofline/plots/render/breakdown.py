"""Stacked time per operator kind (or operator) for prefill and decode."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..data import BreakdownData
from .common import KIND_COLORS, PALETTE, figure_legend, fmt_time, new_figure, set_title, time_unit, wrap_axis_labels


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
                ax.annotate(fmt_time(t), (xx, t / scale), xytext=(0, 2), textcoords="offset points",
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
    legend = figure_legend(fig, handles[::-1], labels[::-1], where="right", title="operator " + data.group_by)
    set_title(fig, title, f"{data.model} on {data.hardware}: time by operator {data.group_by}")
    wrap_axis_labels(fig, right=legend)
    return fig
