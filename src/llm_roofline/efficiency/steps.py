"""Whole-generation decode time under calibrated curves: the sum over steps, by quadrature.

Decode step j (j = 1..G) runs at KV length S = P + j; an operator sees x = min(S, W) keys (W its
sliding window). Its FLOPs, bytes and kernel shape are affine in x (the decode tables at KV length
0 and 1 give both coefficients), but its calibrated time t(x) is a smooth curve, not the maximum
of two lines, so the exact closed form of generation.py does not apply. Operators whose cost does
not depend on x take G times their step time; for the others

    sum_{x=lo}^{hi} t(x) ~= integral of t over [lo - 1/2, hi + 1/2]   (midpoint rule, error ~ t''/24 per step)

evaluated with composite Gauss-Legendre (PANELS panels of NODES nodes each), plus (steps beyond the
window) x t(W). A chunked-attention operator (chunk C, Llama 4) sees x = ((S - 1) mod C) + 1 keys:
as in generation.chunked_step_sum, H(n) = floor(n / C) x sum_{x=1}^{C} t(x) + sum_{x=1}^{n mod C} t(x)
and the steps sum to H(last) - H(first - 1): three ranges of x, each by the same quadrature.
Vectorized over operators x scenarios x nodes; no loop over steps. ``decode_step_times`` evaluates
the same curves at single steps instead of nodes (the pipeline's search for the step where its
period's winner changes, parallel/steps.py).
"""

from __future__ import annotations

import numpy as np

from ..scenario import tiled
from .features import interpolate_shape
from .model import op_times

PANELS, NODES = 2, 4  # max error 2e-5 against a step-by-step loop (tests/test_calibrated.py)


_GAUSS = np.polynomial.legendre.leggauss(NODES)


def _nodes(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature points and weights ([Q, ...]) for sum_{x=lo}^{hi} f(x); zero weights when hi < lo."""
    gx, gw = _GAUSS
    a, b = lo - 0.5, hi + 0.5
    width = np.where(hi >= lo, (b - a) / PANELS, 0.0)
    points, weights = [], []
    for p in range(PANELS):
        left = a + p * width
        for x, w in zip(gx, gw, strict=True):
            points.append(left + (x + 1.0) * width / 2.0)
            weights.append(w * width / 2.0)
    return np.stack(points), np.stack(weights)


def kv_constant_rows(at0, at1) -> np.ndarray:
    """Operators whose decode cost does not change with the KV length ([n_ops] bool): neither their compute
    nor their memory time differs between KV length 0 and 1 in any scenario."""
    c1 = at1.compute_time_s - at0.compute_time_s
    m1 = at1.memory_time_s - at0.memory_time_s
    return ~((c1 != 0).any(1) | (m1 != 0).any(1))


def decode_step_sums(at0, at1, scenario, efficiency, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Sum over decode steps S = first..last of each operator's calibrated time ([n_ops, n], s);
    ``at0`` / ``at1``: calibrated decode costs at KV length 0 and 1 with windows ignored."""
    gen_steps = np.maximum(last - first + 1.0, 0.0)
    per_op = at0.time_s * gen_steps
    grows = np.flatnonzero(~kv_constant_rows(at0, at1))
    if grows.size == 0:
        return per_op
    window = at0.table.kv_window[grows, None]
    chunk = at0.table.kv_chunk[grows, None]
    inside_hi = np.minimum(last, window)                         # [g, n]
    points, weights = _nodes(np.broadcast_to(first, inside_hi.shape), inside_hi)   # [Q, g, n]
    beyond = np.clip(last - np.maximum(first, window + 1.0) + 1.0, 0.0, None)
    at_window = np.where(np.isfinite(window), window, 0.0) * np.ones_like(inside_hi)
    x = np.concatenate([points, at_window[None]])                 # [Q + 1, g, n]
    w = np.concatenate([weights, beyond[None]])
    if np.isfinite(chunk).any():
        x, w = _with_chunks(x, w, chunk * np.ones_like(inside_hi), first, last)
    per_op = per_op.copy()
    per_op[grows] = (_times_at_keys(at0, at1, scenario, efficiency, grows, x) * w).sum(0)
    return per_op


def decode_step_times(at0, at1, scenario, efficiency, S: np.ndarray) -> np.ndarray:
    """Each operator's calibrated time in the decode step at KV length S (s): [n_ops, n] for S of shape
    [n], [K, n_ops, n] for S of shape [K, n] (K steps of every scenario). An operator sees x = min(S, W)
    keys (W its window), or ((S - 1) mod C) + 1 (chunked attention, chunk C): the step that
    decode_step_sums integrates, evaluated at one S instead of at quadrature nodes."""
    n = at0.time_s.shape[1]
    S = np.asarray(S, dtype=np.float64)
    steps = np.broadcast_to(S, S.shape[:-1] + (n,)).reshape(-1, n)   # [K, n]
    per_op = np.broadcast_to(at0.time_s, (steps.shape[0], *at0.time_s.shape)).copy()
    grows = np.flatnonzero(~kv_constant_rows(at0, at1))
    if grows.size:
        window = at0.table.kv_window[grows, None]
        chunk = at0.table.kv_chunk[grows, None]
        safe = np.where(np.isfinite(chunk), chunk, 1.0)
        S3 = steps[:, None, :]                                   # [K, 1, n]
        x = np.where(np.isfinite(chunk), np.mod(S3 - 1.0, safe) + 1.0, np.minimum(S3, window))   # [K, g, n]
        per_op[:, grows] = _times_at_keys(at0, at1, scenario, efficiency, grows, x)
    return per_op if S.ndim > 1 else per_op[0]


def _times_at_keys(at0, at1, scenario, efficiency, grows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Calibrated times ([Q, g, n], s) of the operators ``grows`` when each sees x[q, k, j] keys: FLOPs,
    bytes, roofline times and kernel shape affine in x (from KV lengths 0 and 1), then the curves."""
    n = at0.time_s.shape[1]
    c0, c1 = at0.compute_time_s, at1.compute_time_s - at0.compute_time_s
    m0, m1 = at0.memory_time_s, at1.memory_time_s - at0.memory_time_s
    b0, b1 = at0.table.bytes, at1.table.bytes - at0.table.bytes
    q = x.shape[0]
    nodes = np.moveaxis(x, 0, 1)                                   # [g, Q, n], node-major per operator

    def affine(v0, v1):
        return (v0[grows][:, None, :] + v1[grows][:, None, :] * nodes).reshape(grows.size, q * n)

    shapes0, shapes1 = at0.table.shapes, at1.table.shapes
    shapes = [_shape_at(shapes0[i] if shapes0 else None, shapes1[i] if shapes1 else None, nodes[k], n, q)
              for k, i in enumerate(grows)]
    roles = tuple(at0.table.compute[i] for i in grows)
    t = op_times(efficiency, shapes, roles, tiled(scenario, q), affine(c0, c1), affine(m0, m1), affine(b0, b1),
                 at0.bandwidth_bytes_per_s).time_s
    return np.moveaxis(t.reshape(grows.size, q, n), 1, 0)


def _with_chunks(x: np.ndarray, w: np.ndarray, chunk: np.ndarray, first, last) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights ([Q', g, n]) that also cover chunked operators (finite ``chunk`` C): the
    ranges x = 1..C (weight q_last - q_first), 1..r_last (weight 1) and 1..r_first (weight -1) of
    H(last) - H(first - 1), n = q C + r. Operators without chunks keep their nodes (zero weights on
    the new ones); chunked ones get zero weights on the old."""
    chunked = np.isfinite(chunk)
    c = np.where(chunked, chunk, 1.0)
    hi, lo = np.maximum(last, first - 1.0) * np.ones_like(c), (first - 1.0) * np.ones_like(c)
    q_hi, r_hi, q_lo, r_lo = np.floor(hi / c), np.mod(hi, c), np.floor(lo / c), np.mod(lo, c)
    one = np.ones_like(c)
    xs, ws = [np.where(chunked, 0.0, x)], [np.where(chunked, 0.0, w)]
    for top, factor in ((c, q_hi - q_lo), (r_hi, one), (r_lo, -one)):
        p, pw = _nodes(one, np.where(chunked, top, 0.0))
        xs.append(p)
        ws.append(pw * factor)
    return np.concatenate(xs), np.concatenate(ws)


def _shape_at(shape0: dict | None, shape1: dict | None, x: np.ndarray, n: int, q: int) -> dict | None:
    """The kernel shape at the nodes x ([Q, n]) as flat [Q*n] arrays: entries that differ between KV
    length 0 and 1 are affine in x (features.interpolate_shape), the others are repeated."""
    if shape0 is None or shape1 is None:
        return shape0
    out = {}
    for key, v0 in shape0.items():
        v1 = shape1[key]
        if isinstance(v0, str) or np.array_equal(v0, v1):
            out[key] = np.tile(v0, q) if isinstance(v0, np.ndarray) and v0.ndim == 1 and v0.size == n else v0
            continue
        out[key] = interpolate_shape({key: np.asarray(v0)}, {key: np.asarray(v1)}, x)[key].ravel()
    return out
