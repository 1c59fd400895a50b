"""Disaggregated prefill / decode pools, the KV capacity, and the KV transfer between the pools."""

from __future__ import annotations

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.engine import evaluate
from llm_roofline.hardware.spec import IDEAL
from llm_roofline.scenario import Scenario
from llm_roofline.serving.capacity import kv_capacity
from llm_roofline.serving.pool import link_bandwidth, prompt_kv_bytes
from llm_roofline.serving.step_cost import step_cost

from conftest import llama
from sim_checks import middle_half

LINK = 100e9  # bytes/s, one direction


def test_kv_capacity_of_llama2_7b_on_an_a6000(a6000):
    """Llama-2-7B at 16 bits: K and V of 32 layers x 4096 = 524,288 bytes per token, 8 MiB per block of 16.
    Budget = 0.9 x 48 GB - weights (6,738,415,616 params x 2 B) - the largest activation at 8192 batched
    tokens (FlashAttention: the MLP's 8192 x 11008 gate and up outputs read by act_fn, 2 x 180 MB, plus
    its 180 MB output)."""
    cost = step_cost(llama(), a6000, IDEAL, Scenario.build(flash_attention=True))
    kv = kv_capacity(cost, block_size=16, memory_fraction=0.9, max_batch_tokens=8192, max_seqs=256)
    assert kv.page_bytes == 16 * 2 * 32 * 4096 * 2
    assert kv.weights_bytes == 6_738_415_616 * 2
    assert kv.activations_bytes == 3 * 8192 * 11008 * 2
    assert kv.budget_bytes == pytest.approx(0.9 * 48e9 - 6_738_415_616 * 2 - 3 * 8192 * 11008 * 2, rel=1e-12)
    assert kv.capacity_tokens == np.floor(kv.budget_bytes / kv.page_bytes) * 16
    assert kv.request_bytes(1000, 1300) == 63 * kv.page_bytes  # ceil(1000 / 16) blocks, no reserve


def test_windows_and_states_are_reserved_per_request(a6000):
    """A sliding-window layer keeps at most W - 1 past tokens (transformers' sliding cache): reserved at
    admission for the request's final length, rounded up to blocks."""
    from conftest import gemma2_like

    cost = step_cost(gemma2_like(), a6000, IDEAL, Scenario.build(flash_attention=True))
    kv = kv_capacity(cost, block_size=16, memory_fraction=0.9, max_batch_tokens=2048, max_seqs=64)
    per_token = 2 * 2 * 64 * 2  # K and V, 2 heads of 64, 2 bytes: per layer
    assert kv.page_bytes == 16 * 2 * per_token  # the two global layers
    assert kv.reserve_bytes(20) == 2 * per_token * 31  # two sliding layers, W = 32: 31 tokens kept
    assert kv.reserve_bytes(10) == 2 * per_token * 16  # 10 tokens round up to one block


def test_transfer_bytes_are_the_prompts_kv_cache(a6000):
    cost = step_cost(llama(), a6000, IDEAL, Scenario.build(kv_bits=8, group_size=0))
    assert prompt_kv_bytes(cost, 1000) == 1000 * 2 * 32 * 4096 * 1


def test_link_defaults_to_half_the_interconnect():
    h100 = lr.load_hardware("h100-sxm")
    assert link_bandwidth(h100) == h100.interconnect_bandwidth_bytes_per_s / 2
    assert link_bandwidth(h100, 50e9) == 50e9


def test_one_request_alone_is_prefill_transfer_and_decode(a6000):
    P, G = 800, 64
    engine = evaluate(llama(), a6000, Scenario.build(prompt_len=P, gen_len=G - 1, flash_attention=True), IDEAL)
    transfer = P * 2 * 32 * 4096 * 2 / LINK
    report = lr.simulate(llama(), a6000, concurrency=1, requests=3, isl=P, osl=G, disagg=True,
                         link_bandwidth_bytes_per_s=LINK)
    r = report.simulation.per_request
    np.testing.assert_allclose(r["ttft_s"], engine.generation.ttft_s[0] + transfer, rtol=1e-12)
    np.testing.assert_allclose(r["tpot_s"], engine.generation.tpot_s[0], rtol=1e-9)
    steady = report.steady
    assert steady["ttft_s"] == pytest.approx(engine.generation.ttft_s[0] + transfer, rel=1e-9)
    assert steady["tpot_s"] == pytest.approx(engine.generation.tpot_s[0], rel=1e-9)
    assert steady["requests_per_s"] == pytest.approx(report.simulation.requests_per_s, rel=1e-6)
    assert report.simulation.kv_transfer_s.mean == pytest.approx(transfer, rel=1e-12)


@pytest.mark.parametrize(("prefill", "decode", "concurrency"), [(1, 1, 16), (1, 2, 48), (2, 1, 24)])
def test_closed_form_is_close_to_the_simulation(prefill, decode, concurrency, a6000):
    kwargs = dict(disagg=True, prefill_workers=prefill, decode_workers=decode, link_bandwidth_bytes_per_s=LINK)
    report = lr.simulate(llama(), a6000, concurrency=concurrency, requests=30 * concurrency, seed=5,
                         isl="uniform:750:1250", osl="uniform:150:250", **kwargs)
    est = lr.estimate_serving(llama(), a6000, concurrency=concurrency, isl=1000, osl=200, **kwargs)
    seen = middle_half(report.simulation.per_request)
    assert est["tpot_s"][0] == pytest.approx(seen["tpot"], rel=0.05)
    assert est["requests_per_s"][0] == pytest.approx(seen["rate"], rel=0.06)
    assert est["ttft_s"][0] == pytest.approx(seen["ttft"], rel=0.3)


def test_excess_concurrency_waits_before_the_prefill(a6000):
    """With decode workers capped at 8 running requests, a closed loop of 40: the decode pool holds 8 (plus
    the few in prefill and transfer), the rest wait before their prefill starts; the wait is part of TTFT
    (Little: 20 more requests add 20 / throughput), not of TPOT."""
    kwargs = dict(disagg=True, max_seqs=8, link_bandwidth_bytes_per_s=LINK)
    est = lr.estimate_serving(llama(), a6000, concurrency=[40, 60], isl=500, osl=100, **kwargs)
    assert 31 < est["queued"][0] < 32 and est["limited_by"] == ["decode", "decode"]
    assert est["tpot_s"][1] == pytest.approx(est["tpot_s"][0], rel=1e-12)
    assert est["requests_per_s"][1] == pytest.approx(est["requests_per_s"][0], rel=1e-12)
    assert est["ttft_s"][1] - est["ttft_s"][0] == pytest.approx(20 / est["requests_per_s"][0], rel=1e-9)
    report = lr.simulate(llama(), a6000, concurrency=40, requests=400, isl=500, osl=100, **kwargs)
    assert report.simulation.tpot_s.mean == pytest.approx(est["tpot_s"][0], rel=0.05)
    assert report.simulation.ttft_s.p50 == pytest.approx(est["ttft_s"][0], rel=0.2)
