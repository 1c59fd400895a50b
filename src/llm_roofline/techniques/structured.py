"""Structured pruning: whole layers, attention heads and MLP channels removed, which is a smaller model
(ModelSpec -> ModelSpec), run by the same engine.

LLM-Pruner (Ma et al. 2023, https://arxiv.org/abs/2305.11627) removes coupled groups (attention heads
with their slices of q/k/v/o, MLP channels with their rows of gate/up and column of down);
Sheared-LLaMA (Xia et al. 2023, https://arxiv.org/abs/2310.06694) prunes to a target shape of layers,
heads and intermediate size; layer pruning (ShortGPT, Men et al. 2024, https://arxiv.org/abs/2403.03853)
drops whole decoder layers. Fractions removed, each rounded to the nearest whole unit, at least one kept:

- ``prune_layers`` f: L' = max(1, round(L * (1 - f))) layers, taken from the layer groups in proportion
  to their sizes (largest remainder), so a model's mix of layer kinds is kept;
- ``prune_heads`` f: GQA attention keeps K' = max(1, round(K * (1 - f))) KV heads and their query groups,
  N' = K' * N / K (whole groups, so the cache shrinks with the heads); MLA keeps N' = max(1, round(N *
  (1 - f))) heads (its latent cache is per token, not per head); other mixers (Mamba, linear attention,
  DeepSeek-V4's compressed attention) keep theirs;
- ``prune_intermediate`` f: every MLP, expert and shared expert keeps max(1, round(F * (1 - f))) channels.

The new parameter count is the pruned model's (``model.params_total`` in the report, the original's in
``techniques.structured.params_before``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..models.spec import MLP, Attention, LatentAttention, LayerGroup, MLPAndMoE, MoE
from ..models.spec_mixers import SparseLatentAttention


def _keep(n: int, fraction: float) -> int:
    return max(1, int(np.floor(n * (1.0 - fraction) + 0.5)))


def prune_model(model, techniques):
    """The pruned model (module doc); the model itself when nothing is pruned."""
    t = techniques
    groups = model.layer_groups
    if t.prune_heads or t.prune_intermediate:
        groups = tuple(replace(g, layer=_layer(g.layer, t.prune_heads, t.prune_intermediate)) for g in groups)
    if t.prune_layers:
        groups = _fewer_layers(groups, t.prune_layers)
    return replace(model, layer_groups=groups, name=model.name)


def _fewer_layers(groups, fraction: float) -> tuple[LayerGroup, ...]:
    total = sum(g.count for g in groups)
    keep = _keep(total, fraction)
    exact = [g.count * keep / total for g in groups]
    counts = [int(np.floor(x)) for x in exact]
    order = sorted(range(len(groups)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[:keep - sum(counts)]:
        counts[i] += 1
    return tuple(replace(g, count=c) for g, c in zip(groups, counts, strict=True) if c > 0)


def _layer(layer, heads: float, intermediate: float):
    mixer, ffn = layer.mixer, layer.ffn
    if heads:
        mixer = _mixer(mixer, heads)
    if intermediate:
        ffn = _ffn(ffn, intermediate)
    return replace(layer, mixer=mixer, ffn=ffn)


def _mixer(mixer, fraction: float):
    if isinstance(mixer, Attention):
        kv = _keep(mixer.num_kv_heads, fraction)
        return replace(mixer, num_kv_heads=kv, num_heads=kv * (mixer.num_heads // mixer.num_kv_heads))
    if isinstance(mixer, LatentAttention):
        return replace(mixer, num_heads=_keep(mixer.num_heads, fraction))
    if isinstance(mixer, SparseLatentAttention):
        return replace(mixer, mla=_mixer(mixer.mla, fraction))
    return mixer


def _ffn(ffn, fraction: float):
    if isinstance(ffn, MLP):
        return replace(ffn, intermediate_size=_keep(ffn.intermediate_size, fraction))
    if isinstance(ffn, MoE):
        shared = _keep(ffn.shared_intermediate_size, fraction) if ffn.shared_intermediate_size else 0
        return replace(ffn, expert_intermediate_size=_keep(ffn.expert_intermediate_size, fraction),
                       shared_intermediate_size=shared)
    if isinstance(ffn, MLPAndMoE):
        return replace(ffn, mlp=_ffn(ffn.mlp, fraction), moe=_ffn(ffn.moe, fraction))
    return ffn


def unpruned(techniques):
    """The same techniques with structured pruning already applied (its fractions at 0)."""
    return replace(techniques, prune_layers=0.0, prune_heads=0.0, prune_intermediate=0.0)
