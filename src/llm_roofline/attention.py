"""The attention core: scores, softmax and the weighted sum, naive or fused (FlashAttention).

For T new queries per sequence attending to a KV length S (the T new tokens included):
- a naive kernel computes and stores the full T x S' score matrix, S' the distinct keys the T
  queries see (:func:`keys_touched`): qk 2*B*N*T*S'*d_qk FLOPs, softmax 5 per score,
  sv 2*B*N*T*S'*d_v, and the scores are written and read back at activation precision;
- FlashAttention computes only the causal (and in-window / in-chunk) pairs, never writes scores,
  and reads Q, K, V once and writes O once (ideal tiling: the compulsory traffic).

Which keys a query at position p (1-based) sees: all p (global); the last min(p, W) (a sliding
window W: transformers' ``sliding_window_overlay`` keeps kv > q - W); or the keys of its own
chunk of C tokens up to itself, ((p - 1) mod C) + 1 of them (Llama 4's chunked attention:
transformers' ``chunked_overlay`` keeps kv // C == q // C, 0-based).
Attention sinks (gpt-oss) add one learned logit per head to every softmax row: N parameters and
one more softmax element per (query, head).
"""

from __future__ import annotations

import numpy as np

from .ops import SOFTMAX_FLOPS, OpTableBuilder, Sizes


def _chunk_start(position: np.ndarray, chunk: np.ndarray) -> np.ndarray:
    """First 0-based position of the chunk holding 0-based ``position`` (0 without chunks)."""
    finite = np.isfinite(chunk)
    safe = np.where(finite, chunk, 1.0)
    return np.where(finite, np.floor(position / safe) * safe, 0.0)


def _sawtooth_sum(n: np.ndarray, chunk: np.ndarray) -> np.ndarray:
    """sum_{p=1}^{n} (((p - 1) mod C) + 1): q full chunks of C(C+1)/2 and r(r+1)/2, n = q*C + r;
    n(n+1)/2 without chunks (C = inf)."""
    n = np.asarray(n, dtype=np.float64)
    finite = np.isfinite(chunk)
    safe = np.where(finite, chunk, 1.0)
    q, r = np.floor(n / safe), np.mod(n, safe)
    return np.where(finite, q * safe * (safe + 1.0) / 2.0 + r * (r + 1.0) / 2.0, n * (n + 1.0) / 2.0)


def keys_touched(T: np.ndarray, S: np.ndarray, window: float, chunk: float = np.inf) -> np.ndarray:
    """Distinct keys some query of the T new ones (positions S-T+1 .. S) attends to: min(S, W + T - 1)
    with a sliding window; with chunks, those from the start of the first query's chunk to S."""
    return np.minimum(S, window + T - 1.0) - _chunk_start(S - T, np.asarray(chunk, dtype=np.float64))


def causal_pairs(T: np.ndarray, S: np.ndarray, window: float, chunk: float = np.inf) -> np.ndarray:
    """Query-key pairs under a causal (and sliding-window or chunked) mask: query i of T sits at
    position p = S - T + i and sees min(p, W) keys, so pairs = sum_{p=S-T+1}^{S} min(p, W).
    Without a window: T*S - T*(T-1)/2. With chunks of C: sum_{p=S-T+1}^{S} (((p-1) mod C) + 1)."""
    chunk = np.asarray(chunk, dtype=np.float64)
    first, last = S - T + 1.0, S
    upto = np.minimum(last, window)
    n_low = np.clip(upto - first + 1.0, 0.0, None)
    low = n_low * (first + upto) / 2.0
    n_high = np.clip(last - np.maximum(first, window + 1.0) + 1.0, 0.0, None)
    high = np.where(n_high > 0, n_high * np.minimum(window, last), 0.0)
    chunked = _sawtooth_sum(S, chunk) - _sawtooth_sum(S - T, chunk)
    return np.where(np.isfinite(chunk), chunked, low + high)


def decode_keys(S: np.ndarray, window: np.ndarray, chunk: np.ndarray) -> np.ndarray:
    """Keys the one query of a decode step at KV length S sees: min(S, W), or ((S-1) mod C) + 1."""
    return keys_touched(np.ones_like(np.asarray(S, dtype=np.float64)), S, window, chunk)


def most_decode_keys(first: np.ndarray, last: np.ndarray, window: np.ndarray, chunk: np.ndarray) -> np.ndarray:
    """The most keys any decode step S in [first, last] sees: at S = last, except that with chunks a
    step at a chunk's last position (C keys) may come earlier."""
    chunk = np.asarray(chunk, dtype=np.float64)
    at_last = decode_keys(last, window, chunk)
    crosses = _chunk_start(first - 1.0, chunk) < _chunk_start(last - 1.0, chunk)
    return np.where(np.isfinite(chunk) & crosses, chunk, at_last)


def attention_core(ops: OpTableBuilder, sz: Sizes, count: int, *, heads: int, kv_heads: int,
                   qk_dim: int, v_dim: int, window: float, flash: bool, kv_from_cache: bool = True,
                   shared_kv: bool = False, suffix: str = "", apply_window: bool | np.ndarray = True,
                   chunk: float = np.inf, sinks: bool = False, key_fraction: float = 1.0, name: str = "",
                   q_src: tuple[str, ...] = (), k_src: tuple[str, ...] = (), v_src: tuple[str, ...] = (),
                   kernel: str = "attention") -> str:
    """Add the attention-core operators. ``kv_from_cache``: K/V are read from the KV cache (at KV
    precision) rather than from fresh activations. ``shared_kv``: V is the first v_dim columns
    of K (MLA's latent), so a fused kernel reads it once. ``window`` W / ``chunk`` C: the sliding
    window or the attention chunk (inf: none). ``apply_window=False`` (for all scenarios, or per
    scenario as a boolean array) records the window and chunk on the operators but lets every key be
    seen (for the generation sum's coefficients). ``sinks``: one learned logit per head joins each
    softmax row (its N parameters are read once; the row is one element longer).
    ``key_fraction``: keys per token of the sequence (DeepSeek-V4's compressed entries: one per m tokens,
    counted as S/m on average, not floor(S/m)); ``window`` then caps the tokens, so each query sees
    min(position, window) * key_fraction keys. ``name``: the fused operator's name (default
    fused_attention), whose naive kernel's operators are then name.qk_matmul, name.softmax, name.sv_matmul.
    ``q_src``, ``k_src``, ``v_src``: the operators producing Q, K and V. ``kernel``: the kernel family
    a fused kernel belongs to (``attention``, or ``mla`` for latent attention), recorded in the
    operators' shapes with B, T, S, heads and the window, chunk and key fraction in effect (the naive
    kernel's matmuls are ``bmm`` shapes). Returns the output operator."""
    B, T, S = sz.B, sz.T, sz.S
    kv_window, window = window, np.where(apply_window, window, np.inf)
    kv_chunk, chunk = chunk, np.where(apply_window, chunk, np.inf)
    kv_bytes = sz.kb if kv_from_cache else sz.ab
    keys = keys_touched(T, S, window, chunk) * key_fraction
    plan = sz.attention  # techniques/flash.py: tiled kernels, FP8 operands, paged reads (None: all off)
    # Sinks: N parameters (activation precision), and one more exp / sum term per (query, head).
    sink = dict(params=heads, weight_bytes=heads * sz.ab, param_bytes=heads * sz.ab) if sinks else {}
    sink_flops = SOFTMAX_FLOPS * B * heads * T if sinks else 0.0
    local = dict(kv_window=kv_window, kv_chunk=kv_chunk)
    q_read = B * T * heads * qk_dim * sz.ab
    k_read = B * keys * kv_heads * qk_dim * kv_bytes
    v_read = B * keys * kv_heads * v_dim * kv_bytes
    if plan is not None and not plan.tiled:  # FP8 operands and paged reads of the ideal or naive kernel
        qb, pad = plan.activation_bytes(sz.ab), plan.pad_keys(kv_from_cache)
        kv_bytes = kv_bytes if kv_from_cache else plan.activation_bytes(kv_bytes)
        q_read = B * T * heads * qk_dim * qb
        k_read = B * (keys + pad) * kv_heads * qk_dim * kv_bytes + plan.block_table_bytes(B, keys, kv_from_cache)
        v_read = B * (keys + pad) * kv_heads * v_dim * kv_bytes
    out_write = B * T * heads * v_dim * sz.ab
    kv_key = "kv_read" if kv_from_cache else "act_read"
    # Q x K^T runs at the precision of its operands: the KV cache's, or the activations' when K and V
    # are fresh activations (MLA prefill).
    role = "attention" if kv_from_cache else "elementwise"
    fused, prefix = (name, name + ".") if name else ("fused_attention", "")
    if plan is not None:
        role = plan.role(role)
    if flash and plan is not None and plan.tiled:
        from .techniques.flash import tiled_core

        return tiled_core(plan, ops, sz, count, heads=heads, kv_heads=kv_heads, qk_dim=qk_dim, v_dim=v_dim,
                          window=window, chunk=chunk, key_fraction=key_fraction, shared_kv=shared_kv,
                          kv_from_cache=kv_from_cache, kv_bytes=kv_bytes, role=role, sinks=sinks, sink=sink,
                          sink_flops=sink_flops, local=local, fused=fused, suffix=suffix, q_src=q_src,
                          k_src=k_src, v_src=v_src)
    if flash:
        shape = {"kernel": kernel, "B": B, "T": T, "S": S, "heads": heads, "kv_heads": kv_heads,
                 "qk_dim": qk_dim, "v_dim": v_dim, "window": window, "chunk": chunk, "key_fraction": key_fraction}
        pairs = causal_pairs(T, S, window, chunk) * key_fraction
        kv_traffic = k_read if shared_kv else k_read + v_read
        reads = {"act_read": q_read, kv_key: kv_traffic} if kv_from_cache else {"act_read": q_read + kv_traffic}
        if sinks:
            reads["weight_bytes"] = sink.pop("weight_bytes")
        return ops.add(f"{fused}{suffix}", "attention", count, compute=role, shape=shape,
                       inputs=_unique(q_src + k_src + v_src), **local, **sink,
                       flops=B * heads * pairs * (2.0 * qk_dim + 2.0 * v_dim + SOFTMAX_FLOPS) + sink_flops,
                       act_write=out_write, **reads)
    scores = B * heads * T * keys * sz.ab
    qk_reads = {"act_read": q_read, kv_key: k_read} if kv_from_cache else {"act_read": q_read + k_read}
    # The naive kernels are batched matmuls over B * heads: [T, d] x [d, keys] and [T, keys] x [keys, d_v].
    ops.add(f"{prefix}qk_matmul{suffix}", "attention", count, compute=role, **local,
            shape={"kernel": "bmm", "batch": B * heads, "m": T, "n": keys, "k": qk_dim},
            inputs=_unique(q_src + k_src), flops=2.0 * B * heads * T * keys * qk_dim, act_write=scores,
            **qk_reads)
    softmax = ops.add(f"{prefix}softmax{suffix}", "attention", count, **local, **sink,
                      flops=SOFTMAX_FLOPS * B * heads * T * keys + sink_flops, act_read=scores, act_write=scores)
    sv_reads = {"act_read": scores, kv_key: v_read} if kv_from_cache else {"act_read": scores + v_read}
    return ops.add(f"{prefix}sv_matmul{suffix}", "attention", count, compute=role, **local,
                   shape={"kernel": "bmm", "batch": B * heads, "m": T, "n": v_dim, "k": keys},
                   inputs=_unique((softmax,) + v_src), flops=2.0 * B * heads * T * keys * v_dim,
                   act_write=out_write, **sv_reads)


def _unique(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
