"""Drawing: each figure from its data object (``plots.data``) with matplotlib's Agg canvas.

Formatting only: values are scaled to display units (ms, GB, TFLOP/s) and laid out; nothing here
computes FLOPs, bytes or times. One module per figure; ``common`` holds the shared style, colours,
canvas, saving and axis helpers, ``labels`` the label placement.
"""

from __future__ import annotations

from .breakdown import draw_breakdown
from .common import COMPUTE_COLOR, MEMORY_COLOR, new_figure, save
from .devices import draw_bandwidth, draw_hardware
from .flash_attention import draw_flash_attention
from .labels import place_labels
from .quantization import draw_memory_bars, draw_quantization
from .roofline import draw_roofline
from .sweeps import draw_sweep
from .techniques import draw_gain, draw_speculative, draw_techniques

__all__ = ["COMPUTE_COLOR", "MEMORY_COLOR", "draw_bandwidth",
           "draw_breakdown", "draw_flash_attention", "draw_hardware", "draw_memory_bars", "draw_quantization",
           "draw_gain", "draw_roofline", "draw_speculative", "draw_sweep", "draw_techniques", "new_figure",
           "place_labels", "save"]
