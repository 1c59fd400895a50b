"""Reading the engine at probe points: one-scenario tables at chosen batch sizes and lengths, and the
linear fit of a prefill operator's FLOPs and bytes in the chunk features (see step_cost.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..attention import causal_pairs, keys_touched
from ..graph import build_ops
from ..ops import OpTable
from ..scenario import Scenario, tiled

WEIGHT_PROBES = np.array([1.0, 2.0, 3.0, 17.0, 1000.0, 100_000.0])


def probe_scenario(settings: Scenario, batch: np.ndarray) -> Scenario:
    """``settings`` (formats and options of one scenario) repeated for each batch size in ``batch``;
    batch sizes may be any non-negative reals (the cost model evaluates mean batches)."""
    batch = np.asarray(batch, dtype=np.float64)
    return replace(tiled(settings, batch.size), batch_size=batch)


def decode_table(model, settings, batch, kv_len, apply_window=True) -> OpTable:
    n = np.broadcast_shapes(np.shape(batch), np.shape(kv_len))[0]
    return build_ops(model, probe_scenario(settings, np.broadcast_to(batch, (n,))), "decode", T=np.ones(n),
                     S=np.broadcast_to(np.asarray(kv_len, dtype=np.float64), (n,)), apply_window=apply_window)


def prefill_table(model, settings, batch, T, S) -> OpTable:
    return build_ops(model, probe_scenario(settings, batch), "prefill", T=np.asarray(T, dtype=np.float64),
                     S=np.asarray(S, dtype=np.float64))


def prefill_probes(spans: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B, T, S) probe points, T <= S: short and long chunks, at the start of a prompt and deep into it,
    inside and beyond every sliding window or attention chunk (``spans``)."""
    points = [(1, 1, 1), (1, 2, 2), (1, 5, 9), (2, 3, 3), (3, 1, 4), (1, 64, 64), (2, 40, 100), (1, 17, 300),
              (4, 128, 128), (1, 1000, 1000), (2, 512, 4096), (1, 3000, 3000), (1, 100, 20000)]
    for w in spans:
        if np.isfinite(w):
            w = int(w)
            points += [(1, w, w), (1, 3, w + 7), (1, w // 2 + 1, 2 * w + 1), (2, 2 * w + 3, 2 * w + 3), (1, 1, 3 * w),
                       (1, w - 1, 2 * w - 3)]
    B, T, S = (np.array(v, dtype=np.float64) for v in zip(*points, strict=True))
    return B, T, S


def fit_prefill(table: OpTable, B, T, S) -> np.ndarray:
    """Per operator and quantity (FLOPs, non-weight bytes): coefficients of (tokens, chunks, keys, T*keys,
    pairs), solved from the probes and checked to reproduce every one. Returns [n_ops, 2, 5]."""
    out = np.zeros((len(table.names), 2, 5))
    quantities = (table.flops, table.bytes - table.weight_bytes)
    for i, (window, chunk) in enumerate(zip(table.kv_window, table.kv_chunk, strict=True)):
        keys = keys_touched(T, S, window, chunk)
        basis = np.stack([B * T, B, B * keys, B * T * keys, B * causal_pairs(T, S, window, chunk)], axis=1)
        scale = np.abs(basis).max(axis=0)
        for q, values in enumerate(quantities):
            row = values[i]
            coef = np.linalg.lstsq(basis / scale, row, rcond=None)[0] / scale
            coef[np.abs(coef * scale) < 1e-12 * max(np.abs(row).max(), 1.0)] = 0.0
            if not np.allclose(basis @ coef, row, rtol=1e-9, atol=1e-9 * np.abs(row).max()):
                raise RuntimeError(f"step cost: prefill operator {table.names[i]!r} is not linear in "
                                   "(tokens, chunks, keys, tokens x keys, pairs)")
            out[i, q] = coef
    return out
