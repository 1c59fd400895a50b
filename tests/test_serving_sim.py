"""The discrete-event simulation and the closed-form steady state of aggregated serving.

Oracles: the engine itself (``evaluate``: prefill time and the exact whole-generation decode sum; build_ops
+ roofline for each prefill chunk), Little's law, and the two evaluators against each other."""

from __future__ import annotations

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.engine import evaluate
from llm_roofline.graph import build_ops
from llm_roofline.hardware.spec import IDEAL
from llm_roofline.roofline import roofline
from llm_roofline.scenario import Scenario
from llm_roofline.serving.probes import probe_scenario

from conftest import VARIED_MODELS, llama
from sim_checks import in_system_and_rate_x_latency, middle_half

# Tolerances of the closed form against the simulation at concurrency > 1 (docs/serving.md states them):
# varied lengths (+-25 %), steady window (the middle half of the requests).
TPOT_TOLERANCE, RATE_TOLERANCE, TTFT_TOLERANCE = 0.05, 0.05, 0.25


@pytest.mark.parametrize("name", ["llama", "sliding", "mla", "moe", "hybrid", "gemma2"])
def test_one_request_alone_is_the_engines_prefill_plus_decode_sum(name, a6000):
    model = VARIED_MODELS[name]()
    P, G = 300, 121  # G output tokens: the prefill makes the first, then G - 1 decode steps
    engine = evaluate(model, a6000, Scenario.build(prompt_len=P, gen_len=G - 1, flash_attention=True), IDEAL)
    report = lr.simulate(model, a6000, concurrency=1, requests=3, isl=P, osl=G)
    r = report.simulation.per_request
    np.testing.assert_allclose(r["ttft_s"], engine.generation.ttft_s[0], rtol=1e-12)
    np.testing.assert_allclose(r["e2e_s"], engine.generation.e2e_s[0], rtol=1e-9)
    np.testing.assert_allclose(r["tpot_s"], engine.generation.tpot_s[0], rtol=1e-9)
    assert report.simulation.itl_s.mean == pytest.approx(engine.generation.tpot_s[0], rel=1e-9)
    assert report.simulation.itl_s.p50 == pytest.approx(np.median(_steps(model, a6000, P, G)), rel=1e-3)


def test_decoding_across_a_sliding_window(a6000):
    """A prompt shorter than the window (64) whose decode crosses it: the visible keys grow, then stop."""
    model = VARIED_MODELS["sliding"]()
    for P, G, C in ((20, 100, 1), (40, 60, 3)):
        engine = evaluate(model, a6000, Scenario.build(prompt_len=P, gen_len=G - 1, flash_attention=True), IDEAL)
        report = lr.simulate(model, a6000, concurrency=C, requests=C, isl=P, osl=G)
        if C == 1:
            np.testing.assert_allclose(report.simulation.per_request["e2e_s"], engine.generation.e2e_s[0], rtol=1e-9)
        steady = lr.estimate_serving(model, a6000, concurrency=C, isl=P, osl=G)
        assert steady["tpot_s"][0] == pytest.approx(report.simulation.tpot_s.mean, rel=1e-9 if C == 1 else 0.05)


def _steps(model, device, P, G):
    """Every decode step's time, one engine analysis per step (the slow reference)."""
    S = P + np.arange(1.0, G)
    sc = probe_scenario(Scenario.build(flash_attention=True), np.ones(S.size))
    costs = roofline(build_ops(model, sc, "decode", T=np.ones(S.size), S=S), sc, device, IDEAL)
    return (costs.time_s * costs.table.counts[:, None]).sum(0)


@pytest.mark.parametrize(("chunk", "budget"), [(128, 8192), (None, 300)])
def test_chunked_prefill_alone_takes_the_sum_of_its_chunk_iterations(chunk, budget, a6000):
    """1000 prompt tokens in chunks of 128 (7 x 128 + 104), or cut by a 300-token budget (3 x 300 + 100):
    TTFT = the sum of the chunks' iterations, each priced by build_ops + roofline at its (T, S)."""
    model = llama()
    size = chunk or budget
    T = np.array([size] * (1000 // size) + [1000 % size], dtype=float)
    S = np.cumsum(T)
    sc = probe_scenario(Scenario.build(flash_attention=True), np.ones(T.size))
    costs = roofline(build_ops(model, sc, "prefill", T=T, S=S), sc, a6000, IDEAL)
    expected = float((costs.time_s * costs.table.counts[:, None]).sum())
    report = lr.simulate(model, a6000, concurrency=1, requests=2, isl=1000, osl=2, chunk=chunk, max_batch_tokens=budget,
                         max_seqs=min(256, budget))
    np.testing.assert_allclose(report.simulation.per_request["ttft_s"], expected, rtol=1e-12)
    assert report.steady["ttft_s"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", ["llama", "sliding", "mla"])
def test_closed_form_equals_the_simulation_at_concurrency_one(name, a6000):
    model = VARIED_MODELS[name]()
    report = lr.simulate(model, a6000, concurrency=1, requests=4, isl=700, osl=90, chunk=256)
    sim, steady = report.simulation, report.steady
    assert steady["ttft_s"] == pytest.approx(sim.ttft_s.mean, rel=1e-12)
    assert steady["tpot_s"] == pytest.approx(sim.tpot_s.mean, rel=1e-9)
    assert steady["e2e_s"] == pytest.approx(sim.e2e_s.mean, rel=1e-9)
    assert steady["requests_per_s"] == pytest.approx(sim.requests_per_s, rel=1e-9)


@pytest.mark.parametrize("concurrency", [4, 16, 48])
def test_closed_form_is_close_to_the_simulation_at_higher_concurrency(concurrency, a6000):
    model = llama()
    report = lr.simulate(model, a6000, concurrency=concurrency, requests=30 * concurrency,
                         isl="uniform:750:1250", osl="uniform:150:250", seed=3)
    est = lr.estimate_serving(model, a6000, concurrency=concurrency, isl=1000, osl=200)
    seen = middle_half(report.simulation.per_request)
    assert est["tpot_s"][0] == pytest.approx(seen["tpot"], rel=TPOT_TOLERANCE)
    assert est["requests_per_s"][0] == pytest.approx(seen["rate"], rel=RATE_TOLERANCE)
    assert est["ttft_s"][0] == pytest.approx(seen["ttft"], rel=TTFT_TOLERANCE)


def test_littles_law_holds_in_the_simulation(a6000):
    """Open loop at 0.6 requests/s: the time-average number of requests in the system over the middle of the
    run (integrated from arrivals and departures) equals the offered rate x the mean latency of the requests
    arriving then, within sampling error; and the workers' own count of decoding requests equals
    throughput x mean decode time exactly (two independent books of the same run)."""
    rate = 0.6
    report = lr.simulate(llama(), a6000, rate=rate, requests=3000, isl="uniform:500:1500", osl="uniform:100:300",
                         seed=7)
    r = report.simulation.per_request
    L, _, W = in_system_and_rate_x_latency(r)
    assert L == pytest.approx(rate * W, rel=0.05)
    sim = report.simulation
    decode_time = np.nansum(r["e2e_s"] - r["ttft_s"])
    assert sim.mean_decoding == pytest.approx(decode_time / sim.duration_s, rel=1e-9)


def test_closed_loop_keeps_the_concurrency(a6000):
    report = lr.simulate(llama(), a6000, concurrency=12, requests=600, isl="uniform:200:600", osl="uniform:50:150")
    r = report.simulation.per_request
    arrive, leave = r["arrival_s"], r["arrival_s"] + r["e2e_s"]
    grid = np.linspace(*np.quantile(leave, [0.1, 0.8]), 50_001)
    in_system = np.searchsorted(np.sort(arrive), grid, side="right") - np.searchsorted(np.sort(leave), grid,
                                                                                        side="left")
    assert in_system.min() >= 11 and in_system.max() <= 12 and in_system.mean() > 11.9


def test_a_full_kv_cache_makes_requests_wait_and_preempts(a6000):
    """~6.7 GB of KV budget (0.42 x 48 GB - 13.5 GB of weights - activations) holds ~12,800 tokens: 20
    requests of 1000 + 400 tokens do not fit at once. Every request still finishes."""
    report = lr.simulate(llama(), a6000, concurrency=20, requests=60, isl=1000, osl=400, memory_fraction=0.42)
    sim = report.simulation
    assert 10_000 < sim.kv_capacity_tokens < 15_000
    assert sim.preemptions > 0 and sim.requests_waited_for_kv > 0
    assert np.isfinite(sim.per_request["e2e_s"]).all()
    assert 0.5 < sim.kv_peak_occupancy <= 1.0
    assert report.steady["limited_by"] == "kv_cache"


def test_replicas_share_a_closed_loop(a6000):
    one = lr.simulate(llama(), a6000, concurrency=1, requests=2, isl=500, osl=50)
    two = lr.simulate(llama(), a6000, concurrency=2, requests=4, isl=500, osl=50, workers=2)
    np.testing.assert_allclose(two.simulation.per_request["e2e_s"], one.simulation.per_request["e2e_s"][0],
                               rtol=1e-12)
    assert two.simulation.gpus == 2
    assert two.simulation.requests_per_s == pytest.approx(2 * one.simulation.requests_per_s, rel=1e-9)


def test_ten_thousand_requests_run(a6000):
    """A size check, not a timing: 10,000 Poisson requests complete (benchmarks/bench_serving.py times it)."""
    report = lr.simulate(llama(), a6000, rate=3.0, requests=10_000, isl="uniform:200:1000", osl="uniform:20:200")
    assert report.simulation.requests == 10_000
    assert np.isfinite(report.simulation.per_request["e2e_s"]).all()


def _chunked_model():
    """Llama 4's pattern in small: chunked local attention (C = 32) in three layers of four, attention sinks
    in the global one (gpt-oss), so both of the engine's newer attention forms are served."""
    from llm_roofline.models.spec import MLP, Attention, Layer, LayerGroup, ModelSpec

    local = Layer(mixer=Attention(4, 2, 32, rope_dim=32, attention_chunk=32), ffn=MLP(256, gated=True))
    glob = Layer(mixer=Attention(4, 2, 32, sinks=True), ffn=MLP(256, gated=True))
    return ModelSpec(name="tiny-chunked", model_type="llama4_text", hidden_size=128, vocab_size=500,
                     layer_groups=(LayerGroup(local, 3), LayerGroup(glob, 1)))


def test_chunked_attention_is_served(a6000):
    model = _chunked_model()
    settings = Scenario.build(flash_attention=True)
    from llm_roofline.serving.step_cost import step_cost

    cost = step_cost(model, a6000, IDEAL, settings)
    B, P = np.array([1, 3, 5]), np.array([31, 64, 77])
    engine = evaluate(model, a6000, Scenario.build(batch_size=B, prompt_len=P, flash_attention=True), IDEAL)
    np.testing.assert_allclose(cost.time_s(cost.uniform_decode(B, P)), engine.decode_total.time_s, rtol=1e-12)
    np.testing.assert_allclose(cost.time_s(cost.chunk_features(P, P, count=B)), engine.prefill_total.time_s,
                               rtol=1e-12)
    P, G = 20, 90  # decode crosses chunk boundaries at S = 33, 65, 97
    one = evaluate(model, a6000, Scenario.build(prompt_len=P, gen_len=G - 1, flash_attention=True), IDEAL)
    report = lr.simulate(model, a6000, concurrency=1, requests=2, isl=P, osl=G)
    np.testing.assert_allclose(report.simulation.per_request["e2e_s"], one.generation.e2e_s[0], rtol=1e-9)
    assert report.steady["e2e_s"] == pytest.approx(one.generation.e2e_s[0], rel=1e-9)
    many = lr.simulate(model, a6000, concurrency=6, requests=120, isl="uniform:10:50", osl="uniform:60:120")
    est = lr.estimate_serving(model, a6000, concurrency=6, isl=30, osl=90)
    assert est["tpot_s"][0] == pytest.approx(many.simulation.tpot_s.mean, rel=TPOT_TOLERANCE)
