"""Gemma 4 (``gemma4`` multimodal, its language model ``gemma4_text``), after transformers'
``Gemma4TextConfig`` and ``Gemma4TextDecoderLayer`` (transformers 5.23, models/gemma4).

- ``layer_types``: "sliding_attention" / "full_attention" (default: every 6th layer full, the last layer
  forced to full as HF does). Sliding layers: ``num_key_value_heads`` x ``head_dim``, window
  ``sliding_window`` (default 512; ``use_bidirectional_attention: all`` halves it, + 1). Full layers:
  ``global_head_dim`` (default 512) and, with ``attention_k_eq_v``, ``num_global_key_value_heads`` KV
  heads and no v_proj (V is k_proj's output); an explicit ``per_layer_config`` overrides both.
  Every layer: q_norm, k_norm, v_norm (no weight); rotary over ``partial_rotary_factor`` of each head
  from ``rope_parameters`` per layer type (HF's defaults: full 0.25, sliding 1).
- Feed-forward: a gated MLP of ``intermediate_size`` (doubled in KV-sharing layers with
  ``use_double_wide_mlp``); with ``enable_moe_block`` also ``num_experts`` experts of
  ``moe_intermediate_size``, top ``top_k_experts``, side by side (spec.MLPAndMoE). Four norms as Gemma 2.
- ``num_kv_shared_layers``: the last n layers reuse the KV of the last earlier layer of their kind.
- ``hidden_size_per_layer_input`` (default 256; 0 = off) and ``vocab_size_per_layer_input``: per-layer
  embeddings (PLE). Tied embeddings by default; ``final_logit_softcapping`` moves no bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import layer_pattern
from .hf_fields import ATTENTION_LAYER_TYPES, Fields, kv_heads_of, tied
from .spec import MLP, Attention, Layer, MLPAndMoE, MoE

NORMS = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm")


def gemma4_kind_rule(f: Fields, num_layers: int) -> tuple[Callable[[int], str], int]:
    """(kind_at(i), period): ``layer_types`` when given, else every 6th layer full attention; HF forces
    the last layer to full attention either way (a segment of its own for pattern_groups)."""
    last = num_layers - 1
    kinds = f.per_layer("layer_types", str, num_layers, ATTENTION_LAYER_TYPES)
    if kinds is not None:
        return (lambda i: "full_attention" if i == last else kinds[i]), num_layers
    return (lambda i: "full_attention" if i == last or (i + 1) % 6 == 0 else "sliding_attention"), 6


def _rope_fraction(f: Fields, kind: str) -> float:
    """partial_rotary_factor of a layer type: from ``rope_parameters[kind]`` when given, else HF's defaults
    (full attention 0.25, sliding 1.0)."""
    params = f.dict("rope_parameters")
    if not params:
        return 0.25 if kind == "full_attention" else 1.0
    nested = Fields(params, f.where).dict(kind)
    return Fields(nested, f"{f.where}: rope_parameters.{kind}").fraction("partial_rotary_factor", default=1.0)


def _per_layer_overrides(f: Fields, num_layers: int) -> dict[int, tuple[int | None, int | None]]:
    """layer index -> (head_dim, kv heads) from an explicit ``per_layer_config`` (empty without one:
    then full layers take global_head_dim, and num_global_key_value_heads with attention_k_eq_v)."""
    out: dict[int, tuple[int | None, int | None]] = {}
    for key, value in f.dict("per_layer_config").items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise f.error(f"field 'per_layer_config': keys must be layer indices, got {key!r}") from None
        if not 0 <= index < num_layers or not isinstance(value, dict):
            raise f.error(f"field 'per_layer_config': entry {key!r} is not a layer of 0..{num_layers - 1} "
                          "with an object of overrides")
        entry = Fields(value, f"{f.where}: per_layer_config[{key}]")
        out[index] = (entry.int("head_dim", default=None), entry.int("num_key_value_heads", default=None))
    return out


def _gemma4(f: Fields, model_type: str) -> dict[str, Any]:
    hidden = f.int("hidden_size", default=2304)
    num_layers = f.int("num_hidden_layers", default=30)
    heads = f.int("num_attention_heads", default=8)
    kv = kv_heads_of(f, heads, "num_key_value_heads") if f.has("num_key_value_heads") else 4
    head_dim = f.int("head_dim", default=256)
    kind_at, period = gemma4_kind_rule(f, num_layers)
    window = f.int("sliding_window", default=512)
    if f.data.get("use_bidirectional_attention") == "all":
        window = window // 2 + 1
    k_eq_v = f.bool("attention_k_eq_v", default=False)
    global_dims = (f.int("global_head_dim", default=512),
                   f.int("num_global_key_value_heads", default=None) if k_eq_v else None)
    explicit = f.has("per_layer_config")
    overrides = _per_layer_overrides(f, num_layers)
    bias = f.bool("attention_bias", default=False)
    shared = f.int("num_kv_shared_layers", default=0, minimum=0)
    if shared >= num_layers:
        raise f.error(f"field 'num_kv_shared_layers' ({shared}) must be below num_hidden_layers ({num_layers})")
    first_shared = num_layers - shared

    def key_at(i: int) -> tuple[str, bool, tuple[int | None, int | None]]:
        kind = kind_at(i)
        dims = overrides.get(i, (None, None)) if explicit else global_dims if kind == "full_attention" \
            else (None, None)
        return kind, i >= first_shared, dims

    # Layer rules (layer_pattern): periodic in the layer types, cut where KV sharing starts, at the last
    # layer and around every layer of an explicit per_layer_config.
    breaks = [first_shared, num_layers - 1, *(b for i in overrides for b in (i, i + 1))]
    counts = layer_pattern.pattern_counts(num_layers, key_at, period=period, breaks=breaks)
    own_kinds = {kind for kind, is_shared, _ in counts if not is_shared}
    if {kind for kind, is_shared, _ in counts if is_shared} - own_kinds:
        raise f.error("a KV-sharing layer needs an earlier layer of its kind (layer_types) to share from")
    activation = f.activation("hidden_activation", "hidden_act", default="gelu_pytorch_tanh")
    width = f.int("intermediate_size", default=9216)
    double_wide = f.bool("use_double_wide_mlp", default=False)
    moe = None
    if f.bool("enable_moe_block", default=False):
        f.require("num_experts", "top_k_experts", "moe_intermediate_size")
        moe = MoE(num_experts=f.int("num_experts"), top_k=f.int("top_k_experts"),
                  expert_intermediate_size=f.int("moe_intermediate_size"), activation=activation, expert_scale=True)

    def make(key: tuple[str, bool, tuple[int | None, int | None]]) -> Layer:
        kind, is_shared, (dim, kv_heads) = key
        dim, kv_heads = dim or head_dim, kv_heads or kv
        if heads % kv_heads:
            raise f.error(f"{kind} layers: {kv_heads} KV heads do not divide {heads} attention heads")
        attn = Attention(heads, kv_heads, dim, rope_dim=int(dim * _rope_fraction(f, kind)), qkv_bias=bias,
                         o_bias=bias, sliding_window=window if kind == "sliding_attention" else None, qk_norm=True,
                         v_norm=True, k_eq_v=k_eq_v and kind == "full_attention" and not is_shared,
                         kv_shared=is_shared)
        mlp = MLP(width * (2 if double_wide and is_shared else 1), gated=True, activation=activation)
        return Layer(attn, mlp if moe is None else MLPAndMoE(mlp, moe), norm_names=NORMS)

    per_layer = f.int("hidden_size_per_layer_input", default=256, minimum=0)
    notes = ("Gemma 4's per-layer embeddings (PLE) are modelled: a second embedding table and a small input to "
             "every layer",) if per_layer else ()
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size", default=262144),
                layer_groups=layer_pattern.groups_of(counts, make),
                tie_word_embeddings=tied(f, True), max_position_embeddings=f.int("max_position_embeddings",
                                                                                  default=None),
                per_layer_input_size=per_layer,
                per_layer_vocab_size=f.int("vocab_size_per_layer_input", default=262144) if per_layer else 0,
                op_names={"router": "router.proj"}, notes=notes)
