"""KV-cache compression by eviction: each attention layer keeps a budget of tokens, so a decode step reads
min(S, budget) keys and the cache stops growing.

- StreamingLLM (Xiao et al. ICLR 2024, https://arxiv.org/abs/2309.17453): ``sinks`` attention-sink tokens
  plus the most recent ones, budget - sinks of them: a sliding window over the prompt too.
- H2O (Zhang et al. NeurIPS 2023, https://arxiv.org/abs/2306.14048): heavy hitters by accumulated
  attention score plus recent tokens; the prompt attends in full, then the cache is cut to the budget. Each
  step also reads and writes one fp32 score per cached token and query head (the ``h2o_scores`` operator).
- SnapKV (Li et al. 2024, https://arxiv.org/abs/2404.14469): after the prompt, keeps the positions the last
  ``observation`` prompt queries attend to most (one ``snapkv_select`` operator in prefill: those queries
  against every prompt key); generation then reads the budget.

In the engine the budget is a window: every standard attention layer (MHA / GQA / MQA) attends to at most
``budget`` keys (min with its own sliding window), exactly as a sliding-window layer does (attention.py):
the decode step reads min(S, budget) keys, the cache holds min(tokens, budget - 1) between steps
(cache.py), the whole-generation sum stays exact, and memory and the largest batch follow. Which tokens
are kept changes accuracy, not the count. Combine with ``kv_bits`` for quantized KV. MLA, sparse,
compressed and recurrent layers keep their own cache (noted).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import ScenarioError
from ..graph import sizes_for
from ..inputs import describe, integer
from ..limits import SCENARIO_LIMITS
from ..models.spec import Attention, LayerGroup, ModelSpec
from ..ops import OpTable, OpTableBuilder
from ..scenario import Scenario

METHODS = ("streaming", "h2o", "snapkv")
SCORE_BYTES = 4.0  # H2O's accumulated scores: fp32


@dataclass(frozen=True)
class KVEviction:
    """``method`` (streaming, h2o, snapkv); ``budget``: tokens each attention layer keeps (and each query
    attends to), sinks included; ``sinks``: StreamingLLM's first tokens kept; ``observation``: SnapKV's
    window of prompt queries that pick the positions."""

    method: str = "streaming"
    budget: int = 1024
    sinks: int = 4
    observation: int = 32

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ScenarioError(f"kv_eviction method must be one of {', '.join(METHODS)}, got {describe(self.method)}")
        integer("kv_eviction budget (tokens per layer)", self.budget, 2, SCENARIO_LIMITS["kv_len"][1])
        integer("kv_eviction sinks", self.sinks, 0, self.budget - 1)
        integer("kv_eviction observation (prompt queries)", self.observation, 1, SCENARIO_LIMITS["prompt_len"][1])

    @property
    def prefill_windowed(self) -> bool:
        """StreamingLLM slides over the prompt too; H2O and SnapKV let the prompt attend in full."""
        return self.method == "streaming"

    def describe(self) -> str:
        what = {"streaming": f"StreamingLLM: {self.sinks} sink tokens + the most recent",
                "h2o": "H2O: heavy hitters + recent tokens", "snapkv": f"SnapKV: selected by the last "
                f"{self.observation} prompt queries"}[self.method]
        return f"KV eviction, {what}; {self.budget} tokens per attention layer"

    def to_dict(self) -> dict:
        return {"method": self.method, "budget": self.budget, "sinks": self.sinks if self.method == "streaming"
                else None, "observation": self.observation if self.method == "snapkv" else None}


def evicted_model(model: ModelSpec, ev: KVEviction) -> ModelSpec:
    """``model`` with every standard attention layer windowed at the budget (min with its own window);
    a layer that shares another's KV (Gemma 4) follows it. Chunked layers (Llama 4) keep their chunk when
    it is the smaller span."""
    groups = []
    for g in model.layer_groups:
        m = g.layer.mixer
        if isinstance(m, Attention):
            span = m.local_span
            if m.attention_chunk is not None and m.attention_chunk <= ev.budget:
                pass
            elif m.attention_chunk is not None:
                m = replace(m, attention_chunk=None, sliding_window=ev.budget)
            elif span is None or span > ev.budget:
                m = replace(m, sliding_window=ev.budget)
            g = LayerGroup(replace(g.layer, mixer=m), g.count)
        groups.append(g)
    return replace(model, layer_groups=tuple(groups))


def untouched_layers(model: ModelSpec) -> int:
    """Layers whose cache eviction leaves alone (MLA, sparse, compressed, recurrent)."""
    return sum(g.count for g in model.layer_groups if g.layer.mixer is not None and not isinstance(g.layer.mixer,
                                                                                                 Attention))


def eviction_ops(model: ModelSpec, ev: KVEviction, scenario: Scenario, stage: str, T: np.ndarray, S: np.ndarray,
                 apply_window: bool | np.ndarray = True) -> OpTable | None:
    """The method's own operators: H2O's score update in every decode step (read and write one fp32 score
    per cached token and query head, 2 FLOPs each: add the new scores, then pick the lowest), SnapKV's
    selection in prefill (the last ``observation`` queries against every prompt key, 2*H + 5 FLOPs per
    pair, reading the prompt's keys once)."""
    layers = [(g.layer.mixer, g.count) for g in model.layer_groups if isinstance(g.layer.mixer, Attention)
              and not g.layer.mixer.kv_shared]
    if not layers:
        return None
    sz = sizes_for(scenario, T, S)
    ops = OpTableBuilder(n=scenario.size)
    budget = float(ev.budget)
    with ops.scoped("mixer"):
        for i, (m, count) in enumerate(layers):
            tag = f"[{i + 1}]" if i else ""
            if ev.method == "h2o" and stage == "decode":
                keys = np.minimum(S, np.where(apply_window, budget, np.inf))
                values = sz.B * m.num_heads * keys
                ops.add(f"h2o_scores{tag}", "elementwise", count, flops=2.0 * values, act_read=values * SCORE_BYTES,
                        act_write=values * SCORE_BYTES, kv_window=budget, inputs=())
            elif ev.method == "snapkv" and stage == "prefill":
                w = np.minimum(float(ev.observation), S)
                pairs = sz.B * m.num_heads * w * S
                ops.add(f"snapkv_select{tag}", "attention", count, compute="attention", inputs=(),
                        flops=pairs * (2.0 * m.head_dim + 5.0),
                        act_read=sz.B * w * m.num_heads * m.head_dim * sz.ab,
                        kv_read=sz.B * S * m.num_kv_heads * m.head_dim * sz.kb,
                        act_write=sz.B * m.num_heads * S * sz.ab)
    return ops.build() if ops.rows else None
