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


def chunked_step_sum(first: np.ndarray, last: np.ndarray, chunk: np.ndarray, c0, c1, m0, m1) -> np.ndarray:
    """sum over S in [first, last] of max(c(x), m(x)) with x = ((S - 1) mod C) + 1, C finite:
    H(last) - H(first - 1), where H(n) = sum over S = 1..n = q * sum_{x=1}^{C} + sum_{x=1}^{r},
    n = q*C + r."""
    chunk = np.asarray(chunk, dtype=np.float64)

    def upto(n):
        q, r = np.floor(n / chunk), np.mod(n, chunk)
        return q * sum_max_affine(1.0, chunk, c0, c1, m0, m1) + sum_max_affine(1.0, r, c0, c1, m0, m1)

    last = np.maximum(last, first - 1.0)  # an empty range sums to 0
    return upto(last) - upto(first - 1.0)


def windowed_step_sum(first: np.ndarray, last: np.ndarray, window: np.ndarray, c0, c1, m0, m1,
                      chunk: np.ndarray | float = np.inf) -> np.ndarray:
    """sum over S in [first, last] of max(c(x), m(x)) with x = min(S, W), W per operator (inf = none),
    or, where ``chunk`` C is finite, x = ((S - 1) mod C) + 1 (see chunked_step_sum).

    Steps with S <= W see x = S; steps beyond the window all see x = W.
    """
    chunk = np.asarray(chunk, dtype=np.float64)
    if np.isfinite(chunk).any():
        chunked = np.isfinite(chunk) & np.ones(np.broadcast_shapes(chunk.shape, np.shape(c0)), dtype=bool)
        plain = windowed_step_sum(first, last, window, c0, c1, m0, m1)
        safe = np.where(np.isfinite(chunk), chunk, 1.0)
        return np.where(chunked, chunked_step_sum(first, last, safe, c0, c1, m0, m1), plain)
    window = np.asarray(window, dtype=np.float64)
    inside_hi = np.minimum(last, window)
    inside = sum_max_affine(first, inside_hi, c0, c1, m0, m1)
    beyond_n = np.clip(last - np.maximum(first, window + 1.0) + 1.0, 0.0, None)
    w = np.where(np.isfinite(window), window, 0.0)
    at_window = np.maximum(c0 + c1 * w, m0 + m1 * w)
    return inside + np.where(beyond_n > 0, beyond_n * at_window, 0.0)
