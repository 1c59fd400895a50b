"""Figures of the paper for any model and device: ``llm-roofline plot KIND ...`` and this API.

Data (NumPy arrays from the engine, no drawing): ``roofline``, ``batch_sweep``, ``seq_sweep``,
``quantization``, ``memory_breakdown``, ``flash_attention``, ``bandwidth``, ``hardware_comparison``,
``breakdown``, ``scaling`` (several devices), ``fusion``, ``offload``. Figures (data + matplotlib,
optionally saved): ``plot_roofline``, ``plot_batch_sweep``, ``plot_seq_sweep``, ``plot_quantization``,
``plot_flash_attention``, ``plot_bandwidth``, ``plot_hardware``, ``plot_breakdown``, ``plot_scaling``,
``plot_pareto``, ``plot_load`` (serving: ``load_data``), ``plot_fusion``, ``plot_offload``. Attributes
load on first use, so importing this package (as the CLI does at start-up) costs nothing.
"""

from __future__ import annotations

import importlib

_DATA = ("roofline", "batch_sweep", "seq_sweep", "quantization", "memory_breakdown", "flash_attention", "bandwidth",
         "hardware_comparison", "breakdown", "RooflineData", "SweepData", "QuantizationData", "MemoryBreakdown",
         "FlashAttentionData", "BandwidthData", "HardwareData", "BreakdownData", "fusion", "offload", "FusionData",
         "OffloadData")
_FIGURES = ("plot_roofline", "plot_batch_sweep", "plot_seq_sweep", "plot_quantization", "plot_flash_attention",
            "plot_bandwidth", "plot_hardware", "plot_breakdown", "plot_scaling", "plot_pareto", "plot_load",
            "plot_fusion", "plot_offload")
_SCALING = ("scaling", "ScalingData")  # plots/scaling_figure.py
_SERVING = ("load_data", "LoadData")  # serving figures (plots/serving.py)
__all__ = [*_DATA, *_FIGURES, *_SCALING, *_SERVING]


def __getattr__(name: str):
    if name in _SCALING:
        return getattr(importlib.import_module(".scaling_figure", __name__), name)
    if name in _DATA:
        return getattr(importlib.import_module(".data", __name__), name)
    if name in _FIGURES:
        return getattr(importlib.import_module(".figures", __name__), name)
    if name in _SERVING:
        return getattr(importlib.import_module(".serving", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
