"""Paged and contiguous KV-cache memory and prefix caching (techniques/kv_memory.py), by hand."""

from __future__ import annotations

import math

import pytest

from llm_roofline import analyze
from llm_roofline.errors import ScenarioError
from llm_roofline.hardware.spec import Hardware

from conftest import llama, op

DEVICE = Hardware(name="dev", memory_bandwidth_bytes_per_s=2e12, memory_capacity_bytes=80e9,
                  peak_flops_per_s={"fp16": 300e12})
PER_TOKEN = 32 * 2 * 4096 * 2  # Llama-2-7B: layers x (K, V) x K*H x fp16 = 524,288 bytes


def _memory(**kw):
    return analyze(llama(), DEVICE, flash_attention=True, **kw).memory


def test_exact_allocation_is_todays():
    a = _memory(batch_size=8, prompt_len=1000, gen_len=100)
    b = _memory(batch_size=8, prompt_len=1000, gen_len=100, kv_allocation="exact")
    assert a.kv_cache_bytes == b.kv_cache_bytes == 8 * 1100 * PER_TOKEN


def test_paged_blocks_round_each_sequence_up():
    # 1100 tokens in blocks of 16: 69 blocks = 1104 tokens per sequence; blocks of 256: 5 blocks = 1280.
    for block, tokens in ((16, 1104), (256, 1280), (1, 1100)):
        m = _memory(batch_size=8, prompt_len=1000, gen_len=100, kv_allocation="paged", kv_block_size=block)
        assert m.kv_cache_bytes == 8 * tokens * PER_TOKEN


def test_contiguous_reserves_the_maximum_length_and_limits_the_batch():
    # Every sequence reserves 4096 tokens (Llama-2's context length by default, or max_seq_len).
    exact = _memory(batch_size=8, prompt_len=1000, gen_len=100)
    contiguous = _memory(batch_size=8, prompt_len=1000, gen_len=100, kv_allocation="contiguous", max_seq_len=4096)
    assert contiguous.kv_cache_bytes == 8 * 4096 * PER_TOKEN
    weights, act = exact.weights_bytes, exact.activations_bytes
    assert contiguous.max_batch_size == math.floor((80e9 - weights) / (4096 * PER_TOKEN + act / 8))
    assert exact.max_batch_size == math.floor((80e9 - weights) / (1100 * PER_TOKEN + act / 8))
    with pytest.raises(ScenarioError, match="max_seq_len"):
        _memory(batch_size=1, prompt_len=4000, gen_len=200, kv_allocation="contiguous", max_seq_len=4096)


def test_sliding_window_layers_reserve_their_window_only():
    # A window of 1024 keeps W - 1 = 1023 tokens; a contiguous cache reserves that much, not 4096.
    m = analyze(llama(window=1024), DEVICE, batch_size=2, prompt_len=500, gen_len=10, kv_allocation="contiguous",
                max_seq_len=4096).memory
    assert m.kv_cache_bytes == 2 * 1023 * PER_TOKEN


def test_prefix_caching_stores_the_prefix_once_and_skips_its_prefill():
    # 16 sequences share 900 of their 1000 prompt tokens: the cache holds the prefix once and each
    # sequence's own 100 + 100 tokens; prefill runs the 100 new tokens against 1000 keys.
    B, P, Lp, G = 16, 1000, 900, 100
    plain = analyze(llama(), DEVICE, batch_size=B, prompt_len=P, gen_len=G, flash_attention=True)
    shared = analyze(llama(), DEVICE, batch_size=B, prompt_len=P, gen_len=G, flash_attention=True, prefix_len=Lp)
    assert shared.memory.kv_cache_shared_bytes == Lp * PER_TOKEN
    assert shared.memory.kv_cache_bytes == (Lp + B * (P - Lp + G)) * PER_TOKEN
    q = op(shared.prefill, "q_proj")
    assert q.flops == 2 * B * (P - Lp) * 4096 * 4096
    core = op(shared.prefill, "fused_attention")
    # causal pairs of 100 queries at the end of 1000 keys: 100 * 1000 - 100 * 99 / 2
    assert core.flops == B * 32 * (100 * 1000 - 100 * 99 / 2) * (4 * 128 + 5)
    assert core.kv_read_bytes == B * 1000 * 32 * 2 * 128 * 2  # the cached prefix is read, per sequence
    assert shared.prefill.total.tokens_per_s == pytest.approx(B * (P - Lp) / shared.prefill.total.time_s)
    assert shared.generation.ttft_s < plain.generation.ttft_s
    # decode is unchanged: each sequence attends to all its keys
    assert shared.decode.total.time_s == plain.decode.total.time_s


def test_prefix_with_paged_blocks_shares_whole_blocks():
    # A 900-token prefix in blocks of 16: 56 whole blocks (896 tokens) shared; the last 4 tokens of the
    # prefix are copied into each sequence with its own 200: ceil(204 / 16) = 13 blocks each.
    m = _memory(batch_size=16, prompt_len=1000, gen_len=100, prefix_len=900, kv_allocation="paged")
    assert m.kv_cache_shared_bytes == 896 * PER_TOKEN
    assert m.kv_cache_bytes == (896 + 16 * 13 * 16) * PER_TOKEN


def test_prefix_must_leave_a_new_token():
    with pytest.raises(ScenarioError, match="prefix_len"):
        analyze(llama(), DEVICE, prompt_len=100, prefix_len=100)
