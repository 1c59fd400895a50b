"""OLMo 2 and OLMoE (AI2): q/k RMSNorms over the whole query and key projections.

transformers 5.23: Olmo2Attention / OlmoeAttention normalize ``q_proj(x)`` (width N*H; OLMoE:
hidden_size) and ``k_proj(x)`` (K*H) with one RMSNorm each before splitting into heads.
OLMo 2 puts its two norms on the sublayer outputs (x + norm(attn(x)), then x + norm(mlp(x)));
OLMoE is pre-norm with a MoE of ``num_experts`` experts (gate_up_proj fused), top ``num_experts_per_tok``.
"""

from __future__ import annotations

from typing import Any

from .hf_fields import Fields, head_dim_of, kv_heads_of, tied
from .spec import MLP, Attention, Layer, LayerGroup, MoE


def _attention(f: Fields) -> tuple[int, Attention]:
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    head_dim = head_dim_of(f, hidden, heads)
    bias = f.bool("attention_bias", default=False)
    attn = Attention(heads, kv_heads_of(f, heads, "num_key_value_heads"), head_dim,
                     rope_dim=int(head_dim * f.fraction("partial_rotary_factor", default=1.0)),
                     qkv_bias=bias, o_bias=bias, qk_norm=True, qk_norm_scope="projection")
    return hidden, attn


def _olmo2(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, attn = _attention(f)
    mlp = MLP(f.int("intermediate_size"), gated=True, activation=f.activation("hidden_act", default="silu"))
    layer = Layer(attn, mlp, norm_names=("post_attention_layernorm", "post_feedforward_layernorm"),
                  output_norms=True)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),), tie_word_embeddings=tied(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None))


def _olmoe(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, attn = _attention(f)
    # OlmoeConfig's defaults: 64 experts, top 8 (num_local_experts is an alias of num_experts).
    moe = MoE(num_experts=f.int("num_experts", "num_local_experts", default=64),
              top_k=f.int("num_experts_per_tok", default=8),
              expert_intermediate_size=f.int("intermediate_size"),
              activation=f.activation("hidden_act", default="silu"), fused_gate_up=True)
    layer = Layer(attn, moe)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),), tie_word_embeddings=tied(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"router": "gate"})
