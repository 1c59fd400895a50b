"""The closed-form whole-generation sum against the naive reference: every decode step analysed
separately at its own KV length (P+1 .. P+G) and summed."""

from __future__ import annotations

import numpy as np
import pytest

from llm_roofline import analyze, analyze_many
from llm_roofline.attention import causal_pairs, keys_touched
from llm_roofline.generation import sum_max_affine, windowed_step_sum
from llm_roofline.hardware.spec import Efficiency

from conftest import SAWTOOTH_MODELS, VARIED_MODELS

ALL_MODELS = {**VARIED_MODELS, **SAWTOOTH_MODELS}


def step_by_step_decode_time(model, hardware, *, prompt_len, gen_len, efficiency="ideal", **kw) -> float:
    """Reference: one decode-step analysis per generated token, at KV length P + j."""
    steps = analyze_many(model, hardware, prompt_len=prompt_len, kv_len=prompt_len + np.arange(1, gen_len + 1),
                         efficiency=efficiency, **kw)
    return float(steps.decode_total.time_s.sum())


@pytest.mark.parametrize("kind", sorted(ALL_MODELS))
@pytest.mark.parametrize("flash", [False, True])
@pytest.mark.parametrize("batch", [1, 16])
def test_closed_form_equals_the_step_by_step_sum(kind, flash, batch, a6000):
    model = ALL_MODELS[kind]()
    for prompt_len, gen_len in ((5, 100), (60, 7), (1, 1)):  # windows of 32/64 and chunks of 16 are crossed
        r = analyze(model, a6000, batch_size=batch, prompt_len=prompt_len, gen_len=gen_len,
                    flash_attention=flash)
        reference = step_by_step_decode_time(model, a6000, batch_size=batch, prompt_len=prompt_len,
                                             gen_len=gen_len, flash_attention=flash)
        assert r.generation.e2e_s - r.generation.ttft_s == pytest.approx(reference, rel=1e-10)
        assert r.generation.tpot_s == pytest.approx(reference / gen_len, rel=1e-10)
        assert r.generation.throughput_tokens_per_s == pytest.approx(batch * gen_len / r.generation.e2e_s)


def test_closed_form_with_efficiency_and_launch_overhead(llama2_7b, a6000):
    eff = Efficiency(compute_fraction=0.7, bandwidth_fraction=0.8, kernel_overhead_s=5e-6)
    r = analyze(llama2_7b, a6000, batch_size=64, prompt_len=300, gen_len=500, efficiency=eff)
    reference = step_by_step_decode_time(llama2_7b, a6000, batch_size=64, prompt_len=300, gen_len=500,
                                         efficiency=eff)
    assert r.generation.e2e_s - r.generation.ttft_s == pytest.approx(reference, rel=1e-10)


def test_crossover_inside_the_generation(llama2_7b, a6000):
    # At batch 256 a naive attention step moves from compute-bound to memory-bound as S grows;
    # whatever the crossover, the exact sum must match the reference.
    r = analyze(llama2_7b, a6000, batch_size=256, prompt_len=10, gen_len=3000)
    reference = step_by_step_decode_time(llama2_7b, a6000, batch_size=256, prompt_len=10, gen_len=3000)
    assert r.generation.e2e_s - r.generation.ttft_s == pytest.approx(reference, rel=1e-10)


def test_no_generation_gives_no_tpot(llama2_7b, a6000):
    r = analyze(llama2_7b, a6000, prompt_len=128, gen_len=0)
    assert r.generation.tpot_s is None and r.generation.throughput_tokens_per_s is None
    assert r.generation.e2e_s == r.generation.ttft_s == r.prefill.total.time_s


def test_sum_max_affine_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(500):
        lo = int(rng.integers(0, 40))
        hi = lo + int(rng.integers(-3, 50))
        c0, c1, m0, m1 = rng.normal(size=4) * [5, 1, 5, 1]
        xs = np.arange(lo, hi + 1)
        expected = np.maximum(c0 + c1 * xs, m0 + m1 * xs).sum()
        assert sum_max_affine(lo, hi, c0, c1, m0, m1) == pytest.approx(expected, abs=1e-9)
        window = float(rng.choice([np.inf, rng.integers(1, 60)]))
        x = np.minimum(xs, window)
        expected = np.maximum(c0 + c1 * x, m0 + m1 * x).sum()
        assert windowed_step_sum(lo, hi, window, c0, c1, m0, m1) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("window", [np.inf, 1, 5, 17, 100])
def test_causal_pairs_by_counting(window):
    for T, S in ((1, 1), (1, 9), (7, 7), (7, 30), (30, 30), (64, 100)):
        q_pos = np.arange(S - T + 1, S + 1)  # 1-based positions of the new queries
        expected = np.minimum(q_pos, window).sum()
        assert causal_pairs(np.array([T]), np.array([S]), window)[0] == expected
        touched = len({k for p in q_pos for k in range(max(1, p - int(min(window, 1e9)) + 1), p + 1)})
        assert keys_touched(np.array([T]), np.array([S]), window)[0] == min(S, touched if window != np.inf else S)


@pytest.mark.parametrize("kind", ["sliding", "gemma2", "mla", "moe", "gpt_oss", "llama4"])
def test_per_operator_generation_sums(kind, a6000):
    """Per-operator sums over the decode steps add up to the totals and match a step-by-step sum."""
    from llm_roofline.report import summed_over_steps

    model = ALL_MODELS[kind]()
    P, G = 20, 90
    a = analyze_many(model, a6000, batch_size=3, prompt_len=P, gen_len=G)
    counts = a.decode.table.counts
    assert (a.generation.decode_s_per_op[:, 0] * counts).sum() == pytest.approx(a.generation.decode_s[0], rel=1e-12)
    steps = analyze_many(model, a6000, batch_size=3, prompt_len=P, kv_len=P + np.arange(1, G + 1))
    at0, at1 = a.decode_at0.table, a.decode_at1.table
    for field in ("flops", "bytes", "kv_read_bytes"):
        sums = summed_over_steps(getattr(at0, field), getattr(at1, field), at0.kv_window, a.scenario.prompt_len,
                                 a.scenario.gen_len, at0.kv_chunk)
        reference = getattr(steps.decode.table, field).sum(axis=1)
        assert sums[:, 0] == pytest.approx(reference, rel=1e-12)
    assert a.generation.decode_s_per_op[:, 0] == pytest.approx(steps.decode.time_s.sum(axis=1), rel=1e-12)
