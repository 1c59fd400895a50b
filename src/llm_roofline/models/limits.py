"""Documented upper limits of every model dimension (docs/models.md, "Limits").

Generous next to any real model (the largest configs known have 126 layers, d 18,432, 1,024 experts,
a 256k vocabulary), small enough that a config asking for more is a typo or an attack: the engine's
cost never depends on the layer count (layers are groups with counts), and these caps keep every
product of sizes exact in float64 and far from overflow. A value above its limit is a ConfigError
naming the field and the valid range; nothing is clamped.
"""

from __future__ import annotations

from types import MappingProxyType

#: kind of dimension -> largest value accepted.
LIMITS = MappingProxyType({
    "layers": 10_000,            # decoder layers of a whole model
    "width": 1 << 20,            # model width D, embedding width, MLA / Mamba ranks (1,048,576)
    "ffn": 1 << 24,              # MLP, expert and Mamba inner widths (16,777,216)
    "heads": 1 << 16,            # query / key-value heads (65,536)
    "head_dim": 1 << 16,         # size of one head (65,536)
    "vocab": 1 << 24,            # vocabulary (16,777,216)
    "experts": 1 << 16,          # routed experts and experts per token (65,536)
    "positions": 1 << 32,        # context length, sliding window, attention chunk, learned positions
    "state": 1 << 16,            # Mamba SSM state and conv kernel sizes (65,536)
    "other": 1 << 40,            # any other integer field
})

#: Hugging Face config field -> kind of dimension (fields not listed are "other").
HF_FIELD_KIND = MappingProxyType({
    **dict.fromkeys(("num_hidden_layers", "n_layer", "n_layers", "num_layers"), "layers"),
    **dict.fromkeys(("hidden_size", "n_embd", "n_embed", "d_model", "word_embed_proj_dim", "kv_lora_rank",
                     "q_lora_rank", "time_step_rank", "mamba_dt_rank"), "width"),
    **dict.fromkeys(("intermediate_size", "ffn_dim", "n_inner", "ffn_hidden_size", "moe_intermediate_size",
                     "shared_expert_intermediate_size", "intermediate_size_mlp", "shared_intermediate_size"),
                    "ffn"),
    **dict.fromkeys(("num_attention_heads", "n_head", "n_heads", "num_key_value_heads", "num_kv_heads",
                     "n_head_kv", "kv_n_heads", "multi_query_group_num"), "heads"),
    **dict.fromkeys(("head_dim", "kv_channels", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
                     "rotary_dim"), "head_dim"),
    **dict.fromkeys(("vocab_size", "padded_vocab_size"), "vocab"),
    **dict.fromkeys(("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts",
                     "num_experts_per_tok", "experts_per_token", "moe_top_k", "n_shared_experts"), "experts"),
    **dict.fromkeys(("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "sliding_window",
                     "sliding_window_size", "attention_chunk_size"), "positions"),
    **dict.fromkeys(("state_size", "mamba_d_state", "conv_kernel", "mamba_d_conv"), "state"),
})


def limit_of_field(name: str) -> int:
    """Largest value a HF config field may take."""
    return LIMITS[HF_FIELD_KIND.get(name, "other")]
