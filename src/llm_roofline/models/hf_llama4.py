"""Llama 4 (``llama4_text``, the language model of ``llama4``): chunked local attention on the RoPE
layers, global attention without RoPE (NoPE) on the others, interleaved MoE with a shared expert.

transformers 5.23 (models/llama4, Llama4TextConfig.__post_init__ and Llama4TextDecoderLayer):
- ``no_rope_layers[i]`` is 1 where layer i USES RoPE (default: every layer but each
  ``no_rope_layer_interval``-th, i.e. 0-based layers 3, 7, 11... are NoPE);
- ``layer_types`` (default: "chunked_attention" on the RoPE layers, "full_attention" on the NoPE
  ones); a chunked layer's queries see only the keys of their own ``attention_chunk_size`` chunk;
- ``use_qk_norm``: a weightless RMSNorm (Llama4TextL2Norm) over each query and key head, on the
  RoPE layers only;
- ``moe_layers`` (default: range(step - 1, L, step), step = ``interleave_moe_layer_step``): a router
  D -> E (sigmoid of the top-k logits scales each token's input), experts with a fused
  ``gate_up_proj`` of width ``intermediate_size`` and an always-on ``shared_expert`` of the same width;
  the other layers are dense MLPs of ``intermediate_size_mlp``.
Not modelled: the NoPE layers' query temperature (attn_temperature_tuning), one multiply per query element.
"""

from __future__ import annotations

import math
from typing import Any

from .hf_fields import Fields, kv_heads_of, tied
from .layer_pattern import pattern_groups
from .spec import MLP, Attention, Layer, MoE

# Llama4TextConfig's defaults.
_DEFAULTS = {"num_key_value_heads": 8, "head_dim": 128, "intermediate_size_mlp": 16384, "num_local_experts": 16,
             "num_experts_per_tok": 1, "interleave_moe_layer_step": 1, "use_qk_norm": True,
             "no_rope_layer_interval": 4, "attention_chunk_size": 8192, "attention_bias": False}
_LAYER_TYPES = ("chunked_attention", "full_attention")


def _llama4(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    f = f.with_defaults(_DEFAULTS)
    hidden, heads, L = f.int("hidden_size"), f.int("num_attention_heads"), f.int("num_hidden_layers")
    kv, head_dim = kv_heads_of(f, heads, "num_key_value_heads"), f.int("head_dim")
    activation = f.activation("hidden_act", default="silu")
    bias, qk_norm = f.bool("attention_bias"), f.bool("use_qk_norm")
    chunk = f.int("attention_chunk_size", default=None)
    explicit = False

    # RoPE per layer (an empty no_rope_layers list means the default, as in transformers).
    rope_list = f.per_layer("no_rope_layers", int, L) if f.data.get("no_rope_layers") else None
    interval = f.int("no_rope_layer_interval")
    if rope_list is not None:
        explicit = True

        def rope_at(i: int) -> bool:
            return bool(rope_list[i])
    else:
        def rope_at(i: int) -> bool:
            return (i + 1) % interval != 0

    types = f.per_layer("layer_types", str, L)
    if types is not None:
        explicit = True
        bad = next((t for t in types if t not in _LAYER_TYPES), None)
        if bad is not None:
            raise f.error(f"field 'layer_types': unsupported layer type {bad!r} (known: {', '.join(_LAYER_TYPES)})")

    def chunked_at(i: int) -> bool:
        return types[i] == "chunked_attention" if types is not None else rope_at(i)

    step = f.int("interleave_moe_layer_step")
    if f.data.get("moe_layers") is not None:
        explicit = True
        moe_layers = f.layer_indices("moe_layers", L)

        def moe_at(i: int) -> bool:
            return i in moe_layers
    else:
        def moe_at(i: int) -> bool:
            return i % step == step - 1

    moe = MoE(num_experts=f.int("num_local_experts"), top_k=f.int("num_experts_per_tok"),
              expert_intermediate_size=f.int("intermediate_size"), activation=activation,
              shared_intermediate_size=f.int("intermediate_size"), fused_gate_up=True)
    dense = MLP(f.int("intermediate_size_mlp"), gated=True, activation=activation)

    def make(key: tuple[bool, bool, bool]) -> Layer:
        rope, chunked, sparse = key
        if chunked and chunk is None:
            raise f.error("field 'attention_chunk_size' is null but some layers use chunked attention")
        attn = Attention(heads, kv, head_dim, rope_dim=head_dim if rope else 0, qkv_bias=bias, o_bias=bias,
                         attention_chunk=chunk if chunked else None, qk_norm=qk_norm and rope,
                         qk_norm_kind="weightless_rmsnorm")
        return Layer(attn, moe if sparse else dense)

    period = L if explicit else math.lcm(interval, step)
    groups = pattern_groups(L, lambda i: (rope_at(i), chunked_at(i), moe_at(i)), make, period=period)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"), layer_groups=groups,
                tie_word_embeddings=tied(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"router": "router", "shared_experts": "shared_expert"})
