"""Exact sums over the iterations of a multi-token decoding method (speculative, lookahead, Jacobi).

Iteration j (j = 0, 1, ...) of a generation runs at KV length S_j = s0 + j*E: every iteration the cache
grows by E tokens (the expected tokens per iteration), from s0 (the prompt plus the tokens the first
iteration appends). An operator's compute and memory times at KV length S are, exactly for S <= W (its
window or eviction budget) and S >= W + T - 1 (T query tokens per sequence), and in between to within the
concave kink of a T-token causal block (see ``AffineStep``):

    c(S) = min(c0 + c1*S, cW),   m(S) = min(m0 + m1*S, mW)      (cW = mW = inf without a window)

so its time max(c, m) is, in j, the larger of two functions that are each affine up to one breakpoint and
constant after it. Splitting [0, n) at the two breakpoints leaves three ranges where both are affine, and
each range is :func:`~llm_roofline.generation.sum_max_affine` (two arithmetic series split at their
crossover). A generation of G tokens takes G / E iterations: floor(G / E) whole ones and a last one
weighted by the fraction left. No loop over iterations: NumPy over operators x scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..generation import chunked_step_sum, sum_max_affine
from ..roofline import OpCosts


@dataclass(frozen=True)
class AffineStep:
    """One step's per-operator times as functions of the KV length S (arrays [n_ops, n]):
    compute c0 + c1*S and memory m0 + m1*S without a window, capped at cW / mW (the times at a KV length
    past the window, inf where the operator has none); ``works``: the operator does any work (for the
    per-kernel overhead); ``chunk``: Llama 4's attention chunk per operator (inf: none)."""

    c0: np.ndarray
    c1: np.ndarray
    m0: np.ndarray
    m1: np.ndarray
    cW: np.ndarray
    mW: np.ndarray
    chunk: np.ndarray
    works: np.ndarray
    counts: np.ndarray
    link: np.ndarray | float = 0.0  # a communication operator's link time (s; constant in S)

    @classmethod
    def from_columns(cls, costs: OpCosts, at0: slice, at1: slice, beyond: slice | None) -> AffineStep:
        """From the columns of ``costs`` at KV length 0 and 1 (windows ignored) and past every window (windows
        applied; None: the model has no window)."""
        t = costs.table
        c, m = costs.compute_time_s, costs.memory_time_s
        c0, m0 = c[:, at0], m[:, at0]
        inf = np.full_like(c0, np.inf)
        windowed = np.isfinite(t.kv_window)[:, None]
        cW = inf if beyond is None else np.where(windowed, c[:, beyond], inf)
        mW = inf if beyond is None else np.where(windowed, m[:, beyond], inf)
        works = ((t.flops[:, at1] > 0) | (t.bytes[:, at1] > 0)).any(axis=1, keepdims=True)
        link = costs.link_time_s[:, at0] if costs.link_time_s is not None and costs.link_time_s.any() else 0.0
        return cls(c0=c0, c1=c[:, at1] - c0, m0=m0, m1=m[:, at1] - m0, cW=cW, mW=mW,
                   chunk=np.broadcast_to(t.kv_chunk[:, None], c0.shape), works=works, counts=t.counts, link=link)

    def time_at(self, S: np.ndarray) -> np.ndarray:
        """Per-operator time of one step at KV length S (no overhead), [n_ops, n]: the same model as the
        sums (a chunked operator sees ((S - 1) mod C) + 1 keys)."""
        x = np.where(np.isfinite(self.chunk), np.mod(S - 1.0, np.where(np.isfinite(self.chunk), self.chunk, 1.0)) + 1.0,
                     S)
        time = np.maximum(np.minimum(self.c0 + self.c1 * x, self.cW), np.minimum(self.m0 + self.m1 * x, self.mW))
        return np.maximum(time, self.link)


def _first_at_cap(a: np.ndarray, b: np.ndarray, cap: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The first integer j in [0, n] with a + b*j >= cap (n when none: an infinite cap, or never reached)."""
    finite = np.isfinite(cap)
    safe_cap = np.where(finite, cap, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        j = np.where(b > 0, np.ceil((safe_cap - a) / np.where(b > 0, b, 1.0)), np.where(a >= safe_cap, 0.0, n))
    return np.where(finite, np.clip(j, 0.0, n), n)


def iteration_sum(step: AffineStep, s0: np.ndarray, per_iteration: float | np.ndarray,
                  iterations: np.ndarray) -> np.ndarray:
    """Per-operator sum over iterations j = 0 .. N-1 of the step's time at KV length s0 + j*E
    (E = ``per_iteration`` tokens, N = ``iterations``, real: the last, fractional iteration counts by its
    fraction). Shape [n_ops, n]. Operators whose time does not depend on S take N times their time; chunked
    operators (Llama 4) are summed token by token and divided by E, which is exact when E = 1 and for the
    affine stretches otherwise."""
    E = np.asarray(per_iteration, dtype=np.float64)
    total = np.maximum(np.maximum(step.c0, step.m0), step.link) * iterations
    grows = np.flatnonzero((step.c1 != 0).any(1) | (step.m1 != 0).any(1))
    if grows.size:
        pick = AffineStep(*(getattr(step, f)[grows] for f in ("c0", "c1", "m0", "m1", "cW", "mW", "chunk",
                                                               "works", "counts")))
        total[grows] = _growing_sum(pick, s0, E, iterations)
    return total


def passes_sum(step: AffineStep, s0: np.ndarray, offsets: list[float], per_iteration: float,
               iterations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Several passes of one step per iteration, pass i at KV length s0 + offsets[i] + j*E in iteration j:
    (per-operator sum over the generation, per-operator time of one iteration's passes at KV length s0 +
    offset, with s0 the reported KV length ``now``); both summed over the passes, [n_ops, n]. Only the
    operators whose time depends on S are evaluated pass by pass."""
    k, n = len(offsets), step.c0.shape[1]
    flat = np.maximum(np.maximum(step.c0, step.m0), step.link)
    total, now = flat * iterations * k, flat * k
    grows = np.flatnonzero((step.c1 != 0).any(1) | (step.m1 != 0).any(1))
    if grows.size:
        pick = AffineStep(*(np.tile(getattr(step, f)[grows], (1, k)) if getattr(step, f).ndim == 2
                            and getattr(step, f).shape[1] == n else getattr(step, f)[grows]
                            for f in ("c0", "c1", "m0", "m1", "cW", "mW", "chunk", "works", "counts")))
        shift = np.repeat(np.asarray(offsets, dtype=np.float64), n)
        E = np.asarray(per_iteration, dtype=np.float64)
        total[grows] = _growing_sum(pick, np.tile(s0[0], k) + shift, E, np.tile(iterations, k)).reshape(
            grows.size, k, n).sum(1)
        now[grows] = pick.time_at(np.tile(s0[1], k) + shift).reshape(grows.size, k, n).sum(1)
    return total, now


def _growing_sum(step: AffineStep, s0, E, iterations) -> np.ndarray:
    n = np.floor(iterations)
    frac = iterations - n
    a_c, b_c = step.c0 + step.c1 * s0, step.c1 * E
    a_m, b_m = step.m0 + step.m1 * s0, step.m1 * E
    capped = np.isfinite(step.cW).any() or np.isfinite(step.mW).any()
    if not capped and not np.isfinite(step.chunk).any():  # no window: two affine functions all along
        total = sum_max_affine(0.0, n - 1.0, a_c, b_c, a_m, b_m)
        return total + frac * np.maximum(a_c + b_c * n, a_m + b_m * n)
    jc = _first_at_cap(a_c, b_c, step.cW, n)
    jm = _first_at_cap(a_m, b_m, step.mW, n)
    cW = np.where(np.isfinite(step.cW), step.cW, 0.0)
    mW = np.where(np.isfinite(step.mW), step.mW, 0.0)
    j1, j2 = np.minimum(jc, jm), np.maximum(jc, jm)
    total = sum_max_affine(0.0, j1 - 1.0, a_c, b_c, a_m, b_m)
    if capped:
        # Between the breakpoints one of the two is at its cap (the one that reached it first).
        c_capped = jc <= jm
        total = total + sum_max_affine(j1, j2 - 1.0, np.where(c_capped, cW, a_c), np.where(c_capped, 0.0, b_c),
                                       np.where(c_capped, a_m, mW), np.where(c_capped, b_m, 0.0))
        total = total + sum_max_affine(j2, n - 1.0, cW, 0.0, mW, 0.0)
    last = np.maximum(np.minimum(a_c + b_c * n, step.cW), np.minimum(a_m + b_m * n, step.mW))
    total = total + np.where(frac > 0, frac * np.where(frac > 0, last, 0.0), 0.0)
    chunked = np.isfinite(step.chunk)
    if chunked.any():
        tokens = iterations * E
        safe = np.where(chunked, step.chunk, 1.0)
        per_token = chunked_step_sum(s0, s0 + np.round(tokens) - 1.0, safe, step.c0, step.c1, step.m0, step.m1)
        total = np.where(chunked, per_token / E, total)
    return total


def iteration_overhead(step: AffineStep, overhead_s: float, iterations: np.ndarray) -> np.ndarray:
    """Launch overhead over N iterations: one per operator that does work, per iteration ([n_ops, n])."""
    return np.where(step.works, overhead_s, 0.0) * iterations
