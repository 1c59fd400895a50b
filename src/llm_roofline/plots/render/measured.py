"""The measured roof and points of ``plot roofline --measured FILE`` (a device written by
``llm-roofline measure``; data from efficiency.measure_points), drawn over the datasheet roofline:
the measured roof as a dashed green line (best bandwidth, best peak of each measured format) and
each kernel's points (GEMMs over shapes per format; add / triad over sizes) as hollow markers."""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from ...units import si

MEASURED_COLOR = "#009E73"
MARKERS = ("^", "v", "s", "P", "X", "h", "<", ">")


def measured_x(measured) -> list[np.ndarray]:
    """Intensities (FLOP/byte) the axes must show."""
    if measured is None:
        return []
    ridges = [p / measured.bandwidth_bytes_per_s for p in measured.peaks.values()]
    return [s.intensity for s in measured.series] + [np.array(ridges)]


def measured_y(measured) -> list[np.ndarray]:
    """Performances (FLOP/s) the axes must show."""
    if measured is None:
        return []
    return [s.performance_flops_per_s for s in measured.series] + [np.array(list(measured.peaks.values()))]


def draw_measured(ax, measured, grid_x: np.ndarray) -> None:
    if measured is None:
        return
    for precision, peak in measured.peaks.items():
        ax.plot(grid_x, np.minimum(peak, measured.bandwidth_bytes_per_s * grid_x) / 1e12, color=MEASURED_COLOR,
                lw=1.1, ls=(0, (4, 2)), zorder=3)
        ax.annotate(f"{precision} {si(peak, 'FLOP/s')}", (grid_x[-1], peak / 1e12), xytext=(-2, 2),
                    textcoords="offset points", ha="right", va="bottom", fontsize=7, color=MEASURED_COLOR)
    at = grid_x[0] * 10
    ax.annotate(f"measured {si(measured.bandwidth_bytes_per_s, 'B/s')}",
                (at, measured.bandwidth_bytes_per_s * at / 1e12), xytext=(6, -4), textcoords="offset points",
                fontsize=7, color=MEASURED_COLOR, va="top")
    for series, marker in zip(measured.series, MARKERS * 4, strict=False):
        ax.scatter(series.intensity, series.performance_flops_per_s / 1e12, marker=marker, s=22,
                   facecolors="none", edgecolors=MEASURED_COLOR, linewidths=0.9, zorder=4)


def measured_handles(measured) -> list[Line2D]:
    """Legend entries: the measured roof and one per measured series."""
    if measured is None:
        return []
    handles = [Line2D([], [], color=MEASURED_COLOR, ls=(0, (4, 2)), label=f"measured roof ({measured.device})")]
    for series, marker in zip(measured.series, MARKERS * 4, strict=False):
        handles.append(Line2D([], [], marker=marker, ls="", mfc="none", mec=MEASURED_COLOR,
                              label=f"measured {series.label}"))
    return handles
