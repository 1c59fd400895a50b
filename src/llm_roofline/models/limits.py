"""Which limit applies to which Hugging Face config field (the numbers: ``llm_roofline.limits``,
``MODEL_LIMITS``; docs/limits.md). A value above its limit is a ConfigError naming the field and the
valid range; nothing is clamped."""

from __future__ import annotations

from types import MappingProxyType

from ..limits import LAYER_COUNT_KEYS, MODEL_LIMITS

#: kind of dimension -> largest value accepted (the table of llm_roofline.limits).
LIMITS = MODEL_LIMITS

#: Hugging Face config field -> kind of dimension (fields not listed are "other").
HF_FIELD_KIND = MappingProxyType({
    **dict.fromkeys(LAYER_COUNT_KEYS, "layers"),
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
