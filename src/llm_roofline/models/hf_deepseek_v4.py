"""DeepSeek-V4 (``deepseek_v4``), after transformers' ``DeepseekV4Config`` and ``DeepseekV4DecoderLayer``
(transformers 5.23, models/deepseek_v4).

- attention per layer (spec.CompressedAttention): ``layer_types`` ("sliding_attention",
  "compressed_sparse_attention", "heavily_compressed_attention"), else the legacy per-layer
  ``compress_ratios`` (0 / 4 / 128 name the type), else HF's default (2 HCA layers, then CSA and HCA
  alternating); the compression of each type from ``compress_rates`` (default CSA 4, HCA 128; legacy
  ``compress_rate_csa`` / ``compress_rate_hca``); ``num_attention_heads``, ``head_dim``, ``q_lora_rank``,
  rotary over ``partial_rotary_factor`` of the head (default ``qk_rope_head_dim`` / ``head_dim``, else
  64/512), ``o_groups``, ``o_lora_rank``, ``sliding_window``; CSA's indexer ``index_n_heads``,
  ``index_head_dim``, ``index_topk``.
- MoE in every layer: ``n_routed_experts``, ``num_experts_per_tok``, ``moe_intermediate_size``, and one
  shared expert of ``moe_intermediate_size`` (HF's ``DeepseekV4MLP`` reads ``intermediate_size``, mapped
  to ``moe_intermediate_size``; ``n_shared_experts`` is not read). The first ``num_hash_layers`` (or
  the "hash_moe" entries of ``mlp_layer_types``) route by a frozen token -> expert table: same
  parameters (the table is a buffer) and, but for the top-k selection, the same work.
- ``hc_mult`` residual streams (hyper_connections.py). Untied embeddings by default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .hf_fields import Fields, tied
from .layer_pattern import pattern_groups
from .spec import CompressedAttention, Layer, MoE

_TYPES = {"sliding_attention": "sliding", "compressed_sparse_attention": "csa", "heavily_compressed_attention": "hca"}
_LEGACY_RATIOS = {0: "sliding_attention", 4: "compressed_sparse_attention", 128: "heavily_compressed_attention"}

NOTES = (
    "DeepSeek-V4: compressed KV entries are counted as S/m per query (transformers emits floor(S/m)); the one "
    "softmax over window and compressed keys is costed as two attention operators and a merge",
    "DeepSeek-V4: hash-routed MoE layers (num_hash_layers) are costed as top-k routed ones; the three "
    "window-only layers' K = V is counted once (transformers' generic sliding cache stores it twice)",
)


def v4_kind_rule(f: Fields, num_layers: int) -> tuple[Callable[[int], str], int, tuple[int, ...]]:
    """(kind_at(i), period, breaks) for layer_pattern: ``layer_types`` or the legacy ``compress_ratios``
    (per layer; HF keeps the first num_hidden_layers entries), else HF's default: two HCA layers, then
    CSA and HCA alternating (CSA at odd i)."""
    if f.has("layer_types"):
        kinds, key = f.list("layer_types", str), "layer_types"
    elif f.has("compress_ratios"):
        ratios = f.list("compress_ratios", int)
        bad = sorted(set(ratios) - set(_LEGACY_RATIOS))
        if bad:
            raise f.error(f"field 'compress_ratios': values must be 0, 4 or 128 (they name the layer type), got {bad}")
        kinds, key = [_LEGACY_RATIOS[r] for r in ratios], "compress_ratios"
    else:
        return (lambda i: "compressed_sparse_attention" if i >= 2 and i % 2 else "heavily_compressed_attention"), \
            2, (2,)
    bad = sorted(set(kinds) - set(_TYPES))
    if bad:
        raise f.error(f"field {key!r}: unsupported layer type(s) {bad}; known: {sorted(_TYPES)}")
    if len(kinds) < num_layers:
        raise f.error(f"field {key!r} has {len(kinds)} entries for {num_layers} layers")
    return kinds.__getitem__, num_layers, ()


def _deepseek_v4(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers")
    hidden, num_layers = f.int("hidden_size"), f.int("num_hidden_layers")
    head_dim = f.int("head_dim", default=512)
    if f.has("partial_rotary_factor"):
        fraction = f.fraction("partial_rotary_factor", default=1.0)
    else:
        fraction = f.int("qk_rope_head_dim", default=64) / head_dim
    rates = {"csa": 4, "hca": 128}
    given = f.dict("compress_rates")
    for key in given:
        if key not in ("compressed_sparse_attention", "heavily_compressed_attention"):
            raise f.error(f"field 'compress_rates': unknown layer type {key!r}")
        rates[_TYPES[key]] = Fields(given, f"{f.where}: compress_rates").int(key)
    rates["csa"] = f.int("compress_rate_csa", default=rates["csa"])
    rates["hca"] = f.int("compress_rate_hca", default=rates["hca"])
    common = dict(num_heads=f.int("num_attention_heads", default=64), head_dim=head_dim,
                  q_lora_rank=f.int("q_lora_rank", default=1024), rope_dim=int(head_dim * fraction),
                  o_groups=f.int("o_groups", default=8), o_lora_rank=f.int("o_lora_rank", default=1024),
                  sliding_window=f.int("sliding_window", default=128))
    index = dict(index_heads=f.int("index_n_heads", default=64), index_head_dim=f.int("index_head_dim", default=128),
                 index_topk=f.int("index_topk", default=512))
    mixers = {"sliding": CompressedAttention(**common),
              "csa": CompressedAttention(**common, kind="csa", compress_ratio=rates["csa"], **index),
              "hca": CompressedAttention(**common, kind="hca", compress_ratio=rates["hca"])}
    # HF maps intermediate_size onto moe_intermediate_size (attribute_map): either names the experts' width.
    width = f.int("moe_intermediate_size", "intermediate_size", default=2048)
    if f.has("moe_intermediate_size") and f.has("intermediate_size") and \
            f.int("intermediate_size") != width:
        raise f.error(f"fields 'moe_intermediate_size' ({width}) and 'intermediate_size' "
                      f"({f.int('intermediate_size')}) name the same width in DeepSeek-V4 and differ")
    moe = MoE(num_experts=f.int("n_routed_experts", default=256), top_k=f.int("num_experts_per_tok", default=6),
              expert_intermediate_size=width, activation=f.activation("hidden_act", default="silu"),
              shared_intermediate_size=width)
    kind_at, period, breaks = v4_kind_rule(f, num_layers)
    groups = pattern_groups(num_layers, kind_at, lambda kind: Layer(mixers[_TYPES[kind]], moe), period=period,
                            breaks=breaks)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size", default=129280), layer_groups=groups,
                tie_word_embeddings=tied(f, False), hc_mult=f.int("hc_mult", default=4),
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"router": "gate"}, notes=NOTES)
