"""gpt-oss (OpenAI): attention sinks, alternating sliding-window and global layers, biased experts.

transformers 5.23 (models/gpt_oss): GptOssAttention has q/k/v/o projections with a bias
(``attention_bias``, default true) and ``sinks``, one learned logit per query head that joins every
softmax row and is dropped after it. ``layer_types`` (default: even layers "sliding_attention" with
``sliding_window`` 128, odd layers "full_attention"). GptOssMLP: a router with a bias (D -> E + E)
and experts whose ``gate_up_proj`` (D -> 2F, interleaved gate / up) and ``down_proj`` carry biases;
the activation is a clamped SwiGLU, (up + 1) * gate * sigmoid(1.702 * gate).
The released checkpoints store the experts in MXFP4: a storage format (choose it with --w-bits);
the parameter count here is the logical one, as ``model.parameters()`` counts it.
"""

from __future__ import annotations

from typing import Any

from .hf_fields import Fields, kv_heads_of, layer_type_windows, tied
from .layer_pattern import pattern_groups
from .spec import Attention, Layer, MoE

# GptOssConfig's defaults.
_DEFAULTS = {"num_key_value_heads": 8, "head_dim": 64, "sliding_window": 128, "num_local_experts": 128,
             "num_experts_per_tok": 4, "attention_bias": True}


def _gpt_oss(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    f = f.with_defaults(_DEFAULTS)
    hidden, heads, num_layers = f.int("hidden_size"), f.int("num_attention_heads"), f.int("num_hidden_layers")
    kv, head_dim = kv_heads_of(f, heads, "num_key_value_heads"), f.int("head_dim")
    bias = f.bool("attention_bias")
    window = f.int("sliding_window", default=None)
    windows = layer_type_windows(f, num_layers, window)
    moe = MoE(num_experts=f.int("num_local_experts"), top_k=f.int("num_experts_per_tok"),
              expert_intermediate_size=f.int("intermediate_size"), activation="clamped_swiglu",
              router_bias=True, expert_bias=True, fused_gate_up=True)

    def make(layer_window: int | None) -> Layer:
        attn = Attention(heads, kv, head_dim, rope_dim=head_dim, qkv_bias=bias, o_bias=bias,
                         sliding_window=layer_window, sinks=True)
        return Layer(attn, moe)

    if windows is None:  # transformers: layer i slides when (i + 1) % 2, i.e. even layers
        groups = pattern_groups(num_layers, lambda i: window if i % 2 == 0 else None, make, period=2)
    else:
        groups = pattern_groups(num_layers, windows.__getitem__, make, period=num_layers)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"), layer_groups=groups,
                tie_word_embeddings=tied(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"router": "router"})
