"""Disaggregated closed form: Little's law over the client's closed loop. A calibrated engine's request
overhead, start-up wave share and decode-loop lag keep a request in the client's loop without a decode slot,
so the C requests in flight are X (prefill wait + transfer + that time) + n_d r, and C = requests/s x end to
end at every point, below and past the pools' capacity.

Oracles: the law itself (C against the reported requests/s and end to end), and for a linear cost one
request alone (engine.evaluate's prefill and decode sum, as tests/test_serving_disagg.py) with the balance
solved by hand."""

from __future__ import annotations

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.engine import evaluate
from llm_roofline.hardware.spec import IDEAL
from llm_roofline.scenario import Scenario
from llm_roofline.serving import disagg
from llm_roofline.serving.api import serving_costs
from llm_roofline.serving.pool import Pool
from llm_roofline.serving.profiles import ServingProfile
from llm_roofline.serving.scheduler import SchedulerConfig
from llm_roofline.serving.setup import Formats

from conftest import llama

MODEL, DEVICE = "llama-3.1-8b", "h100-sxm"
LINK = 100e9  # bytes/s, one direction


@pytest.mark.parametrize("profile", ["auto", None])
def test_littles_law_with_a_calibrated_engine_below_and_past_capacity(profile):
    """TensorRT-LLM calibrated, with its fitted profile (107.5 ms overhead, the wave, the decode loop) and
    without one: C = requests/s x end to end at C = 1, 8, 64 (the pools hold them) and 400 (past a
    pool's capacity: the rest queue before their prefill)."""
    C = np.array([1.0, 8.0, 64.0, 400.0])
    est = lr.estimate_serving(MODEL, DEVICE, concurrency=C, isl=1000, osl=200, disagg=True, efficiency="calibrated",
                              engine="trtllm", decode_scheduler={"max_seqs": 96}, profile=profile)
    np.testing.assert_allclose(est["requests_per_s"] * est["e2e_s"], C, rtol=1e-9)
    np.testing.assert_allclose(est["output_tokens_per_s"], 200.0 * est["requests_per_s"], rtol=1e-12)
    np.testing.assert_allclose(est["concurrency"], C, rtol=1e-9)
    assert (est["queued"][:3] == 0.0).all() and est["limited_by"][:3] == ["concurrency"] * 3
    assert est["queued"][3] > 100.0 and est["limited_by"][3] in ("prefill", "decode")


@pytest.mark.parametrize("profile", ["auto", None])
def test_littles_law_with_unbatched_prefills(profile):
    """A prefill worker that takes one prompt at a time (M/D/1 without the batch's cap) of 8,000 tokens, three
    decode workers: the law holds where the prefill pool is the bottleneck too."""
    C = np.array([1.0, 4.0, 64.0])
    est = lr.estimate_serving(MODEL, DEVICE, concurrency=C, isl=8000, osl=20, disagg=True, efficiency="calibrated",
                              engine="trtllm", decode_workers=3, prefill_scheduler={"max_seqs": 1}, profile=profile)
    np.testing.assert_allclose(est["requests_per_s"] * est["e2e_s"], C, rtol=1e-9)


def test_the_curve_obeys_littles_law(a6000):
    """The deployment search's face (disagg_curve, by decode batch): each point's concurrency is its
    requests/s x end to end, with a profile's overhead, wave and lag in the loop."""
    profile = ServingProfile("test", request_overhead_s=0.05)
    cache = serving_costs(llama(), a6000, "ideal", engine_evaluated=True, profile=profile)
    pre = cache.pool(Formats(16, 16, 16), SchedulerConfig(max_batch_tokens=8192, max_seqs=4))
    dec = cache.pool(Formats(16, 16, 16), SchedulerConfig(max_batch_tokens=8192, max_seqs=64))
    c = disagg.disagg_curve(pre, dec, 600.0, 40.0, LINK, np.array([0.3, 1.0, 4.0, 16.0]))
    np.testing.assert_allclose(c.requests_per_s * c.e2e_s, c.concurrency, rtol=1e-12)


class _Profiled:
    """The linear StepCost carrying a serving profile, as an engine-evaluated cost does."""

    def __init__(self, cost, profile):
        self._cost, self.profile = cost, profile

    def __getattr__(self, name):
        return getattr(self._cost, name)


def test_the_balance_by_hand_with_a_linear_cost(a6000):
    """One prefill worker of one prompt at a time, one decode worker, overhead h = 1 s, P = 600, G = 5.
    tau = the engine's prefill of 600 tokens, S = its 4 decode steps alone (engine.evaluate), t_x = the
    prompt's KV (600 x 2 x 32 x 4096 x 2 bytes) over the link. X requests/s, r = X S decoding (below 1:
    the decode worker idles part of the time, so no loop lag and S stays one request's).
    C = 1: alone, X = 1 / (tau + t_x + h + S).
    C = 2: M/D/1 at u = X tau, the other prompt ahead half the time: W = tau (1 + (1/2) u / (2 (1 - u)));
    the wave: 2 prompts arrive at once, done after 1 and 2 prefills, 1.5 tau on average, 1/10 of the
    requests carry 1.5 tau - W. Balance 2 = X (W + t_x + h + (1.5 tau - W) / 10 + S) = X (A + 0.225 tau u
    / (1 - u)), A = 1.05 tau + t_x + h + S; times (1 - u): (A tau - 0.225 tau^2) X^2 - (A + 2 tau) X + 2 =
    0, the smaller root."""
    P, G, h = 600, 5, 1.0
    alone = evaluate(llama(), a6000, Scenario.build(prompt_len=P, gen_len=G - 1, flash_attention=True), IDEAL)
    tau, S = alone.generation.ttft_s[0], (G - 1) * alone.generation.tpot_s[0]
    t_x = P * 2 * 32 * 4096 * 2 / LINK
    cache = serving_costs(llama(), a6000, "ideal")
    profile = ServingProfile("test", request_overhead_s=h)
    pre, dec = (cache.pool(Formats(16, 16, 16), SchedulerConfig(max_batch_tokens=8192, max_seqs=m)) for m in (1, 64))
    pre, dec = (Pool(cost=_Profiled(p.cost, profile), kv=p.kv, config=p.config) for p in (pre, dec))
    s = disagg.disagg_steady(pre, dec, float(P), float(G), LINK, np.array([1.0, 2.0]))

    assert s.requests_per_s[0] == pytest.approx(1.0 / (tau + t_x + h + S), rel=1e-9)
    assert s.ttft_s[0] == pytest.approx(tau + t_x + h, rel=1e-9)

    A = 1.05 * tau + t_x + h + S
    a, b = A * tau - 0.225 * tau**2, A + 2.0 * tau
    X = (b - np.sqrt(b * b - 8.0 * a)) / (2.0 * a)
    u = X * tau
    W = tau * (1.0 + 0.25 * u / (1.0 - u))
    assert X * S < 1.0 and u / (2.0 * (1.0 - u)) < 1.0 and 1.5 * tau > W  # the regime the formulas assume
    assert s.requests_per_s[1] == pytest.approx(X, rel=1e-9)
    assert s.decode_batch[1] == pytest.approx(X * S, rel=1e-9)
    assert s.ttft_s[1] == pytest.approx(W + t_x + h + 0.1 * (1.5 * tau - W), rel=1e-9)
    assert s.queued[1] == 0.0 and s.limited_by[1] == "concurrency"


def test_one_output_token_is_refused_by_the_closed_form_not_the_simulation():
    """osl 1: nothing to decode, so the decode pool's batch cannot parametrise the closed form: a clear
    error naming osl; the simulation runs (prefill and transfer only) and reports no steady state."""
    kw = dict(isl=500, osl=1, disagg=True)
    with pytest.raises(lr.ScenarioError, match="osl must be at least 2"):
        lr.estimate_serving(MODEL, DEVICE, concurrency=4, **kw)
    report = lr.simulate(MODEL, DEVICE, concurrency=4, requests=20, **kw)
    assert report.steady is None and report.simulation.per_request["ttft_s"].size == 20
