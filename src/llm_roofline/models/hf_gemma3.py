"""Gemma 3 (``gemma3_text``, the language model of ``gemma3``): five sliding-window layers to one
global, q/k RMSNorms per head, norms before and after each sublayer, tied embeddings.

transformers 5.23 (models/gemma3): every absent field but the three sizes always given takes
Gemma3TextConfig's default (the released multimodal configs give only a few fields in
``text_config``); ``layer_types`` defaults to "sliding_attention" where
(i + 1) % ``sliding_window_pattern`` (default 6) != 0, else "full_attention"; Gemma3Attention has
q_norm / k_norm over ``head_dim``; the MLP is gated with ``hidden_activation`` (default
gelu_pytorch_tanh).
"""

from __future__ import annotations

from typing import Any

from .hf_fields import Fields, head_dim_of, kv_heads_of, layer_type_windows, tied
from .layer_pattern import pattern_groups
from .spec import MLP, Attention, Layer

# Gemma3TextConfig's defaults (a 2B-sized model).
_DEFAULTS = {"vocab_size": 262_208, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
             "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "max_position_embeddings": 131_072,
             "tie_word_embeddings": True, "attention_bias": False, "sliding_window": 4096, "sliding_window_pattern": 6}
_NORMS = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm")


def _gemma3(f: Fields, model_type: str) -> dict[str, Any]:
    # Every released config gives these (a config without them would be Gemma3TextConfig's default
    # model, which nobody means); the rest may take the class defaults.
    f.require("hidden_size", "num_hidden_layers", "intermediate_size")
    f = f.with_defaults(_DEFAULTS)
    if f.bool("use_bidirectional_attention", default=False):
        raise f.error("field 'use_bidirectional_attention' true (an encoder such as EmbeddingGemma) is not supported")
    hidden, heads, L = f.int("hidden_size"), f.int("num_attention_heads"), f.int("num_hidden_layers")
    head_dim = head_dim_of(f, hidden, heads)
    kv = kv_heads_of(f, heads, "num_key_value_heads")
    bias = f.bool("attention_bias")
    window = f.int("sliding_window", default=None)
    activation = f.activation("hidden_activation", default="gelu_pytorch_tanh")
    mlp = MLP(f.int("intermediate_size"), gated=True, activation=activation)

    def make(layer_window: int | None) -> Layer:
        attn = Attention(heads, kv, head_dim, rope_dim=head_dim, qkv_bias=bias, o_bias=bias,
                         sliding_window=layer_window, qk_norm=True)
        return Layer(attn, mlp, norm_names=_NORMS)

    windows = layer_type_windows(f, L, window)
    if windows is None:
        pattern = f.int("sliding_window_pattern")
        groups = pattern_groups(L, lambda i: window if (i + 1) % pattern else None, make, period=pattern)
    else:
        groups = pattern_groups(L, windows.__getitem__, make, period=L)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"), layer_groups=groups,
                tie_word_embeddings=tied(f, True), max_position_embeddings=f.int("max_position_embeddings"))
