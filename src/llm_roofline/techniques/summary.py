"""What the techniques of one scenario were, as plain values (the report's ``techniques`` key)."""

from __future__ import annotations

import math


def optimizations_summary(analysis, i: int = 0) -> dict:
    """The settings of scenario ``i`` (every key always present; ``active`` lists what is switched on),
    the per-tensor precisions as resolved (``precision``: one entry per rule, later ones win) and what
    the techniques derived (the unpruned parameter count, the host link used)."""
    t = analysis.scenario.optimizations
    model = analysis.model
    quantization = getattr(model, "quantization", None)
    host = t.host
    link = None
    if t.offloads:
        from .offload import link_bandwidth

        link = link_bandwidth(analysis.hardware, t)
    return {
        "active": list(t.active),
        "precision": [{"modules": sel, "bits": float(fmt.bits[i]), "family": fmt.family, "source": src}
                      for (sel, fmt), src in zip(t.tensor_formats, t.tensor_sources, strict=True)],
        "config_quantization": None if quantization is None else quantization.description,
        "weight_sparsity": float(t.weight_sparsity[i]), "sparse_format": t.sparse_format,
        "sparse_index_bits": t.sparse_index_bits,
        "sparse_efficiency": t.sparse_efficiency, "sparse_modules": list(t.sparse_modules),
        "sparse_2to4_peak": bool(analysis.hardware.sparse_2to4),
        "prune_layers": t.prune_layers, "prune_heads": t.prune_heads, "prune_intermediate": t.prune_intermediate,
        "params_before_pruning": analysis.params_before_pruning,
        "low_rank": [{"modules": sel, "rank": int(r) if r >= 1 else r} for sel, r in t.low_rank],
        "fusion": t.fusion,
        "attention": t.attention, "attention_fp8": t.attention_fp8,
        "offload_weights": float(t.offload_weights[i]), "offload_kv": float(t.offload_kv[i]),
        "offload_modules": list(t.offload_modules), "offload_to": t.offload_to, "offload_overlap": t.offload_overlap,
        "offload_compute": t.offload_compute, "host": None if host is None else host.name,
        "host_link_bytes_per_s": None if link is None or not math.isfinite(link) else link,
        "kv_allocation": t.kv_allocation, "kv_block_size": t.kv_block_size, "max_seq_len": t.max_seq_len,
        "prefix_len": int(t.prefix_len[i]),
    }
