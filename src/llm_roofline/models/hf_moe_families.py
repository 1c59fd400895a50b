"""Mixture-of-experts decoders with a family of their own: Phi-3.5-MoE (phimoe), DBRX and MiniMax-M2.

Each reads its transformers 5.23 config class's field names and defaults and names its operators
with the modules of its modeling file.
"""

from __future__ import annotations

from typing import Any

from .hf_fields import ACTIVATION_NAMES, Fields, head_dim_of, kv_heads_of, tied, window_value
from .spec import Attention, Layer, LayerGroup, MoE

# --- Phi-3.5-MoE: LayerNorms with bias, optional q/k/v/o and lm_head biases, a window on every layer ---

def _phimoe(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    head_dim = head_dim_of(f, hidden, heads)
    bias = f.bool("attention_bias", default=False)
    attn = Attention(heads, kv_heads_of(f, heads, "num_key_value_heads"), head_dim, rope_dim=head_dim,
                     qkv_bias=bias, o_bias=bias, sliding_window=window_value(f))
    # PhimoeConfig's defaults: 16 experts, top 2.
    moe = MoE(num_experts=f.int("num_local_experts", default=16), top_k=f.int("num_experts_per_tok", default=2),
              expert_intermediate_size=f.int("intermediate_size"),
              activation=f.activation("hidden_act", default="silu"), fused_gate_up=True)
    layer = Layer(attn, moe, norm_kind="layernorm", norm_bias=True)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),), tie_word_embeddings=tied(f, False),
                final_norm_kind="layernorm", final_norm_bias=True, lm_head_bias=f.bool("lm_head_bias", default=False),
                max_position_embeddings=f.int("max_position_embeddings", default=None))


# --- DBRX: nested attn_config / ffn_config, fused Wqkv, LayerNorms without bias, 16 experts -----------

def _dbrx(f: Fields, model_type: str) -> dict[str, Any]:
    f.require(("d_model", "hidden_size"), ("n_heads", "num_attention_heads"), ("n_layers", "num_hidden_layers"),
              "vocab_size")
    hidden, heads = f.int("d_model", "hidden_size"), f.int("n_heads", "num_attention_heads")
    # DbrxAttentionConfig / DbrxFFNConfig defaults: 1 KV head; 4 experts of 3584, top 1, SiLU.
    a = Fields(f.dict("attn_config"), f"{f.where}: attn_config")
    ffn = Fields(f.dict("ffn_config"), f"{f.where}: ffn_config")
    head_dim = head_dim_of(f, hidden, heads, key=None)
    attn = Attention(heads, kv_heads_of(a, heads, "kv_n_heads") if a.has("kv_n_heads") else 1, head_dim,
                     rope_dim=head_dim, fused_qkv=True)
    act = Fields(ffn.dict("ffn_act_fn"), f"{ffn.where}: ffn_act_fn")
    name = act.str("name", default="silu")
    if name.lower() not in ACTIVATION_NAMES:
        raise act.error(f"field 'name': unsupported activation {name!r}")
    moe = MoE(num_experts=ffn.int("moe_num_experts", default=4), top_k=ffn.int("moe_top_k", default=1),
              expert_intermediate_size=ffn.int("ffn_hidden_size", default=3584),
              activation=ACTIVATION_NAMES[name.lower()])
    layer = Layer(attn, moe, norm_names=("norm_1", "norm_2"), norm_kind="layernorm")
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("n_layers", "num_hidden_layers")),),
                tie_word_embeddings=tied(f, False), final_norm_kind="layernorm",
                max_position_embeddings=f.int("max_seq_len", "max_position_embeddings", default=2048),
                op_names={"embed_tokens": "wte", "qkv_proj": "Wqkv", "o_proj": "out_proj", "router": "router.layer",
                          "experts": "experts.mlp", "gate_proj": "w1", "up_proj": "v1", "down_proj": "w2",
                          "final_norm": "norm_f"})


# --- MiniMax-M2: partial rotary (rotary_dim), q/k norms over the projections, 256 experts -----------

def _minimax_m2(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    # MiniMaxM2Config's defaults: 8 KV heads of 128, 256 experts, top 8.
    f = f.with_defaults({"num_key_value_heads": 8, "head_dim": 128, "num_local_experts": 256,
                         "num_experts_per_tok": 8})
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    head_dim = f.int("head_dim")
    # The released configs give the rotary part as rotary_dim (transformers: partial_rotary_factor =
    # rotary_dim / head_dim). transformers always builds q_norm (N*H) and k_norm (K*H), whatever
    # use_qk_norm / qk_norm_type say (the released models use them: "per_layer").
    rope_dim = (f.int("rotary_dim") if f.has("rotary_dim")
                else int(head_dim * f.fraction("partial_rotary_factor", default=1.0)))
    if rope_dim > head_dim:
        raise f.error(f"field 'rotary_dim' ({rope_dim}) exceeds head_dim ({head_dim})")
    attn = Attention(heads, kv_heads_of(f, heads, "num_key_value_heads"), head_dim, rope_dim=rope_dim,
                     qk_norm=True, qk_norm_scope="projection")
    # e_score_correction_bias (sigmoid routing) is a buffer in transformers, not a parameter.
    moe = MoE(num_experts=f.int("num_local_experts"), top_k=f.int("num_experts_per_tok"),
              expert_intermediate_size=f.int("intermediate_size"),
              activation=f.activation("hidden_act", default="silu"), fused_gate_up=True)
    notes = ()
    if f.bool("use_mtp", default=False):
        notes = ("the multi-token-prediction modules (use_mtp) are not part of transformers' model "
                 "and are not analysed",)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(Layer(attn, moe), f.int("num_hidden_layers")),),
                tie_word_embeddings=tied(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"router": "gate"}, notes=notes)
