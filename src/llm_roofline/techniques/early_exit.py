"""Early exit and layer skipping (CALM, https://arxiv.org/abs/2207.07061; LayerSkip,
https://arxiv.org/abs/2404.16710): a decode step runs only the first part of the decoder layers for a token.

A token exits after a fraction e of the layers; ``fraction`` f: every token runs f of the layers (layer
skipping at a fixed depth), or ``distribution`` {e_i: q_i}: it exits after e_i of the layers with probability
q_i, so f = sum q_i e_i. The layer at depth x in (0, 1] runs for a token with probability R(x) = P(e >= x)
(1 for x <= f with a fixed depth).

Per decode step of M = B*T tokens, for every operator inside the layers:
- FLOPs, activation and KV traffic scale by f (only the tokens still running compute);
- weight bytes scale by w(M) = integral_0^1 [1 - (1 - R(x))^M] dx: a layer's weights are read when any of
  the M tokens runs it (the union over the batch, tokens exiting independently); w = f for a fixed depth,
  and w(1) = f always. With a distribution, sorted e_1 < ... < e_n and R_i = q_i + ... + q_n:
  w(M) = sum_i (e_i - e_(i-1)) (1 - (1 - R_i)^M), e_0 = 0.
- ``kv_fill="compute"`` (CALM's state propagation): a skipped layer still computes the K/V (or recurrent
  state) later tokens attend to, so the operators on the dataflow path to a KV-cache write (input norm,
  k_proj, v_proj; the whole mixer of an SSM layer) run for every token: factor 1. ``"none"``: they do not
  (later tokens read whatever the skipped layers hold: an approximation some methods accept).
- ``classifier``: the exit decision at every layer a token runs: ``linear`` (a D -> 1 classifier per
  layer, CALM's early-exit classifier), ``lm_head`` (CALM's softmax response: the model's lm_head at every
  layer, its weights shared) or ``none`` (hidden-state saturation, free).
Prefill runs every layer (later tokens need every layer's KV). The step time follows from the scaled
operators on the roofline; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ScenarioError
from ..graph import sizes_for
from ..inputs import describe, real
from ..models.spec import ModelSpec
from ..ops import LAYER_INPUT, OpTable, OpTableBuilder, linear
from ..scenario import Scenario
from .tables import concat, layer_rows, scaled, unowned

KV_FILLS = ("compute", "none")
CLASSIFIERS = ("linear", "lm_head", "none")
MAX_EXITS = 64


@dataclass(frozen=True)
class EarlyExit:
    """``fraction`` f in (0, 1] or ``distribution``: ((exit depth e in (0, 1], probability q), ...)."""

    fraction: float | None = None
    distribution: tuple[tuple[float, float], ...] = ()
    kv_fill: str = "compute"
    classifier: str = "linear"

    def __post_init__(self) -> None:
        if (self.fraction is None) == (not self.distribution):
            raise ScenarioError("early exit needs one of fraction (mean share of the layers each token runs) or "
                                "distribution (exit depths with their probabilities)")
        if self.fraction is not None:
            real("early_exit fraction", self.fraction, 0.0, 1.0)
            if self.fraction <= 0:
                raise ScenarioError("early_exit fraction must be above 0 (a token runs at least one layer)")
        if self.distribution:
            if len(self.distribution) > MAX_EXITS:
                raise ScenarioError(f"early_exit distribution: at most {MAX_EXITS} exits")
            depths = [real("early_exit exit depth", e, 0.0, 1.0) for e, _ in self.distribution]
            probs = [real("early_exit exit probability", q, 0.0, 1.0) for _, q in self.distribution]
            if min(depths) <= 0:
                raise ScenarioError("early_exit exit depths must be above 0")
            if len(set(depths)) != len(depths):
                raise ScenarioError("early_exit distribution: each exit depth once")
            if abs(sum(probs) - 1.0) > 1e-9:
                raise ScenarioError(f"early_exit exit probabilities must sum to 1, got {sum(probs):g}")
        if self.kv_fill not in KV_FILLS:
            raise ScenarioError(f"early_exit kv_fill must be one of {', '.join(KV_FILLS)}, "
                                f"got {describe(self.kv_fill)}")
        if self.classifier not in CLASSIFIERS:
            raise ScenarioError(f"early_exit classifier must be one of {', '.join(CLASSIFIERS)}, "
                                f"got {describe(self.classifier)}")

    @property
    def mean_fraction(self) -> float:
        """f: the mean share of the layers a token runs."""
        if self.fraction is not None:
            return float(self.fraction)
        return float(sum(e * q for e, q in self.distribution))

    def weight_fraction(self, tokens: np.ndarray) -> np.ndarray:
        """w(M): the mean share of the layers whose weights a step of M tokens reads (module docstring)."""
        tokens = np.asarray(tokens, dtype=np.float64)
        if self.fraction is not None:
            return np.full_like(tokens, float(self.fraction))
        exits = sorted(self.distribution)
        total, previous = np.zeros_like(tokens), 0.0
        for i, (depth, _) in enumerate(exits):
            still = sum(q for _, q in exits[i:])  # R_i: tokens that run the layers in (e_(i-1), e_i]
            total = total + (depth - previous) * (1.0 - (1.0 - still) ** tokens)
            previous = depth
        return total

    def describe(self) -> str:
        how = (f"every token runs {self.fraction:.3g} of the layers" if self.fraction is not None
               else "exits " + ", ".join(f"{q:.3g} after {e:.3g}" for e, q in self.distribution)
               + f" of the layers (mean {self.mean_fraction:.3g})")
        kv = ("skipped layers still compute their K/V (state propagation)" if self.kv_fill == "compute"
              else "skipped layers compute no K/V")
        cls = {"linear": "a linear exit classifier per layer", "lm_head": "the lm_head as exit classifier "
               "(softmax response) at every layer run", "none": "no classifier cost"}[self.classifier]
        return f"early exit: {how}; {kv}; {cls}; prefill runs every layer"

    def to_dict(self) -> dict:
        return {"fraction": self.fraction, "distribution": [list(p) for p in self.distribution] or None,
                "mean_fraction": self.mean_fraction, "kv_fill": self.kv_fill, "classifier": self.classifier}


def kv_path_rows(table: OpTable) -> np.ndarray:
    """Operators on the dataflow path to a KV-cache (or state) write inside a layer: the writers and what
    they read, back to the layer's input."""
    index = {name: i for i, name in enumerate(table.names)}
    inside = layer_rows(table)
    writes = table.kv_write_bytes.any(axis=1) & inside
    keep = np.zeros(len(table.names), dtype=bool)
    stack = list(np.flatnonzero(writes))
    while stack:
        i = stack.pop()
        if keep[i]:
            continue
        keep[i] = True
        stack += [index[s] for s in table.inputs[i] if s != LAYER_INPUT and s in index and inside[index[s]]]
    return keep


def apply_early_exit(table: OpTable, exit_: EarlyExit, model: ModelSpec, scenario: Scenario, T: np.ndarray,
                     S: np.ndarray) -> OpTable:
    """The decode-step table with early exit (module docstring); ``T`` tokens per sequence."""
    M = scenario.batch_size * T
    f = exit_.mean_fraction
    w = exit_.weight_fraction(M)
    inside = layer_rows(table)
    fill = kv_path_rows(table) if exit_.kv_fill == "compute" else np.zeros_like(inside)
    partial = inside & ~fill
    out = scaled(table, partial, flops=f, act_read_bytes=f, act_write_bytes=f, kv_read_bytes=f, kv_write_bytes=f,
                 weight_bytes=w)
    if exit_.classifier == "none":
        return out
    sz = sizes_for(scenario, T, S)
    ops = OpTableBuilder(n=scenario.size)
    D, L = model.hidden_size, model.num_layers
    width = 1 if exit_.classifier == "linear" else model.vocab_size
    with ops.scoped("layer"):
        linear(ops, sz, "exit_classifier", L, D, width, False, inputs=())
    extra = ops.build()
    if exit_.classifier == "lm_head":  # the model's own lm_head weights: nothing more in memory
        extra = unowned(extra, np.ones(1, dtype=bool))
    extra = scaled(extra, np.ones(1, dtype=bool), flops=f, act_read_bytes=f, act_write_bytes=f, weight_bytes=w)
    return concat(out, extra)
