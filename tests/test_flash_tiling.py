"""FlashAttention as it tiles (techniques/flash.py): block sizes, K/V re-reads per query block, tile
FLOPs, Flash-Decoding's splits and combine, FP8 operands, and paged reads, by hand and by loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llm_roofline import analyze
from llm_roofline.errors import ScenarioError
from llm_roofline.hardware.spec import Hardware
from llm_roofline.techniques.flash import block_sums, tiled_sums

from conftest import llama, op

A100ISH = Hardware(name="a100ish", memory_bandwidth_bytes_per_s=2e12, memory_capacity_bytes=80e9,
                   peak_flops_per_s={"fp16": 312e12, "int8": 624e12}, sram_per_sm_bytes=192 * 1024, sm_count=108)
H100ISH = Hardware(name="h100ish", memory_bandwidth_bytes_per_s=3.35e12, memory_capacity_bytes=80e9,
                   peak_flops_per_s={"fp16": 989e12, "fp8": 1979e12}, sram_per_sm_bytes=256 * 1024, sm_count=132)


def _loop(T, S, Br, window=math.inf):
    """The block sums by brute force: block by block, the keys from the first one its first query sees
    (position p sees keys p - W + 1 .. p) to its last query; its tile is rows x those keys."""
    keys = pairs = 0
    for start in range(0, T, Br):
        first, last = S - T + start + 1, S - T + min(start + Br, T)  # 1-based positions of its queries
        lowest = 1 if math.isinf(window) else max(1, first - window + 1)
        keys += last - lowest + 1
        pairs += (last - first + 1) * (last - lowest + 1)
    return keys, pairs


@pytest.mark.parametrize("T,S,Br,window", [(1, 1, 128, math.inf), (512, 512, 128, math.inf),
                                           (1000, 1000, 128, math.inf), (300, 1300, 64, math.inf),
                                           (5000, 5000, 128, 4096), (700, 9000, 128, 4096), (129, 200, 128, 100)])
def test_block_sums_match_a_loop_over_query_blocks(T, S, Br, window):
    keys, pairs = block_sums(np.array([T], float), np.array([S], float), float(Br), window)
    assert (keys[0], pairs[0]) == _loop(T, S, Br, window)


@pytest.mark.parametrize("T,S,C", [(5000, 5000, 1024), (1000, 9000, 8192), (100, 8200, 8192), (8192, 8192, 8192)])
def test_chunked_layers_tile_each_chunk_apart(T, S, C):
    # Blocks that straddle a chunk boundary read each chunk's keys from that chunk's start (vLLM's local
    # attention runs each chunk as a sequence of its own; Br divides C here, as in every real model).
    keys, pairs = tiled_sums(np.array([T], float), np.array([S], float), 128.0, np.inf, np.array([float(C)]))
    start = S - T
    expect_keys = expect_pairs = 0
    for c in range(start // C, (S - 1) // C + 1):  # each chunk's queries as their own prefill
        lo, hi = max(start, c * C), min(S, (c + 1) * C)
        k, p = _loop(hi - lo, hi - c * C, 128)
        expect_keys, expect_pairs = expect_keys + k, expect_pairs + p
    assert (keys[0], pairs[0]) == (expect_keys, expect_pairs)


def test_fa2_prefill_rereads_kv_once_per_query_block_by_hand():
    # Llama-2-7B, one sequence of 2048 tokens, A100-like (192 KiB of shared memory per SM): M = 98,304
    # fp16 elements, d = 128: Bc = ceil(M / 4d) = 192, Br = min(Bc, d) = 128; n = 16 query blocks, block i
    # reads the 128 * i keys up to its last query: sum = 128 * 16 * 17 / 2 = 17,408 keys per query head.
    # K and V per key per head: 2 * 128 * 2 bytes. Q read once, O written once.
    T, N, H = 2048, 32, 128
    r = analyze(llama(), A100ISH, batch_size=1, prompt_len=T, gen_len=0, attention="fa2")
    core = op(r.prefill, "fused_attention")
    key_reads = 128 * 16 * 17 // 2
    assert core.kv_read_bytes == N * key_reads * 2 * H * 2
    assert core.act_read_bytes == T * N * H * 2 and core.act_write_bytes == T * N * H * 2
    # tiles: every block computes Br x its keys (the diagonal tile whole): 128 * 17,408 pairs per head
    assert core.flops == N * 128 * key_reads * (4 * H + 5)
    ideal = op(analyze(llama(), A100ISH, batch_size=1, prompt_len=T, gen_len=0, attention="ideal").prefill,
               "fused_attention")
    assert ideal.kv_read_bytes == 32 * T * 2 * H * 2  # K and V once per KV head
    assert ideal.flops == N * (T * (T + 1) // 2) * (4 * H + 5)  # the exact causal pairs


def test_the_tile_size_follows_the_device_and_the_head_size():
    from llm_roofline.techniques.flash import AttentionPlan

    plan = AttentionPlan(tiled=True, sram_bytes=192 * 1024, sm_count=108)
    assert plan.query_block(128, np.array([2.0]))[0] == 128  # Bc = 192 > d: Br = d
    assert plan.query_block(256, np.array([2.0]))[0] == 96  # Bc = ceil(98,304 / 1,024) = 96 < d
    assert AttentionPlan(tiled=True, sram_bytes=64 * 1024).query_block(128, np.array([2.0]))[0] == 64


def test_flash_decoding_splits_and_combine_by_hand():
    # Decode, batch 2, Llama-2-7B (K = 32 KV heads) on 108 SMs: B*K = 64 < 0.8 * 108, so splits =
    # ceil(108 / 64) = 2; each split writes N * (d + 2) fp32 values per sequence; the combine reads them
    # and writes O (fp16), with 2d + 4 FLOPs per partial.
    B, N, H, S = 2, 32, 128, 1000
    r = analyze(llama(), A100ISH, batch_size=B, prompt_len=S, gen_len=0, attention="fa2")
    core, combine = op(r.decode, "fused_attention"), op(r.decode, "fused_attention.combine")
    partial = B * N * 2 * (H + 2) * 4
    assert core.act_write_bytes == partial
    assert core.kv_read_bytes == B * S * 32 * 2 * H * 2  # K and V once per KV head (query heads packed)
    assert combine.act_read_bytes == partial and combine.act_write_bytes == B * N * H * 2
    assert combine.flops == B * N * 2 * (2 * H + 4)
    # A batch that fills the device needs no split: the kernel writes O itself and the combine is empty.
    big = analyze(llama(), A100ISH, batch_size=4, prompt_len=S, gen_len=0, attention="fa2")
    assert op(big.decode, "fused_attention").act_write_bytes == 4 * N * H * 2
    assert op(big.decode, "fused_attention.combine").bytes == 0


def test_generation_sum_stays_exact_with_tiled_kernels():
    kw = dict(batch_size=3, prompt_len=200, attention="fa2", kv_allocation="paged", kv_block_size=16)
    whole = analyze(llama(L=2, window=64), A100ISH, gen_len=40, **kw)
    steps = sum(analyze(llama(L=2, window=64), A100ISH, gen_len=0, kv_len=200 + j, **kw).decode.total.time_s
                for j in range(1, 41))
    assert whole.generation.e2e_s - whole.generation.ttft_s == pytest.approx(steps, rel=1e-12)


def test_fp8_attention_runs_at_the_fp8_peak_and_reads_q_in_one_byte():
    T, N, H = 4096, 32, 128
    plain = analyze(llama(), H100ISH, batch_size=1, prompt_len=T, gen_len=0, attention="ideal")
    fp8 = analyze(llama(), H100ISH, batch_size=1, prompt_len=T, gen_len=0, attention="ideal", attention_fp8=True)
    a, b = op(plain.prefill, "fused_attention"), op(fp8.prefill, "fused_attention")
    assert a.peak_flops_per_s == 989e12 and b.peak_flops_per_s == 1979e12
    assert a.act_read_bytes - b.act_read_bytes == T * N * H * (2 - 1)
    with pytest.raises(ScenarioError, match="fused attention kernel"):
        analyze(llama(), H100ISH, attention_fp8=True)


def test_fa2_needs_the_devices_onchip_memory():
    bare = Hardware(name="bare", memory_bandwidth_bytes_per_s=1e12, memory_capacity_bytes=8e10,
                    peak_flops_per_s={"fp16": 1e14})
    with pytest.raises(ScenarioError, match="sram_per_sm"):
        analyze(llama(), bare, attention="fa2")
    with pytest.raises(ScenarioError, match="contradicts"):
        analyze(llama(), bare, attention="naive", flash_attention=True)


def test_paged_reads_add_half_a_block_per_sequence_and_the_block_table():
    # Decode at KV length 1000, batch 4, blocks of 16: each sequence and KV head reads (16 - 1)/2 = 7.5
    # extra tokens of K and of V, and (1000 + 7.5) / 16 int32 block-table entries.
    B, S, K, H = 4, 1000, 32, 128
    exact = op(analyze(llama(), A100ISH, batch_size=B, prompt_len=S, gen_len=0, flash_attention=True).decode,
               "fused_attention")
    paged = op(analyze(llama(), A100ISH, batch_size=B, prompt_len=S, gen_len=0, flash_attention=True,
                       kv_allocation="paged").decode, "fused_attention")
    assert paged.kv_read_bytes - exact.kv_read_bytes == pytest.approx(B * 7.5 * K * 2 * H * 2 + B * 1007.5 / 16 * 4)
