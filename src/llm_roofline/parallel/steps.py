"""Exact sums over decode steps of non-decreasing step times (pipelines, overlap), in closed form.

A series is a function of the KV length S; ``max`` with a constant needs one that never decreases
(every operator's cost grows with the keys it sees; chunked attention, whose keys restart at each
chunk, is the exception, and ``Rows.monotone`` says so). ``at(S)`` evaluates it; ``total(lo, hi)``
is the exact sum over the integers S = lo..hi. Rows: the sum over operators of count x max(c0 + c1 x,
m0 + m1 x, link) + overhead, x = min(S, W) (or the position in its chunk), summed per operator with
generation.windowed_step_sum (arithmetic series).
max(series, K) for a constant K splits at the first S where the series reaches K, found by
bisection (about log2(range) vectorized evaluations), so the sum stays exact without a per-step loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..generation import windowed_step_sum
from ..roofline import OpCosts


@dataclass(frozen=True)
class Rows:
    """Sum over the selected operators (``mask``) of their step time, from the decode costs at KV
    length 0 and 1 without windows (``at0``, ``at1``) and the launch overhead per operator."""

    at0: OpCosts
    at1: OpCosts
    mask: np.ndarray
    overhead_s: float = 0.0

    def _coefficients(self):
        sel = self.mask
        a0, a1 = self.at0, self.at1
        c0, m0 = a0.compute_time_s[sel], a0.memory_time_s[sel]
        c1, m1 = a1.compute_time_s[sel] - c0, a1.memory_time_s[sel] - m0
        link = a0.link_time_s[sel]
        counts = a0.table.counts[sel][:, None]
        window, chunk = a0.table.kv_window[sel][:, None], a0.table.kv_chunk[sel][:, None]
        works = ((a1.table.flops[sel] > 0) | (a1.table.bytes[sel] > 0)).any(axis=1, keepdims=True)
        overhead = np.where(works, self.overhead_s, 0.0)
        return c0, c1, m0, m1, link, counts, window, chunk, overhead

    @property
    def monotone(self) -> bool:
        """Whether the step time never decreases with S (false with chunked-attention operators, whose
        visible keys restart at every chunk)."""
        return not np.isfinite(self.at0.table.kv_chunk[self.mask]).any()

    def at(self, S: np.ndarray) -> np.ndarray:
        c0, c1, m0, m1, link, counts, window, chunk, overhead = self._coefficients()
        S = np.asarray(S, dtype=np.float64)[None, :]
        safe = np.where(np.isfinite(chunk), chunk, 1.0)
        x = np.where(np.isfinite(chunk), np.mod(S - 1.0, safe) + 1.0, np.minimum(S, window))
        step = np.maximum(np.maximum(c0 + c1 * x, m0 + m1 * x), link) + overhead
        return (step * counts).sum(0)

    def total(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        c0, c1, m0, m1, link, counts, window, chunk, overhead = self._coefficients()
        n = np.clip(hi - lo + 1.0, 0.0, None)
        grows = (c1 != 0).any(1) | (m1 != 0).any(1)
        per_op = n * (np.maximum(np.maximum(c0, m0), link) + overhead)
        if grows.any():
            g = np.flatnonzero(grows)
            summed = windowed_step_sum(lo, hi, window[g], c0[g], c1[g], m0[g], m1[g], chunk[g])
            per_op[g] = np.where(n > 0, summed, 0.0) + n * overhead[g]
        return (per_op * counts).sum(0)


@dataclass(frozen=True)
class Affine:
    """scale x base(S) + offset (scale >= 0, per scenario or scalar)."""

    base: object
    scale: np.ndarray | float
    offset: np.ndarray | float

    def at(self, S):
        return self.scale * self.base.at(S) + self.offset

    def total(self, lo, hi):
        n = np.clip(hi - lo + 1.0, 0.0, None)
        return self.scale * self.base.total(lo, hi) + self.offset * n


@dataclass(frozen=True)
class AtLeast:
    """max(base(S), floor) for a constant floor: floor up to the first S where base reaches it."""

    base: object
    floor: np.ndarray | float

    def at(self, S):
        return np.maximum(self.base.at(S), self.floor)

    def crossing(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """The first integer S in [lo, hi] with base(S) >= floor (hi + 1 when there is none)."""
        left, right = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64) + 1.0
        floor = np.broadcast_to(self.floor, left.shape)
        while (left < right).any():
            mid = np.floor((left + right) / 2.0)
            reached = self.base.at(np.minimum(mid, np.maximum(hi, lo))) >= floor
            active = left < right
            right = np.where(active & reached, mid, right)
            left = np.where(active & ~reached, mid + 1.0, left)
        return left

    def total(self, lo, hi):
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        split = self.crossing(lo, hi)
        below = np.clip(split - lo, 0.0, None) * self.floor
        return below + self.base.total(split, hi)
