"""DeepSeek-V4 attention: a sliding window of raw tokens plus compressed entries (CSA / HCA), after
transformers' ``DeepseekV4Attention`` and its compressors
(https://github.com/huggingface/transformers/blob/v5.23.0/src/transformers/models/deepseek_v4/modeling_deepseek_v4.py;
the DeepSeek-V4 report, sections 2.3.1-2.3.2). N query heads of H, one shared K = V head of H.

- queries: ``q_a_proj`` D -> q_lora, ``q_a_norm``, ``q_b_proj`` -> N*H, ``q_b_norm`` (an RMSNorm without
  weight over each head, 3 FLOPs per element); keys = values: ``kv_proj`` D -> H (to the window cache),
  ``kv_norm``; ``rope`` on the last ``rope_dim`` channels of the N query heads and the KV head.
- compressor (CSA / HCA layers; its operators end in .csa / .hca): ``compressor.kv_proj`` and
  ``compressor.gate_proj`` D -> c*H (c = 2 for CSA's overlapping windows, 1 for HCA);
  ``compressor.pool``: each source element's gate plus the position bias, a softmax over its window
  and the weighted sum (8 FLOPs per source element and series),
  then per emitted entry kv_norm (4 per element) and RoPE (3 per rotated element); one entry per m
  (``compress_ratio``) tokens, written to the cache (H elements). Parameters: position_bias [m, c*H],
  kv_norm H.
- CSA's lightning indexer, over its own compressed keys (index_head_dim di, c = 2): ``indexer.kv_proj``,
  ``indexer.gate_proj`` D -> 2*di, ``indexer.pool`` (as above, di wide), ``indexer.q_b_proj`` q_lora ->
  Hi*di, ``indexer.rope``, ``indexer.weights_proj`` D -> Hi, ``indexer.scores`` (every query against the
  S/m compressed index keys, Hi*(2*di + 4) FLOPs per pair, fp32 scores) and ``indexer.topk`` (a fixed
  [T, topk] int32 selection), as for DeepSeek Sparse Attention (sparse_attention.py).
- attention: ``fused_attention`` (or the naive qk_matmul / softmax / sv_matmul) over the last
  ``sliding_window`` tokens, and ``csa_attention`` / ``hca_attention`` over the compressed entries: HCA
  all S/m of them, CSA min(S/m, topk); both read the shared K = V once. ``sinks``: the learned sink per
  head joins each softmax and the two partial results are merged (per query and head: 5 FLOPs for the
  sink logit, 3 per output element to rescale both parts and add; 1 in sliding-only layers);
  ``output_rope`` undoes the rotation on the output's rope channels; ``o_a_proj`` (grouped: each of G
  groups of N*H/G channels -> o_lora, 2*N*H*o_lora FLOPs per token) and ``o_b_proj`` G*o_lora -> D.

Approximations (also in the model's notes): compressed entries are counted as S/m per query (HF emits
floor(S/m) complete windows, and a query at position p sees floor((p + 1)/m)); transformers computes
one softmax over the window and the compressed entries together, which we cost as two attention
operators and a merge, so that each stays affine in the keys it sees and the whole-generation sum
stays exact (generation.py); the compressor's pooling is counted for every token as it arrives (HF
buffers m tokens and pools them at once: the same work).
"""

from __future__ import annotations

from .attention import attention_core
from .models.spec import CompressedAttention, ModelSpec
from .ops import NORM_FLOPS, SOFTMAX_FLOPS, linear, norm, rope
from .sparse_attention import (
    INDEX_BYTES,
    INDEX_SCORE_BYTES,
    INDEXER_FLOPS_PER_HEAD_EXTRA,
    indexer_pairs,
    indexer_shape,
)

POOL_FLOPS = 8  # per source element and series: gate + bias, softmax (5), multiply-accumulate (2)
UNWEIGHTED_NORM_FLOPS = NORM_FLOPS["rmsnorm"] - 1  # square, sum, scale
MERGE_FLOPS = 3  # per output element: rescale both partial results and add


def _pool(ops, sz, name: str, count, width: int, series: int, ratio: int, rope_dim: int, inputs) -> str:
    """Softmax-gated pooling of ``series`` x ``width`` channels per token into one entry per ``ratio``
    tokens (kv_norm and RoPE per entry), written to the KV cache."""
    M = sz.M
    entries = M / ratio
    params = ratio * series * width + width  # position_bias, kv_norm
    return ops.add(name, "elementwise", count, inputs=inputs, params=params, weight_bytes=params * sz.ab,
                   param_bytes=params * sz.ab,
                   flops=M * series * width * POOL_FLOPS + entries * (NORM_FLOPS["rmsnorm"] * width + 3 * rope_dim),
                   act_read=2 * M * series * width * sz.ab, kv_write=entries * width * sz.kb)


def compressed_attention(ops, sz, model: ModelSpec, a: CompressedAttention, count, flash, apply_window,
                         src: str) -> str:
    D, N, H, r = model.hidden_size, a.num_heads, a.head_dim, a.rope_dim
    B, T, S, M = sz.B, sz.T, sz.S, sz.M
    q = linear(ops, sz, "q_a_proj", count, D, a.q_lora_rank, False, inputs=(src,))
    q_latent = norm(ops, sz, "q_a_norm", count, a.q_lora_rank, "rmsnorm", False, inputs=(q,))
    q = linear(ops, sz, "q_b_proj", count, a.q_lora_rank, N * H, False, inputs=(q_latent,))
    q = ops.add("q_b_norm", "norm", count, flops=UNWEIGHTED_NORM_FLOPS * M * N * H, act_read=M * N * H * sz.ab,
                act_write=M * N * H * sz.ab, inputs=(q,))
    kv = linear(ops, sz, "kv_proj", count, D, H, False, kv_out=H, inputs=(src,))
    kv = norm(ops, sz, "kv_norm", count, H, "rmsnorm", False, inputs=(kv,))
    rotated = rope(ops, sz, count, (N + 1) * r, inputs=(q, kv))
    core = dict(heads=N, kv_heads=1, qk_dim=H, v_dim=H, flash=flash, shared_kv=True, apply_window=apply_window)
    window_out = attention_core(ops, sz, count, window=float(a.sliding_window), q_src=(rotated,),
                                k_src=(rotated,), **core)
    parts = (window_out,)
    if a.kind != "sliding":
        m, c = a.compress_ratio, a.series
        kv_c = linear(ops, sz, f"compressor.kv_proj.{a.kind}", count, D, c * H, False, inputs=(src,))
        gate_c = linear(ops, sz, f"compressor.gate_proj.{a.kind}", count, D, c * H, False, inputs=(src,))
        entries = _pool(ops, sz, f"compressor.pool.{a.kind}", count, H, c, m, r, inputs=(kv_c, gate_c))
        selected: tuple[str, ...] = ()
        cap = float("inf")
        if a.kind == "csa":
            Hi, di = a.index_heads, a.index_head_dim
            kv_i = linear(ops, sz, "indexer.kv_proj", count, D, 2 * di, False, inputs=(src,))
            gate_i = linear(ops, sz, "indexer.gate_proj", count, D, 2 * di, False, inputs=(src,))
            keys_i = _pool(ops, sz, "indexer.pool", count, di, 2, m, r, inputs=(kv_i, gate_i))
            qi = linear(ops, sz, "indexer.q_b_proj", count, a.q_lora_rank, Hi * di, False, inputs=(q_latent,))
            qi = rope(ops, sz, count, Hi * r, inputs=(qi,), name="indexer.rope")
            weights = linear(ops, sz, "indexer.weights_proj", count, D, Hi, False, inputs=(src,))
            pairs = B * indexer_pairs(T, S, flash) / m
            scores = ops.add("indexer.scores", "attention", count, compute="attention",
                             shape=indexer_shape(B, T, pairs, Hi, di), inputs=(qi, keys_i, weights),
                             flops=pairs * Hi * (2.0 * di + INDEXER_FLOPS_PER_HEAD_EXTRA),
                             act_read=M * (Hi * di + Hi) * sz.ab, kv_read=B * S / m * di * sz.kb,
                             act_write=pairs * INDEX_SCORE_BYTES)
            selected = (ops.add("indexer.topk", "elementwise", count, inputs=(scores,), flops=pairs,
                                act_read=pairs * INDEX_SCORE_BYTES, act_write=M * a.index_topk * INDEX_BYTES),)
            cap = float(m * a.index_topk)  # min(S/m, topk) entries = min(S, m*topk) / m
        compressed_out = attention_core(ops, sz, count, window=cap, key_fraction=1.0 / m, name=f"{a.kind}_attention",
                                        q_src=(rotated, *selected), k_src=(entries,), **core)
        parts = (window_out, compressed_out)
    # The sink logit (5 FLOPs per query and head), then the output rescaled by it (H) or, with two
    # partial results, both rescaled and added (3*H).
    per_element = MERGE_FLOPS if len(parts) > 1 else 1
    sinks = "sinks" if len(parts) == 1 else f"sinks.{a.kind}"
    merged = ops.add(sinks, "elementwise", count, inputs=parts, params=N, weight_bytes=N * sz.ab, param_bytes=N * sz.ab,
                     flops=M * N * (SOFTMAX_FLOPS + per_element * H),
                     act_read=len(parts) * M * N * H * sz.ab, act_write=M * N * H * sz.ab)
    out = rope(ops, sz, count, N * r, inputs=(merged,), name="output_rope")
    G, o_lora = a.o_groups, a.o_lora_rank
    w = N * H * o_lora
    # Grouped projection: a batched matmul over the G groups, each M x (N*H/G) -> o_lora.
    wb, role = sz.weight_of("o_a_proj")
    grouped = ops.add("o_a_proj", "matmul", count, compute=role, inputs=(out,), params=w,
                      shape={"kernel": "bmm", "batch": G, "m": M, "n": o_lora, "k": N * H // G},
                      weight_bytes=w * wb, param_bytes=w * wb, flops=2.0 * M * w,
                      act_read=M * N * H * sz.ab, act_write=M * G * o_lora * sz.ab)
    return linear(ops, sz, "o_b_proj", count, G * o_lora, D, False, inputs=(grouped,))
