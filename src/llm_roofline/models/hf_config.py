"""Hugging Face ``config.json`` -> :class:`ModelSpec`.

One parser per family, chosen by ``model_type`` (and ``architectures`` when ``model_type`` is
missing or is an old remote-code name such as Falcon's ``RefinedWebModel``). Every family reads
the real HF field names, applies that family's HF defaults for absent fields (e.g. Gemma, OPT,
GPT-2, BLOOM, MPT, Falcon and Mamba tie their embeddings; Llama, GPT-NeoX and GPT-J do not) and
names its operators with the family's HF module names. Unknown ``model_type`` values fall back to
the common Llama-style fields. Parameter counts follow
``sum(p.numel() for p in model.parameters())`` of the HF transformers model (buffers such as
DeepSeek-V3's ``e_score_correction_bias`` are not parameters there).

Every problem with the input (bad JSON, wrong types, missing or inconsistent fields) raises
:class:`~llm_roofline.errors.ConfigError` naming the file (or model) and the field(s).
See ``docs/models.md`` for the field-by-field mapping.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .spec import MLP, Attention, LatentAttention, Layer, LayerGroup, Mamba, ModelSpec, MoE

__all__ = ["load_hf_config", "read_hf_config", "spec_from_hf_config", "supported_model_types"]

_MISSING: Any = object()

# HF activation names -> spec.ACTIVATIONS.
_ACTIVATIONS = {
    "silu": "silu", "swish": "silu", "swiglu": "silu",
    "gelu": "gelu", "gelu_python": "gelu", "quick_gelu": "gelu", "gelu_10": "gelu",
    "gelu_new": "gelu_tanh", "gelu_fast": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_tanh": "gelu_tanh", "gelu_accurate": "gelu_tanh",
    "relu": "relu", "relu2": "relu2", "relu_squared": "relu2",
}


class _Fields:
    """Typed access to a config dict; every error names ``where`` and the field."""

    def __init__(self, data: Mapping[str, Any], where: str):
        self.data = data
        self.where = where

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: {message}")

    def has(self, *keys: str) -> bool:
        return any(self.data.get(key) is not None for key in keys)

    def _find(self, keys: Sequence[str]) -> tuple[str, Any]:
        for key in keys:
            if self.data.get(key) is not None:
                return key, self.data[key]
        return keys[0], None

    def require(self, *groups: str | tuple[str, ...]) -> None:
        """Raise one error listing every absent (or null) required field; a tuple is a set of
        aliases of which one must be present."""
        missing = []
        for group in groups:
            keys = (group,) if isinstance(group, str) else group
            if not self.has(*keys):
                missing.append(keys[0] if len(keys) == 1 else f"{keys[0]} (or {', '.join(keys[1:])})")
        if missing:
            raise self.error(f"missing required field(s): {', '.join(missing)}")

    def _get(self, keys: Sequence[str], default: Any) -> tuple[str, Any]:
        key, value = self._find(keys)
        if value is None and default is _MISSING:
            raise self.error(f"missing required field(s): {key}")
        return key, value

    def int(self, *keys: str, default: Any = _MISSING, minimum: int | None = 1) -> Any:
        """An integer (missing or null: ``default``). Integral floats such as 4096.0 are accepted."""
        key, value = self._get(keys, default)
        if value is None:
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(f"field {key!r} must be an integer, got {value!r} ({type(value).__name__})")
        if minimum is not None and value < minimum:
            raise self.error(f"field {key!r} must be >= {minimum}, got {value}")
        return value

    def float(self, *keys: str, default: Any = _MISSING) -> Any:
        key, value = self._get(keys, default)
        if value is None:
            return default
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.error(f"field {key!r} must be a number, got {value!r} ({type(value).__name__})")
        return float(value)

    def bool(self, *keys: str, default: Any = _MISSING) -> Any:
        key, value = self._get(keys, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(f"field {key!r} must be true or false, got {value!r} ({type(value).__name__})")
        return value

    def str(self, *keys: str, default: Any = _MISSING) -> Any:
        key, value = self._get(keys, default)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(f"field {key!r} must be a string, got {value!r} ({type(value).__name__})")
        return value

    def dict(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(f"field {key!r} must be an object, got {value!r} ({type(value).__name__})")
        return value

    def list(self, key: str, item: type, default: Any = _MISSING) -> Any:
        _, value = self._get((key,), default)
        if value is None:
            return default
        if not isinstance(value, list) or not all(
                isinstance(v, item) and not (item is int and isinstance(v, bool)) for v in value):
            raise self.error(f"field {key!r} must be a list of {item.__name__}, got {value!r}")
        return value

    def activation(self, *keys: str, default: str) -> str:
        key, _ = self._find(keys)
        name = self.str(*keys, default=default)
        act = _ACTIVATIONS.get(name.lower())
        if act is None:
            raise self.error(f"field {key!r}: unsupported activation {name!r} "
                             f"(known: {', '.join(sorted(_ACTIVATIONS))})")
        return act

    def fraction(self, *keys: str, default: float) -> float:
        """A rotary fraction in (0, 1], also looked up inside ``rope_parameters`` (transformers 5)."""
        value = self.float(*keys, default=None)
        if value is None:
            nested = _Fields(self.dict("rope_parameters"), self.where)
            value = nested.float(*keys, default=default)
        if not 0.0 <= value <= 1.0:
            raise self.error(f"field {keys[0]!r} must be between 0 and 1, got {value}")
        return value


# --- shared helpers -----------------------------------------------------------------------------

def _head_dim(f: _Fields, hidden: int, heads: int, key: str | None = "head_dim",
              default: int | None = None) -> int:
    """Explicit ``head_dim`` when given (Gemma, Qwen3, Mistral-Nemo), else hidden / heads."""
    if key is not None and f.has(key):
        return f.int(key)
    if default is not None:
        return default
    if hidden % heads:
        raise f.error(f"hidden_size ({hidden}) is not a multiple of the number of attention heads "
                      f"({heads}) and no head_dim is given")
    return hidden // heads


def _kv_heads(f: _Fields, heads: int, *keys: str) -> int:
    kv = f.int(*keys, default=heads)
    if heads % kv:
        raise f.error(f"field {keys[0]!r} ({kv}) must divide the number of attention heads ({heads})")
    return kv


def _tie(f: _Fields, default: bool) -> bool:
    return f.bool("tie_word_embeddings", default=default)


def _group(layers: Sequence[Layer]) -> tuple[LayerGroup, ...]:
    """Distinct layers with their counts, in order of first appearance."""
    counts: dict[Layer, int] = {}
    for layer in layers:
        counts[layer] = counts.get(layer, 0) + 1
    return tuple(LayerGroup(layer, count) for layer, count in counts.items())


def _window_value(f: _Fields) -> int | None:
    return f.int("sliding_window", "sliding_window_size", default=None)


def _layer_type_windows(f: _Fields, num_layers: int, window: int | None) -> list[int | None] | None:
    """Per-layer windows from an explicit ``layer_types`` list (Gemma 2/3, newer Qwen2 configs)."""
    if not f.has("layer_types"):
        return None
    types = f.list("layer_types", str)
    if len(types) != num_layers:
        raise f.error(f"field 'layer_types' has {len(types)} entries for {num_layers} layers")
    out: list[int | None] = []
    for kind in types:
        if kind == "sliding_attention":
            out.append(window)
        elif kind == "full_attention":
            out.append(None)
        else:
            raise f.error(f"field 'layer_types': unsupported layer type {kind!r}")
    return out


def _every(window: int | None, num_layers: int) -> list[int | None]:
    return [window] * num_layers


# --- Llama-style decoders: llama, mistral, mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, gemma,
# gemma2 and the fallback ----------------------------------------------------------------------

_LLAMA_TIE = {"gemma": True, "gemma2": True}


def _llama_like(f: _Fields, model_type: str) -> dict[str, Any]:
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
    kv = _kv_heads(f, heads, "num_key_value_heads")
    gemma = model_type in ("gemma", "gemma2")
    head_dim = _head_dim(f, hidden, heads, default=None if not gemma or f.has("head_dim") else 256)
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
    window = _window_value(f)
    if model_type == "gemma2":
        window = window if window is not None else 4096
        windows = _layer_type_windows(f, num_layers, window) or [
            window if i % 2 == 0 else None for i in range(num_layers)]  # even layers slide
    elif model_type in ("qwen2", "qwen3", "qwen2_moe", "qwen3_moe"):
        if not f.bool("use_sliding_window", default=False):
            window = None
        max_window_layers = f.int("max_window_layers", default=28, minimum=0)
        windows = _layer_type_windows(f, num_layers, window)
        if windows is None:
            if model_type in ("qwen2", "qwen3"):
                windows = [window if i >= max_window_layers else None for i in range(num_layers)]
            elif model_type == "qwen2_moe":
                windows = [window if (i + 1) % 2 and i < max_window_layers else None
                           for i in range(num_layers)]
            else:
                windows = _every(window, num_layers)
    elif model_type in ("llama", "gemma"):
        windows = _every(None, num_layers)
    else:  # mistral, mixtral and unknown types: one window for all layers when given
        if not f.bool("use_sliding_window", default=True):
            window = None
        windows = _layer_type_windows(f, num_layers, window) or _every(window, num_layers)

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
        hidden_size=hidden, vocab_size=vocab, layer_groups=_group(layers),
        tie_word_embeddings=_tie(f, _LLAMA_TIE.get(model_type, False)),
        max_position_embeddings=f.int("max_position_embeddings", default=None), op_names=op_names,
    )


# --- Phi-3 ---------------------------------------------------------------------------------------

def _phi3(f: _Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    num_layers = f.int("num_hidden_layers")
    kv = _kv_heads(f, heads, "num_key_value_heads")
    head_dim = _head_dim(f, hidden, heads)
    window = _window_value(f)
    attn = Attention(heads, kv, head_dim,
                     rope_dim=int(head_dim * f.fraction("partial_rotary_factor", default=1.0)),
                     fused_qkv=True, sliding_window=window)
    mlp = MLP(f.int("intermediate_size"), gated=True, activation=f.activation("hidden_act", default="silu"),
              fused_gate_up=True)
    layer = Layer(attn, mlp)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, num_layers),), tie_word_embeddings=_tie(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None))


# --- Phi-1/1.5/2 ---------------------------------------------------------------------------------

def _phi(f: _Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    kv = _kv_heads(f, heads, "num_key_value_heads")
    head_dim = _head_dim(f, hidden, heads, key=None)
    # qk_layernorm: a LayerNorm (weight and bias) over each head.
    attn = Attention(heads, kv, head_dim,
                     rope_dim=int(head_dim * f.fraction("partial_rotary_factor", default=0.5)),
                     qkv_bias=True, o_bias=True, qk_norm=f.bool("qk_layernorm", default=False),
                     qk_norm_kind="layernorm")
    mlp = MLP(f.int("intermediate_size"), gated=False, activation=f.activation("hidden_act", default="gelu_new"),
              bias=True)
    layer = Layer(attn, mlp, norm_names=("input_layernorm",), norm_kind="layernorm", norm_bias=True,
                  parallel=True)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),),
                tie_word_embeddings=_tie(f, False), final_norm_kind="layernorm", final_norm_bias=True,
                lm_head_bias=True, max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"o_proj": "dense", "up_proj": "fc1", "down_proj": "fc2",
                          "final_norm": "final_layernorm"})


# --- OPT -----------------------------------------------------------------------------------------

def _opt(f: _Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "ffn_dim", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    proj = f.int("word_embed_proj_dim", default=hidden)  # opt-350m: 512-wide embeddings, project_in/out
    if not f.bool("layer_norm_elementwise_affine", default=True):
        raise f.error("field 'layer_norm_elementwise_affine' false (norms without weights) is not supported")
    bias = f.bool("enable_bias", default=True)
    pre_ln = f.bool("do_layer_norm_before", default=True)
    attn = Attention(heads, heads, _head_dim(f, hidden, heads, key=None), qkv_bias=bias, o_bias=bias)
    mlp = MLP(f.int("ffn_dim"), gated=False, activation=f.activation("activation_function", default="relu"),
              bias=bias)
    layer = Layer(attn, mlp, norm_names=("self_attn_layer_norm", "final_layer_norm"), norm_kind="layernorm",
                  norm_bias=True, post_norm=not pre_ln)
    max_pos = f.int("max_position_embeddings", default=2048)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),),
                tie_word_embeddings=_tie(f, True), learned_positions=max_pos + 2,  # OPT offsets positions by 2
                final_norm=pre_ln and not f.bool("_remove_final_layer_norm", default=False),
                final_norm_kind="layernorm", final_norm_bias=True, max_position_embeddings=max_pos,
                embed_dim=None if proj == hidden else proj,
                op_names={"o_proj": "out_proj", "up_proj": "fc1", "down_proj": "fc2",
                          "final_norm": "final_layer_norm"})


# --- GPT-2 ---------------------------------------------------------------------------------------

def _gpt2(f: _Fields, model_type: str) -> dict[str, Any]:
    f.require(("n_embd", "hidden_size"), ("n_layer", "num_hidden_layers"), ("n_head", "num_attention_heads"),
              "vocab_size")
    hidden, heads = f.int("n_embd", "hidden_size"), f.int("n_head", "num_attention_heads")
    if f.bool("add_cross_attention", default=False):
        raise f.error("field 'add_cross_attention' true (encoder-decoder GPT-2) is not supported")
    positions = f.int("n_positions", "max_position_embeddings", default=1024)
    attn = Attention(heads, heads, _head_dim(f, hidden, heads, key=None), qkv_bias=True, o_bias=True,
                     fused_qkv=True)
    mlp = MLP(f.int("n_inner", default=4 * hidden), gated=False,
              activation=f.activation("activation_function", default="gelu_new"), bias=True)
    layer = Layer(attn, mlp, norm_names=("ln_1", "ln_2"), norm_kind="layernorm", norm_bias=True)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("n_layer", "num_hidden_layers")),),
                tie_word_embeddings=_tie(f, True), learned_positions=positions, final_norm_kind="layernorm",
                final_norm_bias=True, max_position_embeddings=positions,
                op_names={"embed_tokens": "wte", "embed_positions": "wpe", "qkv_proj": "attn.c_attn",
                          "o_proj": "attn.c_proj", "up_proj": "mlp.c_fc", "down_proj": "mlp.c_proj",
                          "final_norm": "ln_f"})


# --- GPT-J ---------------------------------------------------------------------------------------

def _gptj(f: _Fields, model_type: str) -> dict[str, Any]:
    f.require(("n_embd", "hidden_size"), ("n_layer", "num_hidden_layers"), ("n_head", "num_attention_heads"),
              "vocab_size")
    hidden, heads = f.int("n_embd", "hidden_size"), f.int("n_head", "num_attention_heads")
    head_dim = _head_dim(f, hidden, heads, key=None)
    rotary = f.data.get("rotary_dim", 64)
    rope_dim = head_dim if rotary is None else f.int("rotary_dim", default=64, minimum=0)
    attn = Attention(heads, heads, head_dim, rope_dim=rope_dim)
    mlp = MLP(f.int("n_inner", default=4 * hidden), gated=False,
              activation=f.activation("activation_function", default="gelu_new"), bias=True)
    layer = Layer(attn, mlp, norm_names=("ln_1",), norm_kind="layernorm", norm_bias=True, parallel=True)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("n_layer", "num_hidden_layers")),),
                tie_word_embeddings=_tie(f, False), final_norm_kind="layernorm", final_norm_bias=True,
                lm_head_bias=True, max_position_embeddings=f.int("n_positions", "max_position_embeddings",
                                                                 default=2048),
                op_names={"embed_tokens": "wte", "o_proj": "out_proj", "up_proj": "fc_in",
                          "down_proj": "fc_out", "final_norm": "ln_f"})


# --- GPT-NeoX / Pythia ---------------------------------------------------------------------------

def _gpt_neox(f: _Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    head_dim = _head_dim(f, hidden, heads, key=None)
    bias = f.bool("attention_bias", default=True)
    attn = Attention(heads, heads, head_dim,
                     rope_dim=int(head_dim * f.fraction("rotary_pct", "partial_rotary_factor", default=0.25)),
                     qkv_bias=bias, o_bias=bias, fused_qkv=True)
    mlp = MLP(f.int("intermediate_size"), gated=False, activation=f.activation("hidden_act", default="gelu"),
              bias=True)
    layer = Layer(attn, mlp, norm_kind="layernorm", norm_bias=True,
                  parallel=f.bool("use_parallel_residual", default=True))
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),),
                tie_word_embeddings=_tie(f, False), final_norm_kind="layernorm", final_norm_bias=True,
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"embed_tokens": "embed_in", "qkv_proj": "query_key_value", "o_proj": "dense",
                          "up_proj": "dense_h_to_4h", "down_proj": "dense_4h_to_h",
                          "final_norm": "final_layer_norm", "lm_head": "embed_out"})


# --- Falcon (falcon, and the remote-code RefinedWebModel / RefinedWeb) ---------------------------

def _falcon(f: _Fields, model_type: str) -> dict[str, Any]:
    f.require(("hidden_size", "n_embed"), ("num_hidden_layers", "n_layer"), ("num_attention_heads", "n_head"),
              "vocab_size")
    hidden = f.int("hidden_size", "n_embed")
    heads = f.int("num_attention_heads", "n_head")
    head_dim = _head_dim(f, hidden, heads, key=None)
    # Old remote-code "RefinedWeb" (Falcon-40B's first release) is the new decoder architecture.
    new_arch = f.bool("new_decoder_architecture", default=model_type.lower() == "refinedweb")
    multi_query = f.bool("multi_query", default=True)
    parallel_attn = f.bool("parallel_attn", default=True)
    if new_arch:
        kv = _kv_heads(f, heads, "num_kv_heads", "n_head_kv")
    elif multi_query:
        kv = 1
    else:
        kv = heads  # query_key_value is 3 * hidden wide
    bias = f.bool("bias", default=False)
    alibi = f.bool("alibi", default=False)
    attn = Attention(heads, kv, head_dim, rope_dim=0 if alibi else head_dim, qkv_bias=bias, o_bias=bias,
                     fused_qkv=True)
    mlp = MLP(f.int("ffn_hidden_size", default=4 * hidden), gated=False,
              activation=f.activation("activation", default="gelu"), bias=bias)
    num_ln = f.int("num_ln_in_parallel_attn", default=2 if new_arch else 1)
    if not parallel_attn:
        norms: tuple[str, ...] = ("input_layernorm", "post_attention_layernorm")
    elif num_ln == 2:
        norms = ("ln_attn", "ln_mlp")
    else:
        norms = ("input_layernorm",)
    layer = Layer(attn, mlp, norm_names=norms, norm_kind="layernorm", norm_bias=True,
                  parallel=new_arch or parallel_attn)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers", "n_layer")),),
                tie_word_embeddings=_tie(f, True), final_norm_kind="layernorm", final_norm_bias=True,
                max_position_embeddings=f.int("max_position_embeddings", default=2048),
                op_names={"embed_tokens": "word_embeddings", "qkv_proj": "query_key_value", "o_proj": "dense",
                          "up_proj": "dense_h_to_4h", "down_proj": "dense_4h_to_h", "final_norm": "ln_f"})


# --- BLOOM ---------------------------------------------------------------------------------------

def _bloom(f: _Fields, model_type: str) -> dict[str, Any]:
    f.require(("hidden_size", "n_embed"), ("n_layer", "num_hidden_layers"), ("n_head", "num_attention_heads"),
              "vocab_size")
    hidden = f.int("hidden_size", "n_embed")
    heads = f.int("n_head", "num_attention_heads")
    attn = Attention(heads, heads, _head_dim(f, hidden, heads, key=None), qkv_bias=True, o_bias=True,
                     fused_qkv=True)  # ALiBi: no rotary dims
    mlp = MLP(4 * hidden, gated=False, activation="gelu_tanh", bias=True)
    layer = Layer(attn, mlp, norm_kind="layernorm", norm_bias=True)
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("n_layer", "num_hidden_layers")),),
                tie_word_embeddings=_tie(f, True), embedding_norm=True, final_norm_kind="layernorm",
                final_norm_bias=True, max_position_embeddings=f.int("seq_length", default=None),
                op_names={"embed_tokens": "word_embeddings", "qkv_proj": "query_key_value", "o_proj": "dense",
                          "up_proj": "dense_h_to_4h", "down_proj": "dense_4h_to_h", "final_norm": "ln_f"})


# --- MPT -----------------------------------------------------------------------------------------

def _mpt(f: _Fields, model_type: str) -> dict[str, Any]:
    f.require(("d_model", "hidden_size"), ("n_layers", "num_hidden_layers"), ("n_heads", "num_attention_heads"),
              "vocab_size")
    hidden = f.int("d_model", "hidden_size")
    heads = f.int("n_heads", "num_attention_heads")
    head_dim = _head_dim(f, hidden, heads, key=None)
    a = _Fields(f.dict("attn_config"), f"{f.where}: attn_config")
    alibi = a.bool("alibi", default=True)
    rope = a.bool("rope", default=False)
    attn_type = a.str("attn_type", default="multihead_attention")
    if attn_type == "multiquery_attention":
        kv = 1
    elif attn_type == "grouped_query_attention":
        kv = _kv_heads(a, heads, "kv_n_heads")
    elif attn_type == "multihead_attention":
        kv = heads
    else:
        raise a.error(f"field 'attn_type': unsupported value {attn_type!r}")
    bias = not f.bool("no_bias", default=True)
    ratio = f.float("expansion_ratio", default=4.0)
    attn = Attention(heads, kv, head_dim, rope_dim=head_dim if rope else 0, qkv_bias=bias, o_bias=bias,
                     fused_qkv=True)
    mlp = MLP(int(ratio * hidden), gated=False, activation="gelu", bias=bias)
    layer = Layer(attn, mlp, norm_names=("norm_1", "norm_2"), norm_kind="layernorm", norm_bias=bias)
    max_seq = f.int("max_seq_len", default=2048)
    learned = f.bool("learned_pos_emb", default=True) and not alibi and not rope  # as llm-foundry
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("n_layers", "num_hidden_layers")),),
                tie_word_embeddings=_tie(f, True), learned_positions=max_seq if learned else 0,
                final_norm_kind="layernorm", final_norm_bias=bias, max_position_embeddings=max_seq,
                op_names={"embed_tokens": "wte", "embed_positions": "wpe", "qkv_proj": "Wqkv",
                          "o_proj": "out_proj", "final_norm": "norm_f"})


# --- ChatGLM2/3 (remote code, model_type "chatglm") -----------------------------------------------

def _chatglm(f: _Fields, model_type: str) -> dict[str, Any]:
    if f.has("inner_hidden_size") or f.has("position_encoding_2d"):
        raise f.error("ChatGLM-6B v1 configs (inner_hidden_size, position_encoding_2d) are not supported; "
                      "ChatGLM2/3 and GLM-4 are")
    f.require("hidden_size", "num_layers", "num_attention_heads", "ffn_hidden_size",
              ("padded_vocab_size", "vocab_size"))
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    head_dim = f.int("kv_channels", default=None) or _head_dim(f, hidden, heads, key=None)
    kv = (_kv_heads(f, heads, "multi_query_group_num") if f.bool("multi_query_attention", default=False)
          else heads)
    linear_bias = f.bool("add_bias_linear", default=False)
    # RotaryEmbedding(kv_channels // 2): rotary over the first half of each head.
    attn = Attention(heads, kv, head_dim, rope_dim=head_dim // 2,
                     qkv_bias=linear_bias or f.bool("add_qkv_bias", default=False), o_bias=linear_bias,
                     fused_qkv=True)
    mlp = MLP(f.int("ffn_hidden_size"), gated=True, activation="silu", bias=linear_bias, fused_gate_up=True)
    rms = f.bool("rmsnorm", default=True)
    kind = "rmsnorm" if rms else "layernorm"
    layer = Layer(attn, mlp, norm_kind=kind, norm_bias=not rms)
    return dict(hidden_size=hidden, vocab_size=f.int("padded_vocab_size", "vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_layers")),), tie_word_embeddings=_tie(f, False),
                final_norm=f.bool("post_layer_norm", default=True), final_norm_kind=kind, final_norm_bias=not rms,
                max_position_embeddings=f.int("seq_length", default=None),
                op_names={"embed_tokens": "word_embeddings", "qkv_proj": "query_key_value", "o_proj": "dense",
                          "gate_up_proj": "dense_h_to_4h", "down_proj": "dense_4h_to_h",
                          "final_norm": "final_layernorm", "lm_head": "output_layer"})


# --- Qwen (v1, remote code, model_type "qwen") ----------------------------------------------------

def _qwen(f: _Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    head_dim = f.int("kv_channels", default=None) or _head_dim(f, hidden, heads, key=None)
    bias = not f.bool("no_bias", default=True)
    attn = Attention(heads, heads, head_dim, rope_dim=int(head_dim * f.fraction("rotary_pct", default=1.0)),
                     qkv_bias=True, o_bias=bias, fused_qkv=True)  # c_attn always has a bias
    # intermediate_size counts w1 and w2 together: each is intermediate_size // 2 wide.
    mlp = MLP(f.int("intermediate_size") // 2, gated=True, activation="silu", bias=bias)
    layer = Layer(attn, mlp, norm_names=("ln_1", "ln_2"))
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),), tie_word_embeddings=_tie(f, False),
                max_position_embeddings=f.int("max_position_embeddings", "seq_length", default=None),
                op_names={"embed_tokens": "wte", "qkv_proj": "attn.c_attn", "o_proj": "attn.c_proj",
                          "gate_proj": "mlp.w2", "up_proj": "mlp.w1", "down_proj": "mlp.c_proj", "final_norm": "ln_f"})


# --- DeepSeek-V2 / V3 (MLA + MoE) ----------------------------------------------------------------

def _deepseek(f: _Fields, model_type: str) -> dict[str, Any]:
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
    layers = [Layer(mla, moe if moe is not None and i >= first_dense and i % freq == 0 else dense)
              for i in range(num_layers)]
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"), layer_groups=_group(layers),
                tie_word_embeddings=_tie(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"router": "gate"})


# --- Jamba (Mamba / attention x dense / MoE) -----------------------------------------------------

def _jamba(f: _Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size")
    hidden, heads = f.int("hidden_size"), f.int("num_attention_heads")
    num_layers = f.int("num_hidden_layers")
    kv = _kv_heads(f, heads, "num_key_value_heads")
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
    attn = Attention(heads, kv, _head_dim(f, hidden, heads, key=None), sliding_window=_window_value(f))
    experts = f.int("num_experts", "num_local_experts", default=16)
    dense = MLP(f.int("intermediate_size"), gated=True, activation=activation)
    moe = (MoE(num_experts=experts, top_k=f.int("num_experts_per_tok", default=2),
               expert_intermediate_size=f.int("intermediate_size"), activation=activation)
           if experts > 1 else None)
    layers = []
    for i in range(num_layers):
        mixer = attn if i % attn_period == attn_offset else mamba
        ffn = moe if moe is not None and i % exp_period == exp_offset else dense
        layers.append(Layer(mixer, ffn, norm_names=("input_layernorm", "pre_ff_layernorm")))
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size"), layer_groups=_group(layers),
                tie_word_embeddings=_tie(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={"router": "router", "final_norm": "final_layernorm"})


# --- Mamba ---------------------------------------------------------------------------------------

def _mamba(f: _Fields, model_type: str) -> dict[str, Any]:
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
                tie_word_embeddings=_tie(f, True), op_names={"embed_tokens": "embeddings", "final_norm": "norm_f"})


# --- dispatch ------------------------------------------------------------------------------------

_Parser = Callable[[_Fields, str], dict[str, Any]]

# model_type (lower case) -> (canonical model_type, parser)
_FAMILIES: dict[str, tuple[str, _Parser]] = {
    "llama": ("llama", _llama_like), "yi": ("llama", _llama_like), "mistral": ("mistral", _llama_like),
    "mixtral": ("mixtral", _llama_like), "qwen2": ("qwen2", _llama_like),
    "qwen2_moe": ("qwen2_moe", _llama_like), "qwen3": ("qwen3", _llama_like),
    "qwen3_moe": ("qwen3_moe", _llama_like), "gemma": ("gemma", _llama_like),
    "gemma2": ("gemma2", _llama_like), "phi": ("phi", _phi), "phi3": ("phi3", _phi3), "opt": ("opt", _opt),
    "gpt2": ("gpt2", _gpt2), "gptj": ("gptj", _gptj), "gpt_neox": ("gpt_neox", _gpt_neox),
    "falcon": ("falcon", _falcon), "refinedwebmodel": ("falcon", _falcon), "refinedweb": ("falcon", _falcon),
    "bloom": ("bloom", _bloom), "mpt": ("mpt", _mpt), "chatglm": ("chatglm", _chatglm), "qwen": ("qwen", _qwen),
    "deepseek_v2": ("deepseek_v2", _deepseek), "deepseek_v3": ("deepseek_v3", _deepseek),
    "jamba": ("jamba", _jamba), "mamba": ("mamba", _mamba),
}

# architectures[0] -> model_type, for configs without a (known) model_type.
_ARCHITECTURES = {
    "LlamaForCausalLM": "llama", "YiForCausalLM": "llama", "MistralForCausalLM": "mistral",
    "MixtralForCausalLM": "mixtral", "Qwen2ForCausalLM": "qwen2", "Qwen2MoeForCausalLM": "qwen2_moe",
    "Qwen3ForCausalLM": "qwen3", "Qwen3MoeForCausalLM": "qwen3_moe", "GemmaForCausalLM": "gemma",
    "Gemma2ForCausalLM": "gemma2", "PhiForCausalLM": "phi", "Phi3ForCausalLM": "phi3",
    "OPTForCausalLM": "opt", "GPT2LMHeadModel": "gpt2", "GPTJForCausalLM": "gptj",
    "GPTNeoXForCausalLM": "gpt_neox", "FalconForCausalLM": "falcon", "RWForCausalLM": "refinedwebmodel",
    "BloomForCausalLM": "bloom", "MPTForCausalLM": "mpt", "MptForCausalLM": "mpt",
    "ChatGLMModel": "chatglm", "ChatGLMForConditionalGeneration": "chatglm", "QWenLMHeadModel": "qwen",
    "DeepseekV2ForCausalLM": "deepseek_v2", "DeepseekV3ForCausalLM": "deepseek_v3",
    "JambaForCausalLM": "jamba", "MambaForCausalLM": "mamba",
}


def supported_model_types() -> list[str]:
    """The ``model_type`` values with a dedicated parser (others use the Llama-style fallback)."""
    return sorted(_FAMILIES)


def _resolve_family(f: _Fields) -> tuple[str, _Parser, str]:
    """(canonical model_type, parser, raw model_type)."""
    raw = f.str("model_type", default="")
    key = raw.lower()
    if key not in _FAMILIES:
        archs = f.data.get("architectures")
        if isinstance(archs, list):
            for arch in archs:
                if isinstance(arch, str) and arch in _ARCHITECTURES:
                    key = _ARCHITECTURES[arch]
                    break
    if key in _FAMILIES:
        canonical, parser = _FAMILIES[key]
        return canonical, parser, raw
    return raw or "unknown", _llama_like, raw


def spec_from_hf_config(config: Mapping[str, Any], name: str, source: str = "", *,
                        where: str | None = None) -> ModelSpec:
    """Build a :class:`ModelSpec` from a parsed HF ``config.json``.

    ``name`` becomes ``spec.name`` and ``source`` ``spec.source``; errors name ``where``
    (default: ``source`` or ``name``). Raises :class:`ConfigError` on any malformed, missing or
    inconsistent field.
    """
    where = where or source or name or "config"
    if not isinstance(config, Mapping):
        raise ConfigError(f"{where}: a config must be a JSON object, got {type(config).__name__}")
    f = _Fields(config, where)
    canonical, parser, raw = _resolve_family(f)
    try:
        fields = parser(f, raw.lower() if parser is _falcon else canonical)
        return ModelSpec(name=name, model_type=canonical, source=source, **fields)
    except ConfigError as exc:
        message = str(exc)
        if message.startswith(f"{where}:"):
            raise
        raise ConfigError(f"{where}: {message}") from None


def read_hf_config(path: str | os.PathLike[str]) -> tuple[dict[str, Any], Path]:
    """Read a ``config.json`` (or a folder holding one): (the parsed dict, the file's path)."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "config.json"
    if not p.is_file():
        raise ConfigError(f"{p}: no such config file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the file ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a config must be a JSON object, got {type(data).__name__}")
    return data, p


def _name_from_path(p: Path) -> str:
    """``org--name.json`` -> ``org/name``; ``<folder>/config.json`` -> the folder's name; a HF cache
    snapshot ``models--org--name/snapshots/<hash>/config.json`` -> ``org/name``."""
    if p.name != "config.json" or not p.parent.name:
        return p.stem.replace("--", "/")
    cache = p.parent.parent
    if cache.name == "snapshots" and cache.parent.name.startswith("models--"):
        return cache.parent.name[len("models--"):].replace("--", "/")
    return p.parent.name.replace("--", "/")


def load_hf_config(path: str | os.PathLike[str]) -> ModelSpec:
    """Load a HF ``config.json`` (a file, or a folder containing one) into a :class:`ModelSpec`."""
    data, p = read_hf_config(path)
    return spec_from_hf_config(data, name=_name_from_path(p), source=str(p), where=str(p))
