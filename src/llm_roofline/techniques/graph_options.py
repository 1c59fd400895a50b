"""Graph options: what the techniques change inside build_ops, resolved for one model and device.

None when no technique changes the graph, so the engine then builds exactly today's operators.
"""

from __future__ import annotations

from dataclasses import dataclass

from .flash import AttentionPlan
from .tensors import WeightPlan


@dataclass(frozen=True)
class GraphOptions:
    weights: WeightPlan | None = None
    attention: AttentionPlan | None = None


def graph_options(model, hardware, scenario, stage: str) -> GraphOptions | None:
    """The weight options (per-tensor formats, sparsity, low rank) and the attention kernel's options
    (tiling, FP8 operands, paged reads) of ``scenario.optimizations`` for ``model`` on ``hardware``, for
    the scenarios of ``scenario`` (their per-scenario settings) and ``stage``."""
    t = scenario.optimizations
    weights = None
    if t.shapes_weights:
        weights = WeightPlan(model=model, formats=t.tensor_formats, group_size=scenario.group_size,
                             scale_bits=scenario.scale_bits, weight_sparsity=t.weight_sparsity,
                             sparse_format=t.sparse_format,
                             sparse_index_bits=t.sparse_index_bits, sparse_modules=t.sparse_modules,
                             sparse_2to4=hardware.sparse_2to4, low_rank=t.low_rank)
    attention = None
    paged = t.kv_allocation == "paged"
    if t.attention == "fa2" or t.attention_fp8 or paged:
        attention = AttentionPlan(tiled=t.attention == "fa2", sram_bytes=hardware.sram_per_sm_bytes,
                                  sm_count=hardware.sm_count, fp8=t.attention_fp8,
                                  block_size=t.kv_block_size if paged else 0, device=hardware.name, stage=stage)
    if weights is None and attention is None:
        return None
    return GraphOptions(weights=weights, attention=attention)
