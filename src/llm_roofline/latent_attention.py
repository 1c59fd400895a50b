"""Multi-head latent attention (MLA, DeepSeek-V2/V3): its operators, also the base of DeepSeek Sparse
Attention (sparse_attention.py), which attends only the tokens its indexer selects."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .attention import attention_core
from .models.spec import LatentAttention, ModelSpec
from .ops import linear, norm, rope


def latent_attention(ops, sz, model: ModelSpec, mla: LatentAttention, count, stage, flash, src: str, *,
                     window: float = np.inf, apply_window=True,
                     selector: Callable[[str], str] | None = None) -> str:
    """MLA. Prefill decompresses K and V for the new tokens (kv_b_proj) and runs N-head attention
    on activations (as HF does). Decode uses the absorbed form: q_nope is mapped into the latent
    space (q_absorb, W_UK), attention runs over the cached latent as one shared KV head, and the
    result is mapped back per head (out_absorb, W_UV): the weights of kv_b_proj, read once.
    Model size is read off the prefill table, where kv_b_proj owns these parameters.

    ``window``: most keys one query attends (DSA: index_topk; inf: every cached token).
    ``selector``: called with the query latent's operator (q_a_layernorm) before the attention core;
    returns the operator whose output (the selected token indices) the core also reads."""
    D, N = model.hidden_size, mla.num_heads
    r_q, r_kv, d_nope, d_rope, d_v = (mla.q_lora_rank, mla.kv_lora_rank, mla.qk_nope_head_dim,
                                      mla.qk_rope_head_dim, mla.v_head_dim)
    if r_q:
        q = linear(ops, sz, "q_a_proj", count, D, r_q, mla.bias, inputs=(src,))
        q_latent_norm = q = norm(ops, sz, "q_a_layernorm", count, r_q, "rmsnorm", False, inputs=(q,))
        q = linear(ops, sz, "q_b_proj", count, r_q, N * (d_nope + d_rope), False, inputs=(q,))
    else:
        q_latent_norm = src
        q = linear(ops, sz, "q_proj", count, D, N * (d_nope + d_rope), False, inputs=(src,))
    kv = linear(ops, sz, "kv_a_proj_with_mqa", count, D, r_kv + d_rope, mla.bias, kv_out=r_kv + d_rope,
                inputs=(src,))
    latent = norm(ops, sz, "kv_a_layernorm", count, r_kv, "rmsnorm", False, inputs=(kv,))
    rotated = rope(ops, sz, count, (N + 1) * d_rope, inputs=(q, kv))
    selected = (selector(q_latent_norm),) if selector is not None else ()
    if stage == "prefill":
        kv_full = linear(ops, sz, "kv_b_proj", count, r_kv, N * (d_nope + d_v), False, inputs=(latent,))
        out = attention_core(ops, sz, count, heads=N, kv_heads=N, qk_dim=d_nope + d_rope, v_dim=d_v,
                             window=window, flash=flash, kv_from_cache=False, apply_window=apply_window,
                             q_src=(q, rotated, *selected), k_src=(kv_full, rotated), v_src=(kv_full,))
    else:
        w_uk, w_uv = N * d_nope * r_kv, N * r_kv * d_v
        wb, role = sz.weight_of("kv_b_proj")  # the absorbed matrices are kv_b_proj's weights
        q_latent = ops.add("q_absorb", "matmul", count, compute=role, flops=2.0 * sz.M * w_uk,
                           weight_bytes=w_uk * wb, act_read=sz.M * N * d_nope * sz.ab,
                           act_write=sz.M * N * r_kv * sz.ab, inputs=(q,))
        core = attention_core(ops, sz, count, heads=N, kv_heads=1, qk_dim=r_kv + d_rope, v_dim=r_kv,
                              window=window, flash=flash, shared_kv=True, apply_window=apply_window,
                              q_src=(q_latent, rotated, *selected), k_src=(latent, rotated), v_src=(latent,))
        out = ops.add("out_absorb", "matmul", count, compute=role, flops=2.0 * sz.M * w_uv,
                      weight_bytes=w_uv * wb, act_read=sz.M * N * r_kv * sz.ab,
                      act_write=sz.M * N * d_v * sz.ab, inputs=(core,))
    return linear(ops, sz, "o_proj", count, N * d_v, D, False, inputs=(out,))
