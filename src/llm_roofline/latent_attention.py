"""Multi-head latent attention (MLA, DeepSeek-V2/V3): its operators, also the base of DeepSeek Sparse
Attention (sparse_attention.py), which attends only the tokens its indexer selects."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .attention import attention_core
from .models.spec import LatentAttention, ModelSpec
from .ops import batched_linear, linear, norm, rope


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
    returns the operator whose output (the selected token indices) the core also reads.
    Kernel shapes: the attention core is an ``mla`` kernel (DSA's sparse core too, over its at most
    ``window`` selected keys: no sparse-MLA tables exist, so the dense MLA curve at that key count
    stands in for it); the absorbed projections are batched matmuls."""
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
                             kernel="mla", q_src=(q, rotated, *selected), k_src=(kv_full, rotated), v_src=(kv_full,))
    else:
        q_latent = batched_linear(ops, sz, "q_absorb", count, N, d_nope, r_kv, inputs=(q,),
                                  weights_of="kv_b_proj")
        core = attention_core(ops, sz, count, heads=N, kv_heads=1, qk_dim=r_kv + d_rope, v_dim=r_kv,
                              window=window, flash=flash, shared_kv=True, apply_window=apply_window, kernel="mla",
                              q_src=(q_latent, rotated, *selected), k_src=(latent, rotated), v_src=(latent,))
        out = batched_linear(ops, sz, "out_absorb", count, N, r_kv, d_v, inputs=(core,),
                             weights_of="kv_b_proj")
    return linear(ops, sz, "o_proj", count, N * d_v, D, False, inputs=(out,))
