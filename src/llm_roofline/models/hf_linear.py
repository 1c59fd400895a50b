"""Hybrids of full attention and gated delta-net linear attention: Qwen3-Next (``qwen3_next``), Qwen3.5
(``qwen3_5`` / ``qwen3_5_text``) and Qwen3.5-MoE (``qwen3_5_moe`` / ``qwen3_5_moe_text``; the released
configs nest these under ``text_config``).

HF: ``Qwen3NextConfig``, ``Qwen3_5TextConfig``, ``Qwen3_5MoeTextConfig`` (transformers 5.23). Layer i is
``layer_types[i]`` ("linear_attention" / "full_attention"), by default full attention every
``full_attention_interval`` (4) layers. Full attention: q_proj also emits the output gate (always, in
HF's ``Qwen3NextAttention``; ``attn_output_gate`` is not read), q_norm / k_norm, partial rotary
(``partial_rotary_factor``, default 0.25). Feed-forward: Qwen3-Next MoE where
``(i + 1) % decoder_sparse_step == 0`` and i is not in ``mlp_only_layers`` (else a dense MLP of
``intermediate_size``); Qwen3.5 a dense MLP in every layer; Qwen3.5-MoE MoE in every layer. Each MoE
has a shared expert with a sigmoid ``shared_expert_gate``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import layer_pattern
from .hf_fields import Fields, head_dim_of, kv_heads_of, tied
from .spec import MLP, Attention, GatedDeltaNet, Layer, MoE

# HF defaults per family: vocab, KV heads, intermediate size, linear value heads, experts, top-k.
_DEFAULTS = {
    "qwen3_next": dict(vocab=151936, kv=2, intermediate=5632, v_heads=32, experts=512, top_k=10),
    "qwen3_5": dict(vocab=248320, kv=4, intermediate=12288, v_heads=32, experts=0, top_k=0),
    "qwen3_5_moe": dict(vocab=248320, kv=2, intermediate=0, v_heads=32, experts=256, top_k=8),
}
CANONICAL = {"qwen3_next": "qwen3_next", "qwen3_5": "qwen3_5", "qwen3_5_text": "qwen3_5",
             "qwen3_5_moe": "qwen3_5_moe", "qwen3_5_moe_text": "qwen3_5_moe"}


def linear_full_at(f: Fields, num_layers: int) -> tuple[Callable[[int], bool], int]:
    """(full_at(i), period): ``layer_types`` ("full_attention" / "linear_attention", one per layer),
    else full attention at every ``full_attention_interval``-th layer."""
    kinds = f.per_layer("layer_types", str, num_layers, ("linear_attention", "full_attention"))
    if kinds is not None:
        return (lambda i: kinds[i] == "full_attention"), num_layers
    interval = f.int("full_attention_interval", default=4)
    return (lambda i: (i + 1) % interval == 0), interval


def _qwen3_next(f: Fields, model_type: str) -> dict[str, Any]:
    family = CANONICAL[model_type]
    d = _DEFAULTS[family]
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads")
    hidden, heads, num_layers = f.int("hidden_size"), f.int("num_attention_heads"), f.int("num_hidden_layers")
    kv = kv_heads_of(f, heads, "num_key_value_heads") if f.has("num_key_value_heads") else d["kv"]
    if heads % kv:
        raise f.error(f"num_key_value_heads ({kv}) must divide num_attention_heads ({heads})")
    head_dim = head_dim_of(f, hidden, heads, default=None if f.has("head_dim") else 256)
    activation = f.activation("hidden_act", default="silu")
    bias = f.bool("attention_bias", default=False)
    attn = Attention(heads, kv, head_dim, rope_dim=int(head_dim * f.fraction("partial_rotary_factor", default=0.25)),
                     qkv_bias=bias, o_bias=bias, qk_norm=True, output_gate=True)
    linear = GatedDeltaNet(num_k_heads=f.int("linear_num_key_heads", default=16),
                           num_v_heads=f.int("linear_num_value_heads", default=d["v_heads"]),
                           k_head_dim=f.int("linear_key_head_dim", default=128),
                           v_head_dim=f.int("linear_value_head_dim", default=128),
                           conv_kernel=f.int("linear_conv_kernel_dim", default=4),
                           fused_projections=family == "qwen3_next")

    # Which layers route (layer_pattern rules: periodic in ``step``, cut around each mlp_only layer).
    experts = 0 if family == "qwen3_5" else f.int("num_experts", default=d["experts"], minimum=0)
    step, mlp_only = 1, frozenset()
    if family == "qwen3_next":
        step = f.int("decoder_sparse_step", default=1)
        mlp_only = f.layer_indices("mlp_only_layers", num_layers)

    def sparse_at(i: int) -> bool:
        return experts > 0 and i not in mlp_only and (i + 1) % step == 0

    full_at, period = linear_full_at(f, num_layers)
    counts = layer_pattern.pattern_counts(num_layers, lambda i: (full_at(i), sparse_at(i)),
                            period=min(math.lcm(period, step), num_layers),
                            breaks=[b for i in mlp_only for b in (i, i + 1)])
    moe = None
    if any(sparse for _, sparse in counts):
        shared = f.int("shared_expert_intermediate_size", default=512, minimum=0)
        moe = MoE(num_experts=f.int("num_experts", default=d["experts"]),
                  top_k=f.int("num_experts_per_tok", default=d["top_k"]),
                  expert_intermediate_size=f.int("moe_intermediate_size", default=512), activation=activation,
                  shared_intermediate_size=shared, shared_expert_gate=shared > 0)
    if not all(sparse for _, sparse in counts) and not f.has("intermediate_size") and not d["intermediate"]:
        f.require("intermediate_size")

    def make(key: tuple[bool, bool]) -> Layer:
        full, sparse = key
        return Layer(attn if full else linear, moe if sparse else MLP(
            f.int("intermediate_size", default=d["intermediate"] or None), gated=True, activation=activation))

    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size", default=d["vocab"]),
                layer_groups=layer_pattern.groups_of(counts, make), tie_word_embeddings=tied(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"router": "gate", "shared_experts": "shared_expert"})
