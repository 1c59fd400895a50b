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
              (4, 128, 128), (1, 1000, 1000), (2, 512, 4096), (1, 3000, 3000), (1, 100, 20000), (1, 65, 65),
              (2, 257, 300), (1, 130, 200), (1, 700, 900)]  # the last four: partial scan chunks
    for w in spans:
        if np.isfinite(w):
            w = int(w)
            points += [(1, w, w), (1, 3, w + 7), (1, w // 2 + 1, 2 * w + 1), (2, 2 * w + 3, 2 * w + 3), (1, 1, 3 * w),
                       (1, w - 1, 2 * w - 3)]
    B, T, S = (np.array(v, dtype=np.float64) for v in zip(*points, strict=True))
    return B, T, S


def scan_chunk_sizes(model) -> tuple[float, ...]:
    """The chunk lengths Q of the model's chunked prefill scans (gated delta rule: linear_attention.CHUNK;
    Mamba-2's SSD: its chunk_size): their work counts ceil(T / Q) chunks, which no linear function of the
    tokens gives, so each Q is a feature of its own."""
    from ..linear_attention import CHUNK
    from ..models.spec import GatedDeltaNet, Mamba2

    sizes = {float(CHUNK) if isinstance(g.layer.mixer, GatedDeltaNet) else float(g.layer.mixer.chunk_size)
             for g in model.layer_groups if isinstance(g.layer.mixer, GatedDeltaNet | Mamba2)}
    return tuple(sorted(sizes))


def fit_prefill(table: OpTable, B, T, S, scan_chunks: tuple[float, ...] = ()) -> np.ndarray:
    """Per operator and quantity (FLOPs, non-weight bytes): coefficients of (tokens, chunks, keys, T*keys,
    pairs, then ceil(T / Q) per scan chunk length Q), solved from the probes and checked to reproduce every
    one. Returns [n_ops, 2, 5 + len(scan_chunks)]."""
    out = np.zeros((len(table.names), 2, 5 + len(scan_chunks)))
    quantities = (table.flops, table.bytes - table.weight_bytes)
    scans = [B * np.ceil(T / q) for q in scan_chunks]
    for i, (window, chunk) in enumerate(zip(table.kv_window, table.kv_chunk, strict=True)):
        keys = keys_touched(T, S, window, chunk)
        basis = np.stack([B * T, B, B * keys, B * T * keys, B * causal_pairs(T, S, window, chunk), *scans], axis=1)
        scale = np.abs(basis).max(axis=0)
        for q, values in enumerate(quantities):
            row = values[i]
            coef = np.linalg.lstsq(basis / scale, row, rcond=None)[0] / scale
            coef[np.abs(coef * scale) < 1e-12 * max(np.abs(row).max(), 1.0)] = 0.0
            if not np.allclose(basis @ coef, row, rtol=1e-9, atol=1e-9 * np.abs(row).max()):
                raise RuntimeError(f"step cost: prefill operator {table.names[i]!r} is not linear in "
                                   "(tokens, chunks, keys, tokens x keys, pairs, scan chunks)")
            out[i, q] = coef
    return out
