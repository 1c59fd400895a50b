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
- DeepSeek Sparse Attention: the MLA rule for the heads; the lightning indexer (wq_b, wk, k_norm,
  weights_proj, scores, top-k and its cached keys) replicated, as vLLM's DeepSeek-V3.2 ``Indexer``
  ("no tensor parallel, just replicated": ReplicatedLinear).
- Gated delta-net (Qwen3-Next / Qwen3.5, vLLM ``Qwen3NextGatedDeltaNet``): key and value heads split
  (in_proj_qkvz / in_proj_ba column-parallel by head, conv1d channels, A_log and dt_bias, the recurrent
  state), out_proj row-parallel; the gated norm's dv weight replicated. t must divide the key heads.
- Mamba-2 (vLLM ``MambaMixer2``): heads split (in_proj's z, x and dt, conv1d, dt_bias / A_log / D, the
  state, the gated norm's weight), out_proj row-parallel; the B / C groups split when t divides them,
  else (t a multiple of n_groups) each device holds the one group its heads read, replicated. With
  replicated groups the grouped norm spans devices: its all-reduce of M x groups sums of squares is
  not counted.
- DeepSeek-V4 compressed attention: heads split (q_b_proj, q_b_norm, sinks, the attention cores,
  output_rope) with the output groups (o_a_proj per group, o_b_proj row-parallel: t must divide
  o_groups); the query latent (q_a_proj, q_a_norm), the one shared K = V head (kv_proj, kv_norm, its
  window cache), the compressor and the CSA indexer replicated, as MLA's latent and DSA's indexer.
- Gemma 4 attention: K = V layers, KV-shared layers and the output gate follow the attention rule (the
  gate is q_proj's second half, split with the heads). Hyper-connections (DeepSeek-V4) act on the whole
  residual streams: replicated, like the norms and residual adds.
- Dense MLP: gate/up column-parallel, down row-parallel: F/t.
- MoE: experts' own width F_e / moe_tp; shared experts F_s / t; router and gate replicated. Which
  experts a device holds (E/ep) and the tokens that reach them come from the plan (plan.routed).
- Gemma 4's MLP + MoE block: the dense MLP by the MLP rule, the experts by the MoE rule; router norm
  and post-norms replicated.
- Embedding and lm_head: vocabulary-parallel, ceil(V/t) rows each (vocabularies not divisible by t
  are padded, as Megatron and vLLM pad them); Gemma 4's per-layer embedding table likewise
  (ceil(V_p/t) rows, all-reduced), its projection and per-layer blocks replicated. Norms, learned
  positions and the E != D projections are replicated.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..errors import DeploymentError
from ..models.spec import (
    MLP,
    Attention,
    CompressedAttention,
    GatedDeltaNet,
    LatentAttention,
    Layer,
    LayerGroup,
    Mamba,
    Mamba2,
    MLPAndMoE,
    ModelSpec,
    MoE,
    SparseLatentAttention,
)


def _split(owner: str, what: str, value: int, degree: int, field: str = "tp") -> int:
    if value % degree:
        raise DeploymentError(f"{field} ({degree}) must divide the {what} ({value}) of {owner}")
    return value // degree


def _split_or_replicate(owner: str, what: str, value: int, degree: int) -> int:
    """``value`` / degree when the degree divides it; 1 (each device holds one, replicated degree / value
    times) when the degree is a multiple of it; else an error naming both."""
    if value >= degree:
        return _split(owner, what, value, degree)
    if degree % value:
        raise DeploymentError(f"tp ({degree}) exceeds the {value} {what} of {owner} and is not a multiple of them "
                              f"({what} are replicated only when tp is)")
    return 1


def shard_attention(a: Attention, tp: int, owner: str) -> Attention:
    heads = _split(owner, "query heads", a.num_heads, tp)
    return replace(a, num_heads=heads, num_kv_heads=_split_or_replicate(owner, "KV heads", a.num_kv_heads, tp))


def shard_latent_attention(m: LatentAttention, tp: int, owner: str) -> LatentAttention:
    return replace(m, num_heads=_split(owner, "attention heads", m.num_heads, tp))


def shard_sparse_latent_attention(m: SparseLatentAttention, tp: int, owner: str) -> SparseLatentAttention:
    return replace(m, mla=shard_latent_attention(m.mla, tp, owner))


def shard_mamba(m: Mamba, tp: int, owner: str) -> Mamba:
    return replace(m, d_inner=_split(owner, "Mamba d_inner", m.d_inner, tp))


def shard_gated_delta_net(m: GatedDeltaNet, tp: int, owner: str) -> GatedDeltaNet:
    return replace(m, num_k_heads=_split(owner, "linear-attention key heads", m.num_k_heads, tp),
                   num_v_heads=_split(owner, "linear-attention value heads", m.num_v_heads, tp))


def shard_mamba2(m: Mamba2, tp: int, owner: str) -> Mamba2:
    return replace(m, num_heads=_split(owner, "Mamba-2 heads", m.num_heads, tp),
                   n_groups=_split_or_replicate(owner, "Mamba-2 groups", m.n_groups, tp))


def shard_compressed_attention(m: CompressedAttention, tp: int, owner: str) -> CompressedAttention:
    return replace(m, num_heads=_split(owner, "query heads", m.num_heads, tp),
                   o_groups=_split(owner, "output groups (o_groups)", m.o_groups, tp))


def shard_mlp(m: MLP, tp: int, owner: str) -> MLP:
    return replace(m, intermediate_size=_split(owner, "MLP width", m.intermediate_size, tp))


def shard_moe(m: MoE, tp: int, moe_tp: int, owner: str) -> MoE:
    width = _split(owner, "expert width", m.expert_intermediate_size, moe_tp, "moe_tp = tp x attention_dp / ep")
    shared = _split(owner, "shared-expert width", m.shared_intermediate_size, tp) if m.shared_intermediate_size else 0
    return replace(m, expert_intermediate_size=width, shared_intermediate_size=shared)


def shard_mlp_and_moe(m: MLPAndMoE, tp: int, moe_tp: int, owner: str) -> MLPAndMoE:
    return replace(m, mlp=shard_mlp(m.mlp, tp, owner) if tp > 1 else m.mlp, moe=shard_moe(m.moe, tp, moe_tp, owner))


MIXER_RULES = {Attention: shard_attention, LatentAttention: shard_latent_attention, Mamba: shard_mamba,
               SparseLatentAttention: shard_sparse_latent_attention, GatedDeltaNet: shard_gated_delta_net,
               Mamba2: shard_mamba2, CompressedAttention: shard_compressed_attention}
DENSE_FFN_RULES = {MLP: shard_mlp}


def shard_layer(layer: Layer, tp: int, moe_tp: int, owner: str) -> Layer:
    mixer, ffn = layer.mixer, layer.ffn
    if tp > 1 and mixer is not None:  # Nemotron-H's feed-forward-only layers have no mixer
        rule = MIXER_RULES.get(type(mixer))
        if rule is None:
            raise DeploymentError(f"tensor parallelism has no sharding rule for the {type(mixer).__name__} layers "
                                  f"of {owner} (add one to llm_roofline/parallel/shard.py); use tp 1")
        mixer = rule(mixer, tp, owner)
    if isinstance(ffn, MoE):
        ffn = shard_moe(ffn, tp, moe_tp, owner) if (tp > 1 or moe_tp > 1) else ffn
    elif isinstance(ffn, MLPAndMoE):
        ffn = shard_mlp_and_moe(ffn, tp, moe_tp, owner) if (tp > 1 or moe_tp > 1) else ffn
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
    return replace(model, layer_groups=groups, vocab_size=math.ceil(model.vocab_size / tp),
                   per_layer_vocab_size=math.ceil(model.per_layer_vocab_size / tp))
