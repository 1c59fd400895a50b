"""Latent attention and state-space families: DeepSeek-V2/V3 (MLA + MoE), Jamba, Mamba."""

from __future__ import annotations

import math
from typing import Any

from .hf_fields import Fields, head_dim_of, kv_heads_of, tied, window_value
from .layer_pattern import pattern_groups
from .spec import MLP, Attention, LatentAttention, Layer, LayerGroup, Mamba, MoE

# --- DeepSeek-V2 / V3 (MLA + MoE) ----------------------------------------------------------------

def _deepseek(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size",
              "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
    hidden, num_layers = f.int("hidden_size"), f.int("num_hidden_layers")
    activation = f.activation("hidden_act", default="silu")
    # q_lora_rank null (V2-Lite): q_proj straight from the hidden state.
    q_lora = f.data.get("q_lora_rank", 1536)
    mla = LatentAttention(
        num_heads=f.int("num_attention_heads"),
        q_lora_rank=0 if q_lora is None else f.int("q_lora_rank", default=1536, minimum=0),
        kv_lora_rank=f.int("kv_lora_rank"), qk_nope_head_dim=f.int("qk_nope_head_dim", minimum=0),
        qk_rope_head_dim=f.int("qk_rope_head_dim"), v_head_dim=f.int("v_head_dim"),
        bias=f.bool("attention_bias", default=False))
    dense = MLP(f.int("intermediate_size"), gated=True, activation=activation,
                bias=f.bool("mlp_bias", default=False))
    routed = f.int("n_routed_experts", default=None, minimum=0)
    moe = None
    if routed:
        f.require("num_experts_per_tok", "moe_intermediate_size")
        moe_width = f.int("moe_intermediate_size")
        # e_score_correction_bias (V3) is a buffer in HF transformers, not a parameter.
        moe = MoE(num_experts=routed, top_k=f.int("num_experts_per_tok"), expert_intermediate_size=moe_width,
                  activation=activation,
                  shared_intermediate_size=moe_width * f.int("n_shared_experts", default=0, minimum=0))
    first_dense = f.int("first_k_dense_replace", default=0, minimum=0)
    freq = f.int("moe_layer_freq", default=1)
    groups = pattern_groups(num_layers, lambda i: moe is not None and i >= first_dense and i % freq == 0,
                            lambda sparse: Layer(mla, moe if sparse else dense), period=freq, breaks=[first_dense])
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"), layer_groups=groups,
                tie_word_embeddings=tied(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"router": "gate"})


# --- Jamba (Mamba / attention x dense / MoE) -----------------------------------------------------

def _jamba(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    num_layers = f.int("num_hidden_layers")
    kv = kv_heads_of(f, heads, "num_key_value_heads")
    activation = f.activation("hidden_act", default="silu")
    attn_period, attn_offset = f.int("attn_layer_period", default=8), f.int("attn_layer_offset", default=4,
                                                                          minimum=0)
    exp_period, exp_offset = f.int("expert_layer_period", default=2), f.int("expert_layer_offset", default=1,
                                                                            minimum=0)
    if attn_offset >= attn_period:
        raise f.error(f"field 'attn_layer_offset' ({attn_offset}) must be < attn_layer_period ({attn_period})")
    if exp_offset >= exp_period:
        raise f.error(f"field 'expert_layer_offset' ({exp_offset}) must be < expert_layer_period ({exp_period})")
    dt_rank = f.data.get("mamba_dt_rank", "auto")
    dt_rank = math.ceil(hidden / 16) if dt_rank == "auto" else f.int("mamba_dt_rank")
    mamba = Mamba(d_inner=f.int("mamba_expand", default=2) * hidden, d_state=f.int("mamba_d_state", default=16),
                  d_conv=f.int("mamba_d_conv", default=4), dt_rank=dt_rank,
                  conv_bias=f.bool("mamba_conv_bias", default=True),
                  proj_bias=f.bool("mamba_proj_bias", default=False), inner_norms=True)
    attn = Attention(heads, kv, head_dim_of(f, hidden, heads, key=None), sliding_window=window_value(f))
    experts = f.int("num_experts", "num_local_experts", default=16)
    dense = MLP(f.int("intermediate_size"), gated=True, activation=activation)
    moe = (MoE(num_experts=experts, top_k=f.int("num_experts_per_tok", default=2),
               expert_intermediate_size=f.int("intermediate_size"), activation=activation)
           if experts > 1 else None)
    def make(key: tuple[bool, bool]) -> Layer:
        attends, sparse = key
        return Layer(attn if attends else mamba, moe if sparse else dense,
                     norm_names=("input_layernorm", "pre_ff_layernorm"))

    groups = pattern_groups(num_layers, lambda i: (i % attn_period == attn_offset,
                                                   moe is not None and i % exp_period == exp_offset),
                            make, period=math.lcm(attn_period, exp_period))
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"), layer_groups=groups,
                tie_word_embeddings=tied(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"router": "router", "final_norm": "final_layernorm"})


# --- Mamba ---------------------------------------------------------------------------------------

def _mamba(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", ("num_hidden_layers", "n_layer"), "vocab_size")
    hidden = f.int("hidden_size")
    dt_rank = f.data.get("time_step_rank", "auto")
    dt_rank = math.ceil(hidden / 16) if dt_rank == "auto" else f.int("time_step_rank")
    mixer = Mamba(d_inner=int(f.float("expand", default=2) * hidden), d_state=f.int("state_size", default=16),
                  d_conv=f.int("conv_kernel", default=4), dt_rank=dt_rank,
                  conv_bias=f.bool("use_conv_bias", default=True), proj_bias=f.bool("use_bias", default=False))
    layer = Layer(mixer, None, norm_names=("norm",))
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers", "n_layer")),),
                tie_word_embeddings=tied(f, True), op_names={"embed_tokens": "embeddings", "final_norm": "norm_f"})
