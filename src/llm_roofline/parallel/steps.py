"""Exact sums over decode steps of non-decreasing step times (pipelines, overlap), in closed form.

A series is a function of the KV length S; ``max`` with a constant needs one that never decreases
(every operator's cost grows with the keys it sees; chunked attention, whose keys restart at each
chunk, is the exception, and ``Rows.monotone`` says so). ``at(S)`` evaluates it; ``total(lo, hi)``
is the exact sum over the integers S = lo..hi; ``span(lo, hi)`` bounds it there (low, high), tight
for a monotone series. Rows: the sum over operators of count x max(c0 + c1 x, m0 + m1 x, link) +
overhead, x = min(S, W) (or the position in its chunk), summed per operator with
generation.windowed_step_sum (arithmetic series).
max(series, K) for a constant K: where the span decides it (low >= K: the series; high <= K: K) the
sum is linear; otherwise it splits at the first S where the series reaches K, found by bisection
(about log2(range) vectorized evaluations), so the sum stays exact without a per-step loop. A series
that is not monotone (chunked attention) cannot be split: an undecided maximum over it raises
UndecidedMaximum. Calibrated curves (``Curves``) are bounded by a floor only, so a maximum over them is
decided by that floor where it can be and otherwise split where the search finds it on their per-step
values (GRID - 2 steps per round, a vectorized evaluation each: about log_16(range) rounds), each
piece summed by their quadrature (efficiency/steps.py); they count as monotone where no step falls at
GRID steps spread over the generation (each kernel curve grows with the keys by construction).
max(a_1 + b_1 x, a_2 + b_2 x) of one series x (``Larger``; b_1, b_2 >= 0) = the flatter line up to
the first S where the steeper reaches it (max(steeper - flatter, 0): a difference that grows with x,
so the same split applies), the steeper from there. The pipeline's decode step is such a maximum of
the layers' time (pipeline.period_lines), with overlap also of a constant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import DeploymentError
from ..generation import windowed_step_sum
from ..roofline import OpCosts


class UndecidedMaximum(DeploymentError):
    """A maximum over a series that is not monotone changes its winner inside the summed range."""


def _line(a, b, x):
    """a + b x, with b = 0 giving a even where x is infinite (an unbounded span)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.asarray(b) == 0, a, a + b * x)


@dataclass(frozen=True)
class Rows:
    """Sum over the selected operators (``mask``) of their step time, from the decode costs at KV
    length 0 and 1 without windows (``at0``, ``at1``) and the launch overhead per operator."""

    at0: OpCosts
    at1: OpCosts
    mask: np.ndarray
    overhead_s: float = 0.0

    @cached_property
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

    @staticmethod
    def _summed(coefficients, x: np.ndarray) -> np.ndarray:
        """sum over the operators of count x their step time when each sees x keys ([ops, n])."""
        c0, c1, m0, m1, link, counts, _, _, overhead = coefficients
        step = np.maximum(np.maximum(c0 + c1 * x, m0 + m1 * x), link) + overhead
        return (step * counts).sum(0)

    def at(self, S: np.ndarray) -> np.ndarray:
        coefficients = self._coefficients
        window, chunk = coefficients[6], coefficients[7]
        S = np.asarray(S, dtype=np.float64)[None, :]
        safe = np.where(np.isfinite(chunk), chunk, 1.0)
        x = np.where(np.isfinite(chunk), np.mod(S - 1.0, safe) + 1.0, np.minimum(S, window))
        return self._summed(coefficients, x)

    def span(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) bounds of at(S) over S = lo..hi: each operator's step grows with its visible keys,
        min(S, W) in [min(lo, W), min(hi, W)], or (chunked) in [1, min(hi, C)]; tight when monotone."""
        coefficients = self._coefficients
        window, chunk = coefficients[6], coefficients[7]
        n = coefficients[0].shape[1]
        lo, hi = (np.broadcast_to(np.asarray(v, dtype=np.float64), (n,))[None, :] for v in (lo, hi))
        chunked = np.isfinite(chunk)
        low = np.where(chunked, 1.0, np.minimum(lo, window))
        high = np.where(chunked, np.minimum(hi, chunk), np.minimum(hi, window))
        return self._summed(coefficients, low), self._summed(coefficients, high)

    def total(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        c0, c1, m0, m1, link, counts, window, chunk, overhead = self._coefficients
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

    @property
    def monotone(self) -> bool:
        return self.base.monotone

    def at(self, S):
        return self.scale * self.base.at(S) + self.offset

    def span(self, lo, hi):
        if not np.any(self.scale):
            return self.offset, self.offset
        low, high = self.base.span(lo, hi)
        return _line(self.offset, self.scale, low), _line(self.offset, self.scale, high)

    def total(self, lo, hi):
        n = np.clip(hi - lo + 1.0, 0.0, None)
        if not np.any(self.scale):  # a constant: the base is not summed
            return self.offset * n
        return self.scale * self.base.total(lo, hi) + self.offset * n


@dataclass(frozen=True)
class AtLeast:
    """max(base(S), floor) for a constant floor: floor up to the first S where base reaches it."""

    base: object
    floor: np.ndarray | float

    @property
    def monotone(self) -> bool:
        return self.base.monotone

    def at(self, S):
        return np.maximum(self.base.at(S), self.floor)

    def span(self, lo, hi):
        low, high = self.base.span(lo, hi)
        return np.maximum(low, self.floor), np.maximum(high, self.floor)

    def crossing(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """The first integer S in [lo, hi] with base(S) >= floor (hi + 1 when there is none): each round
        evaluates the base at k = ``probes`` steps spread over the bracket [left, right) (left + floor(j x
        width / (k + 1)), j = 1..k; k = 1: bisection) and keeps the part between the last step below the
        floor and the first at or above it, about log_{k+1}(range) rounds."""
        left, right = np.array(lo, dtype=np.float64), np.array(hi, dtype=np.float64) + 1.0
        floor = np.broadcast_to(self.floor, left.shape)
        k = _probes(self.base)
        fractions = (np.arange(1.0, k + 1.0) / (k + 1.0)).reshape((k,) + (1,) * left.ndim)
        while (left < right).any():
            probe = left + np.floor(fractions * (right - left))               # [k, n]
            at = np.minimum(probe, np.maximum(hi, lo))
            reached = (self.base.at(at[0])[None] if k == 1 else self.base.at(at)) >= floor
            active = left < right
            right = np.where(active, np.minimum(right, np.where(reached, probe, np.inf).min(0)), right)
            left = np.where(active, np.maximum(left, np.where(reached, -np.inf, probe + 1.0).max(0)), left)
            left = np.minimum(left, right)  # a base that is not monotone between the probes: stop there
        return left

    def split(self, lo, hi) -> np.ndarray:
        """The first S in [lo, hi] from which base(S) >= floor (lo: every step, hi + 1: none), read off the
        span where it decides every scenario, else by bisection (a monotone base only)."""
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        low, high = self.base.span(lo, hi)
        above, below = (low >= self.floor) | (hi < lo), high <= self.floor
        if (above | below).all():
            return np.where(above, lo, hi + 1.0)
        if not self.base.monotone:
            raise UndecidedMaximum("a maximum over decode steps that do not grow monotonically changes within "
                                   "the generation, which has no exact sum")
        return self.crossing(lo, hi)

    def total(self, lo, hi):
        return _two_pieces(lo, hi, self.split(lo, hi), Affine(self.base, 0.0, self.floor), self.base)


def _probes(series) -> int:
    """Steps a search for a crossing evaluates per round on ``series``: the ``probes`` of the series or of
    the one it wraps (``base``), else 1 (bisection)."""
    while not hasattr(series, "probes") and hasattr(series, "base"):
        series = series.base
    return getattr(series, "probes", 1)


def _two_pieces(lo, hi, split, before, after) -> np.ndarray:
    """sum over S = lo..split-1 of the series ``before`` + over S = split..hi of ``after``; where every
    scenario's split is at lo or past hi, each is summed over the whole range at most once."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    starts, ends = split <= lo, split > hi
    if starts.all():
        return after.total(lo, hi)
    if ends.all():
        return before.total(lo, hi)
    if (starts | ends).all():
        return np.where(starts, after.total(lo, hi), before.total(lo, hi))
    return before.total(lo, split - 1.0) + after.total(split, hi)


@dataclass(frozen=True)
class Larger:
    """max(a_1 + b_1 x(S), a_2 + b_2 x(S)) of one series x = ``base`` (lines (a, b), b >= 0, per scenario
    or scalar): the flatter line up to the first S where the steeper reaches it (their difference grows
    with x), the steeper from there."""

    base: object
    first: tuple
    second: tuple

    @property
    def monotone(self) -> bool:
        return self.base.monotone

    def at(self, S):
        x = self.base.at(S)
        return np.maximum(_line(*self.first, x), _line(*self.second, x))

    def span(self, lo, hi):
        low, high = self.base.span(lo, hi)
        return (np.maximum(_line(*self.first, low), _line(*self.second, low)),
                np.maximum(_line(*self.first, high), _line(*self.second, high)))

    def total(self, lo, hi):
        (a1, b1), (a2, b2) = self.first, self.second
        second_steeper = np.asarray(b2) >= np.asarray(b1)
        flat = Affine(self.base, np.where(second_steeper, b1, b2), np.where(second_steeper, a1, a2))
        steep = Affine(self.base, np.where(second_steeper, b2, b1), np.where(second_steeper, a2, a1))
        gap = Affine(self.base, steep.scale - flat.scale, steep.offset - flat.offset)
        return _two_pieces(lo, hi, AtLeast(gap, 0.0).split(lo, hi), flat, steep)


GRID = 17  # steps at which Curves checks that a series grows (the range's ends and 15 between)


@dataclass(frozen=True)
class Curves:
    """A series of calibrated curves (s): ``step(S)`` its value at step S ([n], or [K, n] for K steps of
    every scenario) and ``summed(lo, hi)`` its sum over S = lo..hi ([n]), both from efficiency/steps.py
    (the per-step curves and their quadrature); ``low`` a lower bound of every step (the rows that do
    not change with S). Bounded by ``low`` only (span: [low, inf); one step: the step's sum), so a
    maximum over it is decided without evaluating a curve where that suffices, else split where a search
    on ``step`` finds the crossing (``probes`` steps per round; ``monotone`` only). ``first`` / ``last``:
    the generation's steps, whose sum is kept."""

    first: np.ndarray
    last: np.ndarray
    step: Callable[[np.ndarray], np.ndarray]
    summed: Callable[[np.ndarray, np.ndarray], np.ndarray]
    low: np.ndarray
    chunked: bool = False

    probes = GRID - 2  # steps per round of the search for a crossing (a grid's inner steps)

    @cached_property
    def whole(self) -> np.ndarray:
        """The sum over the generation's steps first..last."""
        return self.summed(self.first, self.last)

    @cached_property
    def monotone(self) -> bool:
        """Whether the steps grow with S: no chunked attention (whose keys restart at every chunk) and, at
        GRID steps spread over first..last, no step below the one before (1e-9 relative: round-off). Each
        kernel curve grows with the keys by construction (docs/calibration.md); this checks the sum."""
        if self.chunked:
            return False
        first, last = np.broadcast_arrays(np.asarray(self.first, dtype=np.float64),
                                          np.asarray(self.last, dtype=np.float64))
        fractions = np.linspace(0.0, 1.0, GRID)[:, None]
        grid = np.round(first + fractions * np.maximum(last - first, 0.0))
        values = self.step(grid)
        return bool((values[1:] >= values[:-1] * (1.0 - 1e-9)).all())

    def at(self, S):
        return self.step(S)

    def span(self, lo, hi):
        one = np.broadcast_to(self.last - self.first == 0, np.shape(self.low))
        if not one.any():
            return self.low, np.full(np.shape(self.low), np.inf)
        return np.where(one, self.whole, self.low), np.where(one, self.whole, np.inf)

    def total(self, lo, hi):
        n = np.shape(self.low)
        if (np.broadcast_to(lo, n) == self.first).all() and (np.broadcast_to(hi, n) == self.last).all():
            return self.whole
        return self.summed(np.broadcast_to(np.asarray(lo, dtype=np.float64), n),
                           np.broadcast_to(np.asarray(hi, dtype=np.float64), n))
