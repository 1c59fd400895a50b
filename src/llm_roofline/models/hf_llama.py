"""Llama-style decoders (Llama, Mistral, Mixtral, Qwen2/3 and their MoE, Gemma, Gemma 2, Yi...):
the common HF field names, with the variants' switches read from the config."""

from __future__ import annotations

import math
from typing import Any

from .hf_fields import Fields, head_dim_of, kv_heads_of, layer_type_windows, tied, window_value
from .layer_pattern import pattern_groups
from .spec import MLP, Attention, Layer, MoE

# --- Llama-style decoders: llama, mistral, mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, gemma,
# gemma2 and the fallback ----------------------------------------------------------------------

_LLAMA_TIE = {"gemma": True, "gemma2": True}


def _llama_like(f: Fields, model_type: str) -> dict[str, Any]:
    required: list[str | tuple[str, ...]] = [
        "hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size"]
    if model_type in ("qwen2_moe", "qwen3_moe"):  # intermediate_size only if some layer is dense
        required += ["num_experts", "num_experts_per_tok", "moe_intermediate_size"]
    else:
        required.append("intermediate_size")
    if model_type == "mixtral":
        required += [("num_local_experts", "num_experts"), "num_experts_per_tok"]
    f.require(*required)

    hidden = f.int("hidden_size")
    num_layers = f.int("num_hidden_layers")
    heads = f.int("num_attention_heads")
    vocab = f.int("vocab_size")
    kv = kv_heads_of(f, heads, "num_key_value_heads")
    gemma = model_type in ("gemma", "gemma2")
    head_dim = head_dim_of(f, hidden, heads, default=None if not gemma or f.has("head_dim") else 256)
    rope_dim = int(head_dim * f.fraction("partial_rotary_factor", default=1.0))

    if gemma:  # HF treats Gemma's legacy "gelu" as the tanh approximation
        activation = f.activation("hidden_activation", "hidden_act", default="gelu_pytorch_tanh")
        activation = "gelu_tanh" if activation == "gelu" else activation
    else:
        activation = f.activation("hidden_act", default="silu")

    if model_type == "qwen2":  # q/k/v carry a bias, o_proj does not (hard-coded in HF)
        qkv_bias, o_bias = True, False
    elif model_type == "qwen2_moe":
        qkv_bias, o_bias = f.bool("qkv_bias", default=True), False
    else:
        qkv_bias = o_bias = f.bool("attention_bias", default=False)
    mlp_bias = f.bool("mlp_bias", default=False)
    qk_norm = model_type in ("qwen3", "qwen3_moe")

    # Sliding windows, per layer, following each family's HF rule: window_at(i), with the period and
    # the breakpoints of the rule (an explicit layer_types list is read entry by entry).
    window = window_value(f)
    period, breaks = 1, [0]
    explicit = None
    if model_type == "gemma2":
        window = window if window is not None else 4096
        explicit = layer_type_windows(f, num_layers, window)
        period = 2

        def window_at(i: int) -> int | None:
            return window if i % 2 == 0 else None  # even layers slide
    elif model_type in ("qwen2", "qwen3", "qwen2_moe", "qwen3_moe"):
        if not f.bool("use_sliding_window", default=False):
            window = None
        max_window_layers = f.int("max_window_layers", default=28, minimum=0)
        explicit = layer_type_windows(f, num_layers, window)
        breaks = [max_window_layers]
        if model_type in ("qwen2", "qwen3"):
            def window_at(i: int) -> int | None:
                return window if i >= max_window_layers else None
        elif model_type == "qwen2_moe":
            period = 2

            def window_at(i: int) -> int | None:
                return window if (i + 1) % 2 and i < max_window_layers else None
        else:
            def window_at(i: int) -> int | None:
                return window
    elif model_type in ("llama", "gemma"):
        window = None

        def window_at(i: int) -> int | None:
            return None
    else:  # mistral, mixtral and unknown types: one window for all layers when given
        if not f.bool("use_sliding_window", default=True):
            window = None
        explicit = layer_type_windows(f, num_layers, window)

        def window_at(i: int) -> int | None:
            return window
    if explicit is not None:
        window_at, period, breaks = explicit.__getitem__, num_layers, [0]

    # Feed-forward blocks, per layer: sparse_at(i) says whether layer i is MoE.
    def dense() -> MLP:
        return MLP(f.int("intermediate_size"), gated=True, activation=activation, bias=mlp_bias)

    moe_block: MoE | None = None
    mlp_only: frozenset[int] = frozenset()
    step = 1
    if model_type == "mixtral":
        moe_block = MoE(num_experts=f.int("num_local_experts", "num_experts"),
                        top_k=f.int("num_experts_per_tok"),
                        expert_intermediate_size=f.int("intermediate_size"), activation=activation)
    elif model_type in ("qwen2_moe", "qwen3_moe"):
        experts = f.int("num_experts", minimum=0)
        step = f.int("decoder_sparse_step", default=1)
        mlp_only = f.layer_indices("mlp_only_layers", num_layers)
        # Qwen2-MoE adds a shared expert with a sigmoid gate; Qwen3-MoE has none.
        shared = (f.int("shared_expert_intermediate_size", default=5632, minimum=0)
                  if model_type == "qwen2_moe" else 0)
        if experts > 0:
            moe_block = MoE(num_experts=experts, top_k=f.int("num_experts_per_tok"),
                            expert_intermediate_size=f.int("moe_intermediate_size"), activation=activation,
                            shared_intermediate_size=shared, shared_expert_gate=shared > 0)

    def sparse_at(i: int) -> bool:
        return moe_block is not None and i not in mlp_only and (i + 1) % step == 0

    if moe_block is None or mlp_only or step > 1:
        f.require("intermediate_size")  # some layer is dense
    period = period if period == num_layers else math.lcm(period, step)
    breaks = [*breaks, *mlp_only, *(i + 1 for i in mlp_only)]

    norms = (("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
              "post_feedforward_layernorm") if model_type == "gemma2"
             else ("input_layernorm", "post_attention_layernorm"))

    def make(key: tuple[int | None, bool]) -> Layer:
        layer_window, sparse = key
        return Layer(mixer=Attention(heads, kv, head_dim, rope_dim=rope_dim, qkv_bias=qkv_bias, o_bias=o_bias,
                                     sliding_window=layer_window, qk_norm=qk_norm),
                     ffn=moe_block if sparse else dense(), norm_names=norms, norm_kind="rmsnorm")

    groups = pattern_groups(num_layers, lambda i: (window_at(i), sparse_at(i)), make, period=period,
                            breaks=breaks)
    op_names: dict[str, str] = {}
    if model_type == "mixtral":
        op_names = {"gate_proj": "w1", "up_proj": "w3", "down_proj": "w2", "router": "gate"}
    elif model_type == "qwen2_moe":
        op_names = {"router": "gate", "shared_experts": "shared_expert",
                    "shared_expert_gate": "shared_expert_gate"}
    elif model_type == "qwen3_moe":
        op_names = {"router": "gate"}
    return dict(
        hidden_size=hidden, vocab_size=vocab, layer_groups=groups,
        tie_word_embeddings=tied(f, _LLAMA_TIE.get(model_type, False)),
        max_position_embeddings=f.int("max_position_embeddings", default=None), op_names=op_names,
    )
