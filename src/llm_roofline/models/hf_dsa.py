"""DeepSeek Sparse Attention families: DeepSeek-V3.2 (``deepseek_v32``) and GLM-5 (``glm_moe_dsa``):
the DeepSeek-V3 layout (MLA + MoE) with a lightning indexer in every attention layer (GLM-5: in the
"full" layers of ``indexer_types``; "shared" layers reuse the previous layer's top-k selection)."""

from __future__ import annotations

from typing import Any

from .hf_fields import Fields
from .hf_hybrid import deepseek_fields, deepseek_parts
from .spec import Layer, SparseLatentAttention

# HF defaults (DeepseekV32Config / GlmMoeDsaConfig): index_topk, index_head_dim, index_n_heads.
_INDEX_DEFAULTS = {"deepseek_v32": (2048, 128, 64), "glm_moe_dsa": (2048, 128, 32)}


def glm_indexer_types(f: Fields, num_layers: int) -> list[str]:
    """GlmMoeDsaConfig: an explicit ``indexer_types`` list, else ``index_topk_pattern`` ("F"/"S"
    letters or a list), else layer i is "full" when max(i - offset + 1, 0) % freq == 0 with
    ``index_topk_freq`` (default 1) and ``index_skip_topk_offset`` (default 2)."""
    if f.has("indexer_types"):
        kinds = f.list("indexer_types", str)
        key = "indexer_types"
    elif isinstance(f.data.get("index_topk_pattern"), str):
        letters = f.str("index_topk_pattern")
        table = {"F": "full", "S": "shared"}
        if set(letters) - set(table):
            raise f.error(f"field 'index_topk_pattern' may only hold the letters F and S, got {letters!r}")
        kinds, key = [table[c] for c in letters], "index_topk_pattern"
    elif f.has("index_topk_pattern"):
        kinds, key = f.list("index_topk_pattern", str), "index_topk_pattern"
    else:
        freq = max(f.int("index_topk_freq", default=1, minimum=None), 1)
        offset = f.int("index_skip_topk_offset", default=2, minimum=None)
        return ["full" if max(i - offset + 1, 0) % freq == 0 else "shared" for i in range(num_layers)]
    if len(kinds) != num_layers or set(kinds) - {"full", "shared"}:
        raise f.error(f"field {key!r} must give 'full' or 'shared' for each of the {num_layers} layers, "
                      f"got {kinds!r}")
    if kinds and kinds[0] == "shared":
        raise f.error(f"field {key!r}: the first layer must run its own indexer ('full')")
    return kinds


def _dsa(f: Fields, model_type: str) -> dict[str, Any]:
    mla, ffns = deepseek_parts(f, mlp_layer_types=True)
    topk, head_dim, heads = _INDEX_DEFAULTS[model_type]
    num_layers = len(ffns)
    kinds = glm_indexer_types(f, num_layers) if model_type == "glm_moe_dsa" else ["full"] * num_layers
    index = dict(index_heads=f.int("index_n_heads", default=heads), index_head_dim=f.int("index_head_dim",
                                                                                          default=head_dim),
                 index_topk=f.int("index_topk", default=topk))
    layers = [Layer(SparseLatentAttention(mla, indexer=kind == "full", **index), ffn)
              for kind, ffn in zip(kinds, ffns, strict=True)]
    return deepseek_fields(f, layers)
