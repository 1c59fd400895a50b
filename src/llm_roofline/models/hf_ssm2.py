"""Mamba-2 families: Nemotron-H (``nemotron_h``: hybrid Mamba-2 / attention / MLP / MoE blocks) and
Mamba-2 (``mamba2``).

Nemotron-H (HF ``NemotronHConfig`` / ``NemotronHBlock``, transformers 5.23): every layer is one block, a
norm, one mixer and a residual add; the block kinds come from ``hybrid_override_pattern`` ("M"
Mamba-2, "*" attention, "-" MLP, "E" MoE) or ``layers_block_type`` (HF's ``layer_types``), and the
layer count is that list's length (``num_hidden_layers`` is deprecated in HF and ignored). Attention
has no rotary embedding and no biases; ``head_dim`` (default 128) sizes its heads (HF does not read the
older ``attention_head_dim`` key). The MLP is plain (up, down) with ``mlp_hidden_act`` (relu2); MoE
experts are plain too, with a shared expert of ``moe_shared_expert_intermediate_size``. The Mamba-2
mixer: ``mamba_num_heads`` x ``mamba_head_dim``, ``ssm_state_size``, ``n_groups``, ``conv_kernel``,
``chunk_size``, ``use_conv_bias``; in_proj and out_proj biases follow ``use_bias``.

Mamba-2 (HF ``Mamba2Config``): ``num_hidden_layers`` blocks of norm + Mamba-2 mixer; d_inner =
``expand`` * hidden_size, which must equal ``num_heads`` * ``head_dim``.
"""

from __future__ import annotations

from typing import Any

from .hf_fields import Fields, kv_heads_of, tied
from .layer_pattern import pattern_groups
from .limits import LIMITS
from .spec import MLP, Attention, Layer, LayerGroup, Mamba2, MoE

_BLOCKS = {"M": "linear_attention", "*": "full_attention", "-": "mlp", "E": "moe"}
_NAMES = {"embed_tokens": "embeddings", "final_norm": "norm_f"}


def nemotron_block_types(f: Fields) -> list[str]:
    """The block kind of each layer: ``layers_block_type`` / ``layer_types``, else the letters of
    ``hybrid_override_pattern``, else HF's default [linear_attention, moe, full_attention, mlp]. The
    list is the config's own (its length is the layer count, at most MODEL_LIMITS["layers"])."""
    for key in ("layers_block_type", "layer_types"):
        if f.has(key):
            kinds = f.list(key, str)
            bad = sorted(set(kinds) - set(_BLOCKS.values()))
            if bad or not kinds:
                raise f.error(f"field {key!r}: unsupported block type(s) {bad}; known: {sorted(_BLOCKS.values())}")
            return _capped(f, key, kinds)
    if f.has("hybrid_override_pattern"):
        pattern = f.str("hybrid_override_pattern")
        bad = sorted(set(pattern) - set(_BLOCKS))
        if bad or not pattern:
            raise f.error(f"field 'hybrid_override_pattern' may only hold {''.join(_BLOCKS)}, got {pattern[:40]!r}")
        return _capped(f, "hybrid_override_pattern", [_BLOCKS[c] for c in pattern])
    return ["linear_attention", "moe", "full_attention", "mlp"]


def _capped(f: Fields, key: str, kinds: list[str]) -> list[str]:
    if len(kinds) > LIMITS["layers"]:
        raise f.error(f"field {key!r} gives {len(kinds):,} layers; at most {LIMITS['layers']:,} are supported")
    return kinds


def _mamba2_mixer(f: Fields, heads: int, head_dim: int, *, n_groups_keys: tuple[str, ...],
                  chunk_default: int, bias_key: str) -> Mamba2:
    return Mamba2(num_heads=heads, head_dim=head_dim, d_state=f.int("ssm_state_size", "state_size", default=128),
                  n_groups=f.int(*n_groups_keys, default=8),
                  d_conv=f.int("conv_kernel", "mamba_d_conv", default=4),
                  chunk_size=f.int("chunk_size", "mamba_chunk_size", default=chunk_default),
                  conv_bias=f.bool("use_conv_bias", "mamba_conv_bias", default=True),
                  proj_bias=f.bool(bias_key, default=False))


def _nemotron_h(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size")
    hidden = f.int("hidden_size")
    kinds = nemotron_block_types(f)
    notes: tuple[str, ...] = ()
    declared = f.int("num_hidden_layers", default=None)
    if declared is not None and declared != len(kinds):
        notes = (f"num_hidden_layers ({declared}) differs from the {len(kinds)} blocks of the block pattern; "
                 "the pattern wins, as in transformers",)
    if f.has("moe_latent_size") and "moe" in kinds:
        raise f.error("field 'moe_latent_size' (experts in a latent space) is not supported yet")
    heads = f.int("num_attention_heads", default=32)
    kv = kv_heads_of(f, heads, "num_key_value_heads") if f.has("num_key_value_heads") else 8
    if heads % kv:
        raise f.error(f"num_key_value_heads ({kv}) must divide num_attention_heads ({heads})")
    attn = Attention(heads, kv, f.int("head_dim", default=128))
    mamba = _mamba2_mixer(f, f.int("mamba_num_heads", default=128), f.int("mamba_head_dim", default=64),
                          n_groups_keys=("n_groups", "mamba_n_groups"), chunk_default=128, bias_key="use_bias")
    activation = f.activation("mlp_hidden_act", default="relu2")
    mlp_bias = f.bool("mlp_bias", default=False)
    blocks: dict[str, Layer] = {}
    norms = ("norm",)
    for kind in set(kinds):
        if kind == "linear_attention":
            blocks[kind] = Layer(mamba, None, norm_names=norms)
        elif kind == "full_attention":
            blocks[kind] = Layer(attn, None, norm_names=norms)
        elif kind == "mlp":
            blocks[kind] = Layer(None, MLP(f.int("intermediate_size", default=21504), gated=False,
                                           activation=activation, bias=mlp_bias), norm_names=norms)
        else:
            moe = MoE(num_experts=f.int("n_routed_experts", default=8), top_k=f.int("num_experts_per_tok", default=2),
                      expert_intermediate_size=f.int("moe_intermediate_size", default=7688), gated=False,
                      activation=activation,
                      shared_intermediate_size=f.int("moe_shared_expert_intermediate_size", default=7688,
                                                     minimum=0) * (1 if f.int("n_shared_experts", default=1,
                                                                              minimum=0) else 0))
            blocks[kind] = Layer(None, moe, norm_names=norms)
    groups = pattern_groups(len(kinds), kinds.__getitem__, blocks.__getitem__, period=len(kinds))
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size", default=131072),
                layer_groups=groups, tie_word_embeddings=tied(f, False),
                max_position_embeddings=f.int("max_position_embeddings", default=None),
                op_names={**_NAMES, "router": "gate"}, notes=notes)


def _mamba2(f: Fields, model_type: str) -> dict[str, Any]:
    f.require("hidden_size", "num_hidden_layers")
    hidden = f.int("hidden_size")
    heads, head_dim = f.int("num_heads", default=128), f.int("head_dim", default=64)
    d_inner = int(f.float("expand", default=2) * hidden)
    if d_inner != heads * head_dim:
        raise f.error(f"expand * hidden_size ({d_inner}) must equal num_heads * head_dim ({heads} x {head_dim})")
    mixer = _mamba2_mixer(f, heads, head_dim, n_groups_keys=("n_groups",), chunk_default=256, bias_key="use_bias")
    layer = Layer(mixer, None, norm_names=("norm",))
    return dict(hidden_size=hidden, vocab_size=f.int("vocab_size", default=32768),
                layer_groups=(LayerGroup(layer, f.int("num_hidden_layers")),), tie_word_embeddings=tied(f, False),
                op_names=_NAMES)
