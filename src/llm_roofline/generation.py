"""Whole-generation decode time, exactly, in closed form over the growing KV cache.

Decode step j (j = 1..G) runs with KV length S = P + j. At T = 1 every operator's FLOPs and bytes
are affine in the keys it sees, x = min(S, W) (W its sliding window, inf without one) or, for a
chunked-attention layer (chunk C), x = ((S - 1) mod C) + 1, so its time is
g(x) = max(c0 + c1*x, m0 + m1*x) + overhead: the larger of two affine functions.
Summing g over an integer range splits at the crossover where the two lines meet; each piece is
an arithmetic series. Over chunks, x runs 1..C again and again: q whole chunks sum to q times
the sum over x = 1..C, and the partial chunks at either end are sums over x = 1..r.
No per-step loop: NumPy over operators x scenarios.
"""

from __future__ import annotations

import numpy as np


def _series(lo: np.ndarray, hi: np.ndarray, intercept: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """sum_{x=lo}^{hi} (intercept + slope*x); 0 for an empty range (hi < lo)."""
    n = np.clip(hi - lo + 1.0, 0.0, None)
    return np.where(n > 0, n * intercept + slope * n * (lo + hi) / 2.0, 0.0)


def sum_max_affine(lo, hi, c0, c1, m0, m1) -> np.ndarray:
    """sum over integers x in [lo, hi] of max(c0 + c1*x, m0 + m1*x).

    The first line is at least the second for x with (c1 - m1)*x >= m0 - c0: a half-line that
    starts (or ends) at the crossover r = (m0 - c0) / (c1 - m1).
    """
    lo, hi, c0, c1, m0, m1 = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                                   for v in (lo, hi, c0, c1, m0, m1)))
    d_slope = c1 - m1
    d_icpt = m0 - c0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = d_icpt / d_slope
    # c wins on [start_c, hi] when its slope is larger, on [lo, end_c] when smaller.
    rising = d_slope > 0
    falling = d_slope < 0
    flat_c_wins = (d_slope == 0) & (d_icpt <= 0)
    split_up = np.clip(np.ceil(np.where(rising, r, 0.0)), lo, hi + 1.0)    # first x where c wins
    split_down = np.clip(np.floor(np.where(falling, r, 0.0)), lo - 1.0, hi)  # last x where c wins
    c_lo = np.where(rising, split_up, np.where(falling | flat_c_wins, lo, hi + 1.0))
    c_hi = np.where(rising, hi, np.where(falling, split_down, np.where(flat_c_wins, hi, lo - 1.0)))
    total_c = _series(c_lo, c_hi, c0, c1)
    # m wins on the rest of [lo, hi]: all of it when c wins nowhere, else what lies outside [c_lo, c_hi].
    c_empty = c_hi < c_lo
    total_m = np.where(c_empty, _series(lo, hi, m0, m1),
                       _series(lo, c_lo - 1.0, m0, m1) + _series(c_hi + 1.0, hi, m0, m1))
    return total_c + total_m


def sum_max_lines(lo, hi, lines) -> np.ndarray:
    """sum over integers x in [lo, hi] of max_k (a_k + b_k*x) for any number of lines ``lines`` =
    [(a_k, b_k), ...]. Between two consecutive crossings of any two lines the same line is the highest,
    so [lo, hi] is cut at floor(crossing) of every pair and each piece is an arithmetic series of the
    line highest at its middle (the upper envelope is convex: at most len(lines) pieces are non-empty)."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    shape = np.broadcast_shapes(lo.shape, hi.shape, *(np.shape(v) for line in lines for v in line))
    a = np.stack([np.broadcast_to(np.asarray(a_k, dtype=np.float64), shape) for a_k, _ in lines])
    b = np.stack([np.broadcast_to(np.asarray(b_k, dtype=np.float64), shape) for _, b_k in lines])
    lo = np.broadcast_to(lo, shape)
    hi = np.maximum(np.broadcast_to(hi, shape), lo - 1.0)  # an empty range (hi < lo) sums to 0
    cuts = [lo - 1.0, hi]
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(len(lines)):
            for j in range(i + 1, len(lines)):
                r = (a[j] - a[i]) / (b[i] - b[j])
                cuts.append(np.clip(np.where(np.isfinite(r), np.floor(r), lo - 1.0), lo - 1.0, hi))
    edges = np.sort(np.stack(cuts), axis=0)
    total = np.zeros(shape)
    for k in range(edges.shape[0] - 1):
        start, stop = edges[k] + 1.0, edges[k + 1]
        best = np.argmax(a + b * ((start + stop) / 2.0), axis=0)[None]
        total = total + _series(start, stop, np.take_along_axis(a, best, 0)[0], np.take_along_axis(b, best, 0)[0])
    return total


def chunked_step_sum(first: np.ndarray, last: np.ndarray, chunk: np.ndarray, c0, c1, m0, m1) -> np.ndarray:
    """sum over S in [first, last] of max(c(x), m(x)) with x = ((S - 1) mod C) + 1, C finite:
    H(last) - H(first - 1), where H(n) = sum over S = 1..n = q * sum_{x=1}^{C} + sum_{x=1}^{r},
    n = q*C + r."""
    return _chunked(first, last, chunk, lambda lo, hi: sum_max_affine(lo, hi, c0, c1, m0, m1))


def _chunked(first, last, chunk, summed) -> np.ndarray:
    chunk = np.asarray(chunk, dtype=np.float64)

    def upto(n):
        q, r = np.floor(n / chunk), np.mod(n, chunk)
        return q * summed(1.0, chunk) + summed(1.0, r)

    last = np.maximum(last, first - 1.0)  # an empty range sums to 0
    return upto(last) - upto(first - 1.0)


def windowed_step_sum(first: np.ndarray, last: np.ndarray, window: np.ndarray, c0, c1, m0, m1,
                      chunk: np.ndarray | float = np.inf) -> np.ndarray:
    """sum over S in [first, last] of max(c(x), m(x)) with x = min(S, W), W per operator (inf = none),
    or, where ``chunk`` C is finite, x = ((S - 1) mod C) + 1 (see chunked_step_sum).

    Steps with S <= W see x = S; steps beyond the window all see x = W.
    """
    return _windowed(first, last, window, chunk, np.shape(c0),
                     lambda lo, hi: sum_max_affine(lo, hi, c0, c1, m0, m1),
                     lambda w: np.maximum(c0 + c1 * w, m0 + m1 * w))


def windowed_step_sum_lines(first, last, window, lines, chunk: np.ndarray | float = np.inf) -> np.ndarray:
    """windowed_step_sum for a step time that is the largest of any number of affine functions of x,
    ``lines`` = [(a_k, b_k), ...] (offloading adds the host link or the host CPU as resources)."""
    shape = np.broadcast_shapes(*(np.shape(v) for line in lines for v in line))

    def at(w):
        out = None
        for a, b in lines:
            value = a + b * w
            out = value if out is None else np.maximum(out, value)
        return out

    return _windowed(first, last, window, chunk, shape, lambda lo, hi: sum_max_lines(lo, hi, lines), at)


def _windowed(first, last, window, chunk, shape, summed, at) -> np.ndarray:
    chunk = np.asarray(chunk, dtype=np.float64)
    if np.isfinite(chunk).any():
        chunked = np.isfinite(chunk) & np.ones(np.broadcast_shapes(chunk.shape, shape), dtype=bool)
        plain = _windowed(first, last, window, np.inf, shape, summed, at)
        safe = np.where(np.isfinite(chunk), chunk, 1.0)
        return np.where(chunked, _chunked(first, last, safe, summed), plain)
    window = np.asarray(window, dtype=np.float64)
    inside_hi = np.minimum(last, window)
    inside = summed(first, inside_hi)
    beyond_n = np.clip(last - np.maximum(first, window + 1.0) + 1.0, 0.0, None)
    w = np.where(np.isfinite(window), window, 0.0)
    at_window = at(w)
    return inside + np.where(beyond_n > 0, beyond_n * at_window, 0.0)
