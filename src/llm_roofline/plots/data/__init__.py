"""The data behind every figure, computed by the engine: one function and one frozen dataclass per kind.

Each function takes a model and a device (catalog names, or a ModelSpec / Hardware, e.g. one made by
``llm_roofline.load_hardware(name, memory_bandwidth_bytes_per_s=...)``) and returns arrays read from
the engine's results; the renderers in ``plots.render`` only draw them. Times are seconds, sizes bytes,
rates FLOP/s, bytes/s and tokens/s. Two derived quantities are defined here, once:

- decode throughput at one decode step (no ``gen_len``): the engine's ``decode_tokens_per_s``
  (batch size / decode step time);
  with ``gen_len > 0`` the engine's whole-generation throughput (prefill included) is used instead;
- a stage's overall roofline point: the engine's stage ``arithmetic_intensity`` and
  ``performance_flops_per_s`` (total FLOPs / total bytes, total FLOPs / total time).

One module per figure; ``common`` holds the loading, list and label helpers they share.
"""

from __future__ import annotations

from .breakdown import BreakdownData, breakdown
from .common import AXIS_LABELS, scenario_label
from .devices import BandwidthData, HardwareData, bandwidth, hardware_comparison
from .flash_attention import FlashAttentionData, flash_attention
from .optimizations import FusionData, OffloadData, fusion, offload
from .quantization import DEFAULT_MEMORY_CONFIGS, MemoryBreakdown, QuantizationData, memory_breakdown, quantization
from .roofline import RooflineData, StageRoofline, ceiling_label, roofline
from .sweeps import Series, SweepData, batch_sweep, seq_sweep
from .techniques import GainData, SpeculativeData, TechniquesData, gains, speculative, techniques_ranking

__all__ = ["AXIS_LABELS", "DEFAULT_MEMORY_CONFIGS", "BandwidthData", "BreakdownData", "FlashAttentionData",
           "HardwareData", "MemoryBreakdown", "QuantizationData", "RooflineData", "Series", "StageRoofline",
           "SweepData", "bandwidth", "batch_sweep", "breakdown", "ceiling_label", "flash_attention",
           "hardware_comparison", "memory_breakdown", "quantization", "roofline", "scenario_label", "seq_sweep",
           "GainData", "SpeculativeData", "TechniquesData", "gains", "speculative", "techniques_ranking",
           "FusionData", "OffloadData", "fusion", "offload"]
