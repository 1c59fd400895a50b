"""Dense decoders with LayerNorms (weight and bias): StarCoder2, GPT-BigCode (SantaCoder,
StarCoder 1) and StableLM, each with its transformers 5.23 field names, defaults and module names."""

from __future__ import annotations

from typing import Any

from .hf_families import gpt2_layout
from .hf_fields import Fields, head_dim_of, kv_heads_of, tied, window_value
from .spec import MLP, Attention, Layer, LayerGroup

# --- StarCoder2: GQA, biases everywhere (use_bias), plain MLP c_fc / c_proj, tied head ------------

def _starcoder2(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    f = f.with_defaults({"num_key_value_heads": 2})  # Starcoder2Config's default
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    head_dim = head_dim_of(f, hidden, heads)
    bias = f.bool("use_bias", default=True)
    # The window (when given) applies to every layer.
    attn = Attention(heads, kv_heads_of(f, heads, "num_key_value_heads"), head_dim,
                     rope_dim=int(head_dim * f.fraction("partial_rotary_factor", default=1.0)),
                     qkv_bias=bias, o_bias=bias, sliding_window=window_value(f))
    mlp = MLP(f.int("intermediate_size"), gated=False,
              activation=f.activation("hidden_act", default="gelu_pytorch_tanh"), bias=bias)
    layer = Layer(attn, mlp, norm_kind="layernorm", norm_bias=True)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),), tie_word_embeddings=tied(f, True),
                final_norm_kind="layernorm", final_norm_bias=True,
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"up_proj": "c_fc", "down_proj": "c_proj"})


# --- GPT-BigCode: GPT-2 with multi-query attention (one KV head) ----------------------------------

def _gpt_bigcode(f: Fields, model_type: str) -> dict[str, Any]:
    return gpt2_layout(f, multi_query=f.bool("multi_query", default=True), default_activation="gelu_pytorch_tanh")


# --- StableLM: partial rotary (25 %), optional q/k/v bias, optional per-head q/k LayerNorms --------

def _stablelm(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    # StableLmConfig's defaults: 32 KV heads, partial_rotary_factor 0.25.
    f = f.with_defaults({"num_key_value_heads": 32})
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    head_dim = head_dim_of(f, hidden, heads, key=None)
    # qk_layernorm: a bias-free LayerNorm over each head, with weights of its own per head.
    attn = Attention(heads, kv_heads_of(f, heads, "num_key_value_heads"), head_dim,
                     rope_dim=int(head_dim * f.fraction("partial_rotary_factor", default=0.25)),
                     qkv_bias=f.bool("use_qkv_bias", default=False), qk_norm=f.bool("qk_layernorm", default=False),
                     qk_norm_kind="layernorm", qk_norm_scope="per_head")
    mlp = MLP(f.int("intermediate_size"), gated=True, activation=f.activation("hidden_act", default="silu"))
    parallel = f.bool("use_parallel_residual", default=False)
    norms = ("input_layernorm",) if parallel else ("input_layernorm", "post_attention_layernorm")
    layer = Layer(attn, mlp, norm_names=norms, norm_kind="layernorm", norm_bias=True, parallel=parallel)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),), tie_word_embeddings=tied(f, False),
                final_norm_kind="layernorm", final_norm_bias=True,
                max_position_embeddings=f.int("max_position_embeddings", default=None))
