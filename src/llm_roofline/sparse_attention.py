"""DeepSeek Sparse Attention (DSA: DeepSeek-V3.2, GLM-5): a lightning indexer scores every cached token
for every query and keeps the top k; MLA then attends only those k tokens.

Indexer (transformers ``DeepseekV32Indexer``, https://github.com/huggingface/transformers/blob/v5.23.0/
src/transformers/models/deepseek_v32/modular_deepseek_v32.py; "DeepSeek-V3.2-Exp: Boosting Long-Context
Efficiency with DeepSeek Sparse Attention", https://github.com/deepseek-ai/DeepSeek-V3.2-Exp, eq. 1):

- projections: ``wq_b`` q_lora_rank -> Hi*di (from the MLA query latent), ``wk`` D -> di (its output,
  after ``k_norm`` and RoPE, is cached: di elements per token), ``weights_proj`` D -> Hi;
- ``indexer.scores``: score[t, s] = sum_h w[t, h] * relu(q[t, h] . k[s]) over the S cached keys,
  Hi*(2*di + 4) FLOPs per (query, key) pair (q.k, the scale, relu, the weighted sum over heads);
  a naive kernel scores all T x S pairs (HF's eager code, masked afterwards), a fused one
  (``flash_attention``) the causal pairs only; every cached index key is read once; the scores are
  float32 (HF and DeepSeek's ``fp8_index`` kernel both return fp32 logits), 4 bytes each;
- ``indexer.topk``: reads the scores (1 comparison each, nominal) and writes the selection as a
  fixed [T, k] int32 buffer per sequence (-1 padded, as FlashMLA's sparse kernels take it).

The main attention is MLA whose queries each attend min(position, k) keys: the attention core with a
key cap of k (``window`` = index_topk, applied to the keys, not to the cache, which keeps every token).
In decode every operator's cost stays affine in the keys it sees (the indexer in S, the core in
min(S, k)), so the whole-generation sum stays exact (generation.py). Not counted: the core's read of
the selected indices (4 bytes per selected key, < 1 % of the latent it gathers).
"""

from __future__ import annotations

from .attention import causal_pairs
from .latent_attention import latent_attention
from .models.spec import ModelSpec, SparseLatentAttention
from .ops import linear, norm, rope

INDEX_SCORE_BYTES = 4.0  # float32 logits
INDEX_BYTES = 4.0  # int32 token indices
# Per (query, key) pair and indexer head: 2*di for q.k, then the softmax scale, relu, and the
# multiply-add with the head's weight.
INDEXER_FLOPS_PER_HEAD_EXTRA = 4


def indexer_pairs(T, S, flash: bool):
    """(query, key) pairs the indexer scores per sequence: all T x S (naive), or the causal ones."""
    return causal_pairs(T, S, float("inf")) if flash else T * S


def indexer_shape(B, T, pairs, heads: int, head_dim: int) -> dict:
    """The indexer's scoring as a batched matmul (kernel shape for the calibrated setting): for each of
    B x heads, T queries of head_dim against the pairs / (B x T) keys each query scores (an MQA-logits
    kernel, as DeepSeek's fp8_index; its FLOPs are pairs x heads x 2 x head_dim plus the weighting)."""
    return {"kernel": "bmm", "batch": B * heads, "m": T, "n": pairs / (B * T), "k": head_dim}


def sparse_latent_attention(ops, sz, model: ModelSpec, dsa: SparseLatentAttention, count, stage, flash,
                            apply_window, src: str) -> str:
    """DSA: the indexer's operators (when the layer has its own), then MLA over the top-k tokens."""
    D, B, T, S = model.hidden_size, sz.B, sz.T, sz.S
    Hi, di, k = dsa.index_heads, dsa.index_head_dim, dsa.index_topk

    def indexer(q_latent: str) -> str:
        q = linear(ops, sz, "indexer.wq_b", count, dsa.mla.q_lora_rank, Hi * di, False, inputs=(q_latent,))
        key = linear(ops, sz, "indexer.wk", count, D, di, False, kv_out=di, inputs=(src,))
        key = norm(ops, sz, "indexer.k_norm", count, di, "layernorm", True, inputs=(key,))
        rotated = rope(ops, sz, count, (Hi + 1) * dsa.mla.qk_rope_head_dim, inputs=(q, key),
                       name="indexer.rope")
        weights = linear(ops, sz, "indexer.weights_proj", count, D, Hi, False, inputs=(src,))
        pairs = B * indexer_pairs(T, S, flash)
        scores = ops.add("indexer.scores", "attention", count, compute="attention",
                         shape=indexer_shape(B, T, pairs, Hi, di), inputs=(rotated, weights),
                         flops=pairs * Hi * (2.0 * di + INDEXER_FLOPS_PER_HEAD_EXTRA),
                         act_read=sz.M * (Hi * di + Hi) * sz.ab, kv_read=B * S * di * sz.kb,
                         act_write=pairs * INDEX_SCORE_BYTES)
        return ops.add("indexer.topk", "elementwise", count, inputs=(scores,), flops=pairs,
                       act_read=pairs * INDEX_SCORE_BYTES, act_write=sz.M * k * INDEX_BYTES)

    return latent_attention(ops, sz, model, dsa.mla, count, stage, flash, src, window=float(k),
                            apply_window=apply_window, selector=indexer if dsa.indexer else None)
