"""Llama-style decoders (Llama, Mistral, Mixtral, Qwen2/3 and their MoE, Gemma, Gemma 2, Yi...):
the common HF field names, with the variants' switches read from the config."""

from __future__ import annotations

from typing import Any

from .hf_fields import Fields, every_layer, grouped, head_dim_of, kv_heads_of, layer_type_windows, tied, window_value
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

    # Sliding windows, per layer, following each family's HF rule.
    window = window_value(f)
    if model_type == "gemma2":
        window = window if window is not None else 4096
        windows = layer_type_windows(f, num_layers, window) or [
            window if i % 2 == 0 else None for i in range(num_layers)]  # even layers slide
    elif model_type in ("qwen2", "qwen3", "qwen2_moe", "qwen3_moe"):
        if not f.bool("use_sliding_window", default=False):
            window = None
        max_window_layers = f.int("max_window_layers", default=28, minimum=0)
        windows = layer_type_windows(f, num_layers, window)
        if windows is None:
            if model_type in ("qwen2", "qwen3"):
                windows = [window if i >= max_window_layers else None for i in range(num_layers)]
            elif model_type == "qwen2_moe":
                windows = [window if (i + 1) % 2 and i < max_window_layers else None
                           for i in range(num_layers)]
            else:
                windows = every_layer(window, num_layers)
    elif model_type in ("llama", "gemma"):
        windows = every_layer(None, num_layers)
    else:  # mistral, mixtral and unknown types: one window for all layers when given
        if not f.bool("use_sliding_window", default=True):
            window = None
        windows = layer_type_windows(f, num_layers, window) or every_layer(window, num_layers)

    # Feed-forward blocks, per layer.
    def dense() -> MLP:
        return MLP(f.int("intermediate_size"), gated=True, activation=activation, bias=mlp_bias)

    ffns: list[MLP | MoE]
    if model_type == "mixtral":
        moe = MoE(num_experts=f.int("num_local_experts", "num_experts"),
                  top_k=f.int("num_experts_per_tok"),
                  expert_intermediate_size=f.int("intermediate_size"), activation=activation)
        ffns = [moe] * num_layers
    elif model_type in ("qwen2_moe", "qwen3_moe"):
        experts = f.int("num_experts", minimum=0)
        step = f.int("decoder_sparse_step", default=1)
        mlp_only = set(f.list("mlp_only_layers", int, default=[]))
        # Qwen2-MoE adds a shared expert with a sigmoid gate; Qwen3-MoE has none.
        shared = (f.int("shared_expert_intermediate_size", default=5632, minimum=0)
                  if model_type == "qwen2_moe" else 0)
        sparse = [i not in mlp_only and experts > 0 and (i + 1) % step == 0 for i in range(num_layers)]
        moe_block = MoE(num_experts=experts, top_k=f.int("num_experts_per_tok"),
                        expert_intermediate_size=f.int("moe_intermediate_size"), activation=activation,
                        shared_intermediate_size=shared, shared_expert_gate=shared > 0) if any(sparse) else None
        if not all(sparse):
            f.require("intermediate_size")
        ffns = [moe_block if s else dense() for s in sparse]  # type: ignore[misc]
    else:
        ffns = [dense()] * num_layers

    norms = (("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
              "post_feedforward_layernorm") if model_type == "gemma2"
             else ("input_layernorm", "post_attention_layernorm"))
    layers = [
        Layer(mixer=Attention(heads, kv, head_dim, rope_dim=rope_dim, qkv_bias=qkv_bias, o_bias=o_bias,
                              sliding_window=windows[i], qk_norm=qk_norm),
              ffn=ffns[i], norm_names=norms, norm_kind="rmsnorm")
        for i in range(num_layers)
    ]
    op_names: dict[str, str] = {}
    if model_type == "mixtral":
        op_names = {"gate_proj": "w1", "up_proj": "w3", "down_proj": "w2", "router": "gate"}
    elif model_type == "qwen2_moe":
        op_names = {"router": "gate", "shared_experts": "shared_expert",
                    "shared_expert_gate": "shared_expert_gate"}
    elif model_type == "qwen3_moe":
        op_names = {"router": "gate"}
    return dict(
        hidden_size=hidden, vocab_size=vocab, layer_groups=grouped(layers),
        tie_word_embeddings=tied(f, _LLAMA_TIE.get(model_type, False)),
        max_position_embeddings=f.int("max_position_embeddings", default=None), op_names=op_names,
    )
