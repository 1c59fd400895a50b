"""The attention core: scores, softmax and the weighted sum, naive or fused (FlashAttention).

For T new queries per sequence attending to a KV length S (the T new tokens included):
- a naive kernel computes and stores the full T x S' score matrix, S' = min(S, W + T - 1)
  keys (W the sliding window, else S' = S): qk 2*B*N*T*S'*d_qk FLOPs, softmax 5 per score,
  sv 2*B*N*T*S'*d_v, and the scores are written and read back at activation precision;
- FlashAttention computes only the causal (and in-window) pairs, never writes scores, and reads
  Q, K, V once and writes O once (ideal tiling: the compulsory traffic).
"""

from __future__ import annotations

import numpy as np

from .ops import SOFTMAX_FLOPS, OpTableBuilder, Sizes


def keys_touched(T: np.ndarray, S: np.ndarray, window: float) -> np.ndarray:
    """Distinct keys some query of the T new ones attends to: min(S, W + T - 1)."""
    return np.minimum(S, window + T - 1.0)


def causal_pairs(T: np.ndarray, S: np.ndarray, window: float) -> np.ndarray:
    """Query-key pairs under a causal (and sliding-window) mask: query i of T sits at position
    p = S - T + i and sees min(p, W) keys, so pairs = sum_{p=S-T+1}^{S} min(p, W).
    Without a window: T*S - T*(T-1)/2."""
    first, last = S - T + 1.0, S
    upto = np.minimum(last, window)
    n_low = np.clip(upto - first + 1.0, 0.0, None)
    low = n_low * (first + upto) / 2.0
    n_high = np.clip(last - np.maximum(first, window + 1.0) + 1.0, 0.0, None)
    high = np.where(n_high > 0, n_high * np.minimum(window, last), 0.0)
    return low + high


def attention_core(ops: OpTableBuilder, sz: Sizes, count: int, *, heads: int, kv_heads: int,
                   qk_dim: int, v_dim: int, window: float, flash: bool, kv_from_cache: bool = True,
                   shared_kv: bool = False, suffix: str = "", apply_window: bool | np.ndarray = True,
                   q_src: tuple[str, ...] = (), k_src: tuple[str, ...] = (), v_src: tuple[str, ...] = (),
                   kernel: str = "attention") -> str:
    """Add the attention-core operators. ``kv_from_cache``: K/V are read from the KV cache (at KV
    precision) rather than from fresh activations. ``shared_kv``: V is the first v_dim columns
    of K (MLA's latent), so a fused kernel reads it once. ``apply_window=False`` (for all scenarios,
    or per scenario as a boolean array) records the window on the operators but lets every key be
    seen (for the generation sum's coefficients).
    ``q_src``, ``k_src``, ``v_src``: the operators producing Q, K and V. ``kernel``: the kernel family
    a fused kernel belongs to (``attention``, or ``mla`` for latent attention), recorded in the
    operators' shapes with B, T, S, heads and the window in effect. Returns the output operator."""
    B, T, S = sz.B, sz.T, sz.S
    kv_window, window = window, np.where(apply_window, window, np.inf)
    kv_bytes = sz.kb if kv_from_cache else sz.ab
    keys = keys_touched(T, S, window)
    q_read = B * T * heads * qk_dim * sz.ab
    k_read = B * keys * kv_heads * qk_dim * kv_bytes
    v_read = B * keys * kv_heads * v_dim * kv_bytes
    out_write = B * T * heads * v_dim * sz.ab
    kv_key = "kv_read" if kv_from_cache else "act_read"
    # Q x K^T runs at the precision of its operands: the KV cache's, or the activations' when K and V
    # are fresh activations (MLA prefill).
    role = "attention" if kv_from_cache else "elementwise"
    if flash:
        shape = {"kernel": kernel, "B": B, "T": T, "S": S, "heads": heads, "kv_heads": kv_heads,
                 "qk_dim": qk_dim, "v_dim": v_dim, "window": window}
        pairs = causal_pairs(T, S, window)
        kv_traffic = k_read if shared_kv else k_read + v_read
        reads = {"act_read": q_read, kv_key: kv_traffic} if kv_from_cache else {"act_read": q_read + kv_traffic}
        return ops.add(f"fused_attention{suffix}", "attention", count, compute=role, shape=shape,
                       kv_window=kv_window, inputs=_unique(q_src + k_src + v_src),
                       flops=B * heads * pairs * (2.0 * qk_dim + 2.0 * v_dim + SOFTMAX_FLOPS),
                       act_write=out_write, **reads)
    scores = B * heads * T * keys * sz.ab
    qk_reads = {"act_read": q_read, kv_key: k_read} if kv_from_cache else {"act_read": q_read + k_read}
    # The naive kernels are batched matmuls over B * heads: [T, d] x [d, keys] and [T, keys] x [keys, d_v].
    ops.add(f"qk_matmul{suffix}", "attention", count, compute=role, kv_window=kv_window,
            shape={"kernel": "bmm", "batch": B * heads, "m": T, "n": keys, "k": qk_dim},
            inputs=_unique(q_src + k_src), flops=2.0 * B * heads * T * keys * qk_dim, act_write=scores,
            **qk_reads)
    softmax = ops.add(f"softmax{suffix}", "attention", count, kv_window=kv_window,
                      flops=SOFTMAX_FLOPS * B * heads * T * keys, act_read=scores, act_write=scores)
    sv_reads = {"act_read": scores, kv_key: v_read} if kv_from_cache else {"act_read": scores + v_read}
    return ops.add(f"sv_matmul{suffix}", "attention", count, compute=role, kv_window=kv_window,
                   shape={"kernel": "bmm", "batch": B * heads, "m": T, "n": v_dim, "k": keys},
                   inputs=_unique((softmax,) + v_src), flops=2.0 * B * heads * T * keys * v_dim,
                   act_write=out_write, **sv_reads)


def _unique(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
