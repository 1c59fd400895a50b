"""FlashAttention as it really tiles, and the attention kernel's reads of a paged KV cache.

FlashAttention-2 (prefill, T > 1 queries per sequence). The queries of one (sequence, query head) are
cut into blocks of Br rows; each block streams the keys and values it needs through on-chip memory, so
K and V are read once per query block (FA-2's outer loop runs over query blocks: Dao 2023,
https://arxiv.org/abs/2307.08691, Algorithm 1). Block sizes from the on-chip memory M (elements, the
device's shared memory per SM at the activations' width): Bc = ceil(M / 4d), Br = min(Bc, d), d the
head size (FlashAttention, Dao et al. 2022, https://arxiv.org/abs/2205.14135, Algorithm 1, line 1).
A block of queries ending at position e sees the keys a query there sees plus the Br - 1 before it:
keys_i = min(e_i, W + Br - 1) (W the sliding window, inf without). With n = ceil(T / Br) blocks, the
c = S - T keys before the first query, and the last block of L = T - (n-1)*Br rows:

    sum_i keys_i = sum_{i=1}^{n-1} min(c + i*Br, W + Br - 1) + min(S, W + L - 1)

a sum of the smaller of a line and a constant (closed form: the line wins up to
j* = floor((W + Br - 1 - c) / Br)). Causal masking works on whole tiles, so the FLOPs count every
pair of a block's tile: pairs = Br * sum_{i<n} keys_i + L * keys_n, against the exact causal pairs of
the ideal kernel. A chunked-attention layer (Llama 4) runs each chunk as a sequence of its own (vLLM's
local-attention virtual batches), so the sum is taken per chunk. Each query head reads its KV head's
K and V itself (no reuse across the heads of a group, none from L2): K/V traffic = B * N * sum keys_i
* (d_k + d_v) * bytes. Not modelled: the rounding of each block's keys up to whole key blocks Bc.

Flash-Decoding (decode: one query per sequence and head). The KV length is split across thread blocks
so that a small batch still fills the device: the kernel packs the query heads of a KV group into one
tile and reads K and V once per KV head, each split writes a partial output and its softmax max and
sum (d_v + 2 values in fp32), and a second kernel combines them. Splits (FlashAttention's
``num_splits_heuristic``, https://github.com/Dao-AILab/flash-attention, csrc/flash_attn/flash_api.cpp):
1 when B * K thread blocks already fill 80% of the SMs, else ceil(SMs / (B * K)), at most 128. The real
heuristic also caps the splits at the number of key blocks; leaving that cap out keeps every decode
step's cost affine in the KV length (so the whole-generation sum stays exact), at the price of a
little extra partial traffic for very short caches. Combine: per partial 2 * d_v + 4 FLOPs (rescale
and accumulate), reads the partials, writes O.

FlashAttention-3 / FP8 (``attention_fp8``): the score and value matmuls run on FP8 operands at the
device's FP8 peak (fallbacks as for any FP8 work: an A100 runs them at its 16-bit peak); Q (and fresh
K, V) are read at 1 byte, quantized by the kernels that write them; a cached K, V is read as stored.
(Shah et al. 2024, https://arxiv.org/abs/2407.08608.)

Paged KV cache (``kv_allocation paged``): the kernel reads whole blocks of b tokens, so the last,
partly filled block of each sequence is read whole: on average (b - 1)/2 extra tokens per sequence and
KV head (the exact mean over the steps of a generation, whose lengths run through every residue mod
b), plus the block table, 4 bytes per block (vLLM's ``block_tables`` are int32).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..attention import _unique, causal_pairs
from ..errors import ScenarioError
from ..ops import SOFTMAX_FLOPS

SPLIT_FILL = 0.8  # FlashAttention's heuristic: one split when B*K thread blocks fill 80% of the SMs
MAX_SPLITS = 128
PARTIAL_BYTES = 4.0  # fp32 partial outputs and softmax statistics
BLOCK_TABLE_BYTES = 4.0  # one int32 per KV block


@dataclass(frozen=True)
class AttentionPlan:
    """How the attention kernel reads: ``tiled`` (FA-2 prefill / Flash-Decoding), the on-chip memory
    (bytes per SM) and SM count it tiles for, FP8 operands, and the paged block size (0: not paged)."""

    tiled: bool = False
    sram_bytes: float | None = None
    sm_count: int | None = None
    fp8: bool = False
    block_size: int = 0
    stage: str = "prefill"
    device: str = ""

    def pad_keys(self, kv_from_cache: bool) -> float:
        """Extra tokens a paged read takes per sequence: (b - 1) / 2 on average."""
        return (self.block_size - 1) / 2.0 if self.block_size and kv_from_cache else 0.0

    def block_table_bytes(self, B, keys, kv_from_cache: bool):
        """Block-table reads per occurrence: one int32 per block of each sequence."""
        if not (self.block_size and kv_from_cache):
            return 0.0
        return B * (keys + self.pad_keys(True)) / self.block_size * BLOCK_TABLE_BYTES

    def role(self, role: str) -> str:
        return f"{role}:fp8" if self.fp8 else role

    def activation_bytes(self, ab):
        """Bytes per element of Q (and fresh K, V) as the kernel reads them."""
        return np.minimum(ab, 1.0) if self.fp8 else ab

    def query_block(self, head_dim: int, ab) -> np.ndarray:
        """Br = min(ceil(M / 4d), d), M = on-chip memory per SM in elements at the activations' width."""
        if self.sram_bytes is None:
            raise ScenarioError(f"attention fa2: {self.device or 'the device'} has no on-chip memory per SM "
                                "(sram_per_sm) in its spec, which sets the tile size; use attention ideal")
        elements = self.sram_bytes / np.asarray(ab, dtype=np.float64)
        return np.minimum(np.ceil(elements / (4.0 * head_dim)), float(head_dim))

    def splits(self, B, kv_heads: int) -> np.ndarray:
        if self.sm_count is None:
            raise ScenarioError(f"attention fa2: {self.device or 'the device'} has no SM count in its spec, "
                                "which sets Flash-Decoding's splits; use attention ideal")
        blocks = np.asarray(B, dtype=np.float64) * kv_heads
        many = np.minimum(np.ceil(self.sm_count / blocks), MAX_SPLITS)
        return np.where(blocks >= SPLIT_FILL * self.sm_count, 1.0, np.maximum(many, 1.0))


def _line_capped_sum(c, Br, cap, n):
    """sum_{i=1}^{n} min(c + i*Br, cap) for n >= 0 whole blocks (cap may be inf)."""
    with np.errstate(invalid="ignore"):
        j = np.floor(np.where(np.isfinite(cap), (cap - c) / Br, n))
    j = np.clip(j, 0.0, n)
    rest = np.where(np.isfinite(cap), (n - j) * np.where(np.isfinite(cap), cap, 0.0), 0.0)
    return j * c + Br * j * (j + 1.0) / 2.0 + rest


def block_sums(T, S, Br, window) -> tuple[np.ndarray, np.ndarray]:
    """(sum over query blocks of the keys each block reads, pairs the tiles compute) for T queries at
    the end of S keys, blocks of Br rows (see the module doc); no chunks. T = 0 gives (0, 0)."""
    T, S = np.asarray(T, dtype=np.float64), np.asarray(S, dtype=np.float64)
    n = np.ceil(T / Br)
    full = np.maximum(n - 1.0, 0.0)
    last = T - full * Br  # rows of the last block (Br when T is a multiple of Br)
    c = S - T
    cap = np.asarray(window, dtype=np.float64) + Br - 1.0
    head = _line_capped_sum(c, Br, cap, full)
    tail = np.minimum(S, np.asarray(window, dtype=np.float64) + last - 1.0)
    some = T > 0
    return np.where(some, head + tail, 0.0), np.where(some, Br * head + last * tail, 0.0)


def tiled_sums(T, S, Br, window, chunk) -> tuple[np.ndarray, np.ndarray]:
    """block_sums, with a chunked layer's chunks tiled as sequences of their own: the first (partial)
    chunk, the whole chunks in between, and the last chunk."""
    chunk = np.asarray(chunk, dtype=np.float64)
    plain = block_sums(T, S, Br, window)
    if not np.isfinite(chunk).any():
        return plain
    C = np.where(np.isfinite(chunk), chunk, 1.0)
    first_q = S - T  # 0-based position of the first query
    a, z = np.floor(first_q / C), np.floor((S - 1.0) / C)
    end_a = np.minimum(S, (a + 1.0) * C)
    first = block_sums(end_a - first_q, end_a - a * C, Br, np.inf)
    middle = block_sums(C, C, Br, np.inf)
    k = np.maximum(z - a - 1.0, 0.0)
    lastc = block_sums(np.where(z > a, S - z * C, 0.0), np.where(z > a, S - z * C, 0.0), Br, np.inf)
    chunked = tuple(f + k * m + e for f, m, e in zip(first, middle, lastc, strict=True))
    finite = np.isfinite(chunk)
    return tuple(np.where(finite, x, y) for x, y in zip(chunked, plain, strict=True))


def tiled_core(plan: AttentionPlan, ops, sz, count, *, heads, kv_heads, qk_dim, v_dim, window, chunk,
               key_fraction, shared_kv, kv_from_cache, kv_bytes, role, sinks, sink, sink_flops, local, fused,
               suffix, q_src, k_src, v_src) -> str:
    """The FA-2 (prefill) or Flash-Decoding (decode) operators in place of the ideal fused kernel."""
    B, T, S = sz.B, sz.T, sz.S
    qb = plan.activation_bytes(sz.ab)
    k_bytes = kv_bytes if kv_from_cache else qb
    per_key = (qk_dim if shared_kv else qk_dim + v_dim) * k_bytes
    q_read = B * T * heads * qk_dim * qb
    out_write = B * T * heads * v_dim * sz.ab
    flops_per_pair = 2.0 * qk_dim + 2.0 * v_dim + SOFTMAX_FLOPS
    kv_key = "kv_read" if kv_from_cache else "act_read"
    inputs = _unique(q_src + k_src + v_src)
    extra = {} if not sinks else {"weight_bytes": sink.pop("weight_bytes")}
    pad = plan.pad_keys(kv_from_cache)
    if plan.stage == "decode":
        keys = _decode_keys(T, S, window, chunk) * key_fraction
        splits = plan.splits(B, kv_heads)
        partial = B * T * heads * splits * (v_dim + 2.0) * PARTIAL_BYTES
        split_out = np.where(splits > 1, partial, out_write)
        kv_read = B * (keys + pad) * kv_heads * per_key + plan.block_table_bytes(B, keys, kv_from_cache)
        pairs = causal_pairs(T, S, window, chunk) * key_fraction
        reads = {"act_read": q_read, kv_key: kv_read} if kv_from_cache else {"act_read": q_read + kv_read}
        core = ops.add(f"{fused}{suffix}", "attention", count, compute=role, inputs=inputs, **local, **sink,
                       flops=B * heads * pairs * flops_per_pair + sink_flops, act_write=split_out, **reads, **extra)
        combine = B * T * heads * splits * (2.0 * v_dim + 4.0)
        return ops.add(f"{fused}.combine{suffix}", "attention", count, inputs=(core,), **local,
                       flops=np.where(splits > 1, combine, 0.0), act_read=np.where(splits > 1, partial, 0.0),
                       act_write=np.where(splits > 1, out_write, 0.0))
    Br = plan.query_block(max(qk_dim, v_dim), sz.ab)
    key_sum, pairs = tiled_sums(T, S, Br, window, chunk)
    blocks = np.ceil(T / Br)
    kv_read = B * heads * (key_sum * key_fraction + blocks * pad) * per_key
    kv_read = kv_read + heads * blocks * plan.block_table_bytes(B, key_sum * key_fraction / np.maximum(blocks, 1.0),
                                                                 kv_from_cache)
    reads = {"act_read": q_read, kv_key: kv_read} if kv_from_cache else {"act_read": q_read + kv_read}
    return ops.add(f"{fused}{suffix}", "attention", count, compute=role, inputs=inputs, **local, **sink, **extra,
                   flops=B * heads * pairs * key_fraction * flops_per_pair + sink_flops, act_write=out_write, **reads)


def _decode_keys(T, S, window, chunk):
    from ..attention import keys_touched

    return keys_touched(T, S, window, chunk)
