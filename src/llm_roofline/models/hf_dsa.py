"""DeepSeek Sparse Attention families: DeepSeek-V3.2 (``deepseek_v32``) and GLM-5 (``glm_moe_dsa``):
the DeepSeek-V3 layout (MLA + MoE) with a lightning indexer in every attention layer (GLM-5: in the
"full" layers of ``indexer_types``; "shared" layers reuse the previous layer's top-k selection)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .hf_fields import Fields
from .hf_hybrid import deepseek_fields, deepseek_parts
from .layer_pattern import pattern_groups
from .spec import Layer, SparseLatentAttention

# HF defaults (DeepseekV32Config / GlmMoeDsaConfig): index_topk, index_head_dim, index_n_heads.
_INDEX_DEFAULTS = {"deepseek_v32": (2048, 128, 64), "glm_moe_dsa": (2048, 128, 32)}

# A layer rule: (full_at(i), period, breaks), as layer_pattern.pattern_groups reads it.
IndexerRule = tuple[Callable[[int], bool], int, tuple[int, ...]]


def glm_indexer_rule(f: Fields, num_layers: int) -> IndexerRule:
    """Which layers run their own indexer (GlmMoeDsaConfig): an explicit ``indexer_types`` list, else
    ``index_topk_pattern`` ("F"/"S" letters or a list), else layer i is "full" when
    max(i - offset + 1, 0) % freq == 0 with ``index_topk_freq`` (default 1) and
    ``index_skip_topk_offset`` (default 2): constant before layer offset - 1, periodic in freq after."""
    if f.has("indexer_types"):
        kinds = f.list("indexer_types", str)
        key = "indexer_types"
    elif isinstance(f.data.get("index_topk_pattern"), str):
        letters = f.str("index_topk_pattern")
        table = {"F": "full", "S": "shared"}
        if set(letters) - set(table):
            raise f.error(f"field 'index_topk_pattern' may only hold the letters F and S, got {letters[:40]!r}")
        kinds, key = [table[c] for c in letters], "index_topk_pattern"
    elif f.has("index_topk_pattern"):
        kinds, key = f.list("index_topk_pattern", str), "index_topk_pattern"
    else:
        freq = max(f.int("index_topk_freq", default=1, minimum=None), 1)
        offset = f.int("index_skip_topk_offset", default=2, minimum=None)
        return (lambda i: max(i - offset + 1, 0) % freq == 0), freq, (offset - 1,)
    if len(kinds) != num_layers or set(kinds) - {"full", "shared"}:
        raise f.error(f"field {key!r} must give 'full' or 'shared' for each of the {num_layers} layers, "
                      f"got {len(kinds)} entries of {sorted(set(kinds))}")
    if kinds and kinds[0] == "shared":
        raise f.error(f"field {key!r}: the first layer must run its own indexer ('full')")
    return (lambda i: kinds[i] == "full"), num_layers, ()


def _dsa(f: Fields, model_type: str) -> dict[str, Any]:
    p = deepseek_parts(f, mlp_layer_types=True)
    topk, head_dim, heads = _INDEX_DEFAULTS[model_type]
    full_at, period, breaks = (glm_indexer_rule(f, p.num_layers) if model_type == "glm_moe_dsa"
                               else ((lambda i: True), 1, ()))
    index = dict(index_heads=f.int("index_n_heads", default=heads), index_head_dim=f.int("index_head_dim",
                                                                                          default=head_dim),
                 index_topk=f.int("index_topk", default=topk))

    def make(key: tuple[bool, bool]) -> Layer:
        sparse, full = key
        return Layer(SparseLatentAttention(p.mla, indexer=full, **index), p.ffn(sparse))

    # Both rules at once: periodic in lcm of their periods (each index once if either lists every layer).
    groups = pattern_groups(p.num_layers, lambda i: (p.sparse_at(i), full_at(i)), make,
                            period=min(math.lcm(p.period, period), p.num_layers), breaks=(*p.breaks, *breaks))
    return deepseek_fields(f, groups)
