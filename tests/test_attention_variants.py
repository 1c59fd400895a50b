"""Chunked attention (Llama 4), attention sinks (gpt-oss) and the sliding-window cache, against
brute-force enumeration of the attention mask and against costs derived by hand."""

from __future__ import annotations

import numpy as np
import pytest

from llm_roofline import analyze, analyze_many
from llm_roofline.attention import causal_pairs, decode_keys, keys_touched, most_decode_keys
from llm_roofline.cache import cached_tokens
from llm_roofline.generation import windowed_step_sum
from llm_roofline.models.spec import Attention

from conftest import gpt_oss_like, llama4_like

H100 = "h100-sxm"


def op(stage, name):
    return next(o for o in stage.ops if o.name == name)


def params_of(model, name: str, **scenario) -> float:
    """Parameters of one occurrence of a prefill operator."""
    table = analyze_many(model, H100, **scenario).prefill.table
    return float(table.params[table.names.index(name)])


def visible(q: int, chunk: int) -> list[int]:
    """Keys (0-based) that query q sees under transformers' chunked mask: k <= q and k // C == q // C."""
    return [k for k in range(q + 1) if k // chunk == q // chunk]


@pytest.mark.parametrize("chunk", [1, 3, 8, 16])
def test_chunked_keys_and_pairs_by_enumeration(chunk):
    for S in range(1, 40):
        for T in range(1, S + 1):
            queries = range(S - T, S)  # 0-based positions of the T new tokens
            pairs = sum(len(visible(q, chunk)) for q in queries)
            keys = len({k for q in queries for k in visible(q, chunk)})
            T_, S_ = np.array([T], float), np.array([S], float)
            assert causal_pairs(T_, S_, np.inf, chunk)[0] == pairs
            assert keys_touched(T_, S_, np.inf, chunk)[0] == min(S, S - (S - T) // chunk * chunk) == keys
        assert decode_keys(np.array([S], float), np.inf, chunk)[0] == len(visible(S - 1, chunk))


def test_most_decode_keys_by_enumeration():
    C = 8
    for first in range(1, 30):
        for last in range(first, 45):
            expected = max(len(visible(S - 1, C)) for S in range(first, last + 1))
            assert most_decode_keys(np.array([first], float), np.array([last], float), np.inf, C)[0] == expected
    # With a sliding window the last step sees the most: min(S, W).
    assert most_decode_keys(np.array([3.0]), np.array([50.0]), 32.0, np.inf)[0] == 32


def test_chunked_step_sum_equals_the_loop():
    rng = np.random.default_rng(7)
    for _ in range(200):
        C = float(rng.integers(1, 20))
        first = float(rng.integers(1, 60))
        last = first + float(rng.integers(-1, 80))
        c0, c1, m0, m1 = rng.normal(size=4)
        xs = (np.arange(first, last + 1) - 1) % C + 1
        expected = np.maximum(c0 + c1 * xs, m0 + m1 * xs).sum() if last >= first else 0.0
        assert windowed_step_sum(first, last, np.inf, c0, c1, m0, m1, chunk=C) == pytest.approx(expected, abs=1e-9)


def test_local_caches_keep_span_minus_one_tokens_as_transformers():
    # transformers' DynamicSlidingWindowLayer keeps full_key_states[:, :, -W + 1:]: W - 1 tokens once
    # full, all of them before; chunked layers get the same cache sized by the chunk.
    tokens = np.arange(0, 20.0)
    assert list(cached_tokens(Attention(4, 2, 8, sliding_window=6), tokens)) == [min(n, 5) for n in range(20)]
    assert list(cached_tokens(Attention(4, 2, 8, attention_chunk=4), tokens)) == [min(n, 3) for n in range(20)]
    assert list(cached_tokens(Attention(4, 2, 8), tokens)) == list(range(20))


def test_llama4_scout_chunked_decode_and_memory_by_hand():
    # Llama 4 Scout: 48 layers; every 4th (3, 7, ..., 47) is a global NoPE layer (12), the other 36
    # use RoPE and chunked attention over chunks of C = 8192. 8 KV heads of 128, bf16.
    B, P, G, C = 2, 20_000, 100, 8192
    r = analyze("llama-4-scout", H100, batch_size=B, prompt_len=P, gen_len=G)
    per_token = 2 * 8 * 128 * 2  # K and V, bytes
    # Cache after P + G tokens: a chunked layer keeps C - 1 past tokens, a global one all of them.
    assert r.memory.kv_cache_bytes == B * (36 * (C - 1) + 12 * (P + G)) * per_token
    # The reported decode step is at KV length P: its query (position P) sees ((P - 1) mod C) + 1 keys
    # of its own chunk: 20,000 = 2*8192 + 3616 -> 3616 keys.
    keys = (P - 1) % C + 1
    assert keys == 3616
    assert op(r.decode, "qk_matmul.chunked").kv_read_bytes == B * keys * 8 * 128 * 2
    assert op(r.decode, "qk_matmul").kv_read_bytes == B * P * 8 * 128 * 2  # the NoPE layers see all
    assert op(r.decode, "qk_matmul.chunked").count == 36 and op(r.decode, "qk_matmul").count == 12


def test_chunked_prefill_with_flash_counts_pairs_chunk_by_chunk():
    # 2.5 chunks of C = 16 (P = 40): pairs = 2 * (1 + ... + 16) + (1 + ... + 8) = 272 + 36 = 308
    # per (sequence, head); each pair costs 2*H (QK) + 2*H (SV) + 5 (softmax) FLOPs.
    model, P, H, N = llama4_like(16), 40, 32, 4
    r = analyze(model, H100, batch_size=1, prompt_len=P, flash_attention=True)
    fused = op(r.prefill, "fused_attention.chunked")
    assert fused.flops == N * 308 * (4 * H + 5)
    # The global NoPE layer: P(P+1)/2 = 820 pairs.
    assert op(r.prefill, "fused_attention").flops == N * 820 * (4 * H + 5)


def test_llama4_nope_layer_has_no_rope_or_qk_norm():
    model = llama4_like(16)
    r = analyze(model, H100, prompt_len=8)
    rope, q_norm = op(r.prefill, "rope"), op(r.prefill, "q_norm")
    assert rope.count == 3 and q_norm.count == 3  # only the three chunked (RoPE) layers
    assert params_of(model, "q_norm") == params_of(model, "k_norm") == 0  # weightless L2Norm
    # Weightless RMSNorm: 3 FLOPs per element (square, sum, scale) over 8 tokens x 4 heads x 32.
    assert q_norm.flops == 3 * 8 * 4 * 32


def test_attention_sinks_parameters_and_softmax_cost():
    # gpt-oss: one learned logit per query head joins every softmax row: N parameters per layer
    # (read once, at activation precision) and one more softmax element per (query, head).
    model, B, P, N = gpt_oss_like(), 3, 20, 4
    r = analyze(model, H100, batch_size=B, prompt_len=P)
    softmax = op(r.prefill, "softmax")  # the global layers: P keys per query in prefill
    assert params_of(model, "softmax", prompt_len=P) == N
    assert softmax.weight_bytes == N * 2
    assert softmax.flops == 5 * B * N * P * (P + 1)
    flash = analyze(model, H100, batch_size=B, prompt_len=P, flash_attention=True)
    fused = op(flash.prefill, "fused_attention")
    assert params_of(model, "fused_attention", flash_attention=True) == N and fused.weight_bytes == N * 2
    assert fused.flops == B * N * (P * (P + 1) // 2) * (4 * 32 + 5) + 5 * B * N * P
    # gpt-oss-20b: 24 layers x 64 heads of sinks.
    table = analyze_many("gpt-oss-20b", H100, prompt_len=4).prefill.table
    sinks = sum(table.params[i] * table.counts[i] for i, name in enumerate(table.names) if name.startswith("softmax"))
    assert sinks == 24 * 64


def test_gpt_oss_20b_parameters_by_hand():
    # D 2880, 64 query heads / 8 KV heads of 64, 32 experts of F 2880 (top 4), V 201088, 24 layers.
    D, N, K, H, F, E, V, L = 2880, 64, 8, 64, 2880, 32, 201088, 24
    attn = (D * N * H + N * H) + 2 * (D * K * H + K * H) + (N * H * D + D) + N  # biases; sinks
    moe = (D * E + E) + E * (D * 2 * F + 2 * F) + E * (F * D + D)  # router + bias; gate_up, down + biases
    layer = attn + moe + 2 * D
    assert layer == 823_186_976
    expected = L * layer + 2 * V * D + D  # untied embeddings, final norm
    r = analyze("openai/gpt-oss-20b", H100, prompt_len=4)
    assert r.model["params_total"] == expected == 20_914_757_184
    # Active: 4 of 32 experts per token.
    active_moe = (D * E + E) + 4 * (D * 2 * F + 2 * F) + 4 * (F * D + D)
    assert r.model["params_active"] == L * (attn + active_moe + 2 * D) + 2 * V * D + D
