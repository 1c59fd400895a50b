"""Sharding rules: the part of a model one device holds, as a ModelSpec of its own.

One rule per layer type, dispatched on the mixer and FFN classes (a type without a rule is a clear
error, so a new family needs one small function here). Derivations, for tensor parallelism t
(Megatron-LM, Shoeybi et al. 2019, sec. 3):
- Attention: q_proj / k_proj / v_proj column-parallel, o_proj row-parallel: each device holds N/t query
  heads; K/t KV heads when K >= t (t must divide K), else one KV head replicated t/K times (t % K == 0),
  as vLLM does. qk norms over H are replicated (per-head weights split with their heads); sinks (one per
  head) split with the heads; the o_proj bias is added once, replicated. A norm over the whole N*H
  projection (OLMo 2, MiniMax-M2) is split with the heads too; the all-reduce of its sum of squares
  (M values per norm) is not counted.
- MLA: the latent projections (q_a_proj, kv_a_proj_with_mqa) and their norms are replicated, the heads
  split: q_b_proj / kv_b_proj column-parallel over N/t heads, o_proj row-parallel; the cached latent is
  replicated on every device (vLLM / SGLang DeepSeek).
- Mamba: d_inner split (in_proj column-parallel, conv1d, x_proj row-parallel with its own all-reduce,
  dt_proj column-parallel, A and D split, out_proj row-parallel); dt_rank and d_state are whole.
- Dense MLP: gate/up column-parallel, down row-parallel: F/t.
- MoE: experts' own width F_e / moe_tp; shared experts F_s / t; router and gate replicated. Which
  experts a device holds (E/ep) and the tokens that reach them come from the plan (plan.routed).
- Embedding and lm_head: vocabulary-parallel, ceil(V/t) rows each (vocabularies not divisible by t
  are padded, as Megatron and vLLM pad them). Norms, learned positions and the E != D projections
  are replicated.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..errors import DeploymentError
from ..models.spec import MLP, Attention, LatentAttention, Layer, LayerGroup, Mamba, ModelSpec, MoE


def _split(owner: str, what: str, value: int, degree: int, field: str = "tp") -> int:
    if value % degree:
        raise DeploymentError(f"{field} ({degree}) must divide the {what} ({value}) of {owner}")
    return value // degree


def shard_attention(a: Attention, tp: int, owner: str) -> Attention:
    heads = _split(owner, "query heads", a.num_heads, tp)
    K = a.num_kv_heads
    if K >= tp:
        kv = _split(owner, "KV heads", K, tp)
    elif tp % K:
        raise DeploymentError(f"tp ({tp}) exceeds the {K} KV heads of {owner} and is not a multiple of them "
                              "(KV heads are replicated only when tp is)")
    else:
        kv = 1
    return replace(a, num_heads=heads, num_kv_heads=kv)


def shard_latent_attention(m: LatentAttention, tp: int, owner: str) -> LatentAttention:
    return replace(m, num_heads=_split(owner, "attention heads", m.num_heads, tp))


def shard_mamba(m: Mamba, tp: int, owner: str) -> Mamba:
    return replace(m, d_inner=_split(owner, "Mamba d_inner", m.d_inner, tp))


def shard_mlp(m: MLP, tp: int, owner: str) -> MLP:
    return replace(m, intermediate_size=_split(owner, "MLP width", m.intermediate_size, tp))


def shard_moe(m: MoE, tp: int, moe_tp: int, owner: str) -> MoE:
    width = _split(owner, "expert width", m.expert_intermediate_size, moe_tp, "moe_tp = tp x attention_dp / ep")
    shared = _split(owner, "shared-expert width", m.shared_intermediate_size, tp) if m.shared_intermediate_size else 0
    return replace(m, expert_intermediate_size=width, shared_intermediate_size=shared)


MIXER_RULES = {Attention: shard_attention, LatentAttention: shard_latent_attention, Mamba: shard_mamba}
DENSE_FFN_RULES = {MLP: shard_mlp}


def shard_layer(layer: Layer, tp: int, moe_tp: int, owner: str) -> Layer:
    mixer, ffn = layer.mixer, layer.ffn
    if tp > 1:
        rule = MIXER_RULES.get(type(mixer))
        if rule is None:
            raise DeploymentError(f"tensor parallelism has no sharding rule for the {type(mixer).__name__} layers "
                                  f"of {owner} (add one to llm_roofline/parallel/shard.py); use tp 1")
        mixer = rule(mixer, tp, owner)
    if isinstance(ffn, MoE):
        ffn = shard_moe(ffn, tp, moe_tp, owner) if (tp > 1 or moe_tp > 1) else ffn
    elif ffn is not None and tp > 1:
        rule = DENSE_FFN_RULES.get(type(ffn))
        if rule is None:
            raise DeploymentError(f"tensor parallelism has no sharding rule for the {type(ffn).__name__} blocks "
                                  f"of {owner} (add one to llm_roofline/parallel/shard.py); use tp 1")
        ffn = rule(ffn, tp, owner)
    return replace(layer, mixer=mixer, ffn=ffn)


def shard_model(model: ModelSpec, tp: int, moe_tp: int) -> ModelSpec:
    """The shard of ``model`` one device holds under tensor parallelism ``tp`` (experts: ``moe_tp``)."""
    if tp == 1 and moe_tp == 1:
        return model
    groups = tuple(LayerGroup(shard_layer(g.layer, tp, moe_tp, model.name), g.count) for g in model.layer_groups)
    return replace(model, layer_groups=groups, vocab_size=math.ceil(model.vocab_size / tp))
