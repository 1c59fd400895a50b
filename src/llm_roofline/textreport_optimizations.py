"""The techniques of a report in words, for the text report's headline (formatting only)."""

from __future__ import annotations

from .units import percent


def optimization_words(t: dict) -> str:
    """The techniques switched on (the report's ``techniques`` key), in a few words each."""
    words = {
        "precision": lambda: "per-tensor precision (" + ", ".join(
            f"{p['modules']} {p['bits']:g}-bit" for p in t["precision"]) + ")",
        "sparsity": lambda: f"{percent(t['weight_sparsity'])} sparse weights ({t['sparse_format']})",
        "structured": lambda: "pruned " + ", ".join(f"{percent(t['prune_' + k])} of {k}" for k in
                                                   ("layers", "heads", "intermediate") if t["prune_" + k]),
        "low_rank": lambda: "low rank (" + ", ".join(f"{r['modules']} {r['rank']:g}" for r in t["low_rank"]) + ")",
        "fusion": lambda: f"{t['fusion']} fusion",
        "attention": lambda: (("FlashAttention-2 tiling" if t["attention"] == "fa2" else f"{t['attention']} attention")
                              + (", FP8 attention" if t["attention_fp8"] else "")),
        "offload": lambda: (f"offloading {percent(t['offload_weights'])} of weights, {percent(t['offload_kv'])} of "
                            f"the KV cache to {t['offload_to']}"
                            + (" (computed on the host CPU)" if t["offload_compute"] == "cpu" else "")),
        "kv_allocation": lambda: (f"paged KV cache (blocks of {t['kv_block_size']})" if t["kv_allocation"] == "paged"
                                  else "contiguous KV cache (reserved to the maximum length)"),
        "prefix": lambda: f"cached prefix of {t['prefix_len']} tokens",
    }
    return "; ".join(words[name]() for name in t["active"] if name in words)
