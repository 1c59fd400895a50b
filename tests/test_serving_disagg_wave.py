"""Disaggregated closed form: the prefill worker's batch limit, the closed loop's start-up wave through the
prefill pool, and the decode worker's loop lag on the first token (calibrated setting)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.serving import disagg
from llm_roofline.serving.api import serving_costs
from llm_roofline.serving.profiles import ServingProfile
from llm_roofline.serving.scheduler import SchedulerConfig
from llm_roofline.serving.setup import Formats

from conftest import llama

LINK = 100e9  # bytes/s, one direction


def _pool(a6000, max_seqs: int, profile=None):
    cache = serving_costs(llama(), a6000, "ideal", engine_evaluated=True, profile=profile)
    return cache.pool(Formats(16, 16, 16), SchedulerConfig(max_batch_tokens=8192, max_seqs=max_seqs))


def test_a_prefill_batches_no_more_prompts_than_its_max_seqs(a6000):
    """500-token prompts: the 8192-token budget holds floor(8192 / 500) = 16 of them, a worker that runs at
    most 3 requests (the deployment's prefill batch size) batches 3."""
    assert disagg._prefill_knots(_pool(a6000, 256), 500.0)[2] == 16
    assert disagg._prefill_knots(_pool(a6000, 3), 500.0)[2] == 3


def test_the_waves_mean_count_of_prefills_by_hand():
    """tau(b) = 0.1, 0.15, 0.2, 0.25 s for b = 1..4, b_max = 4, steady wait 0.1 s, two prefill workers.
    C = 20: R = 10 each, prefills of 4, 4, 2 prompts: requests done after 1,1,1,1,2,2,2,2,3,3 prefills,
    mean 1.8; 1.8 x tau(4) - 0.1 = 0.35 s. C = 6: R = 3, one prefill of 3: tau(3) - 0.1 = 0.1 s. C = 1:
    one prompt, the steady wait itself: no excess."""
    pool = SimpleNamespace(workers=2)
    knots, tau = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.1, 0.15, 0.2, 0.25])
    excess = disagg._burst_excess(pool, knots, tau, 4.0, np.array([20.0, 6.0, 1.0]), np.full(3, 0.1))
    np.testing.assert_allclose(excess, [1.8 * 0.25 - 0.1, 0.2 - 0.1, 0.0], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("max_seqs", [1, 4])
def test_the_wave_is_the_simulations_first_round(max_seqs, a6000):
    """A closed loop of 12 identical requests starts at once: the simulation's first 12 TTFTs average the
    wave's count x tau(b) (the knots' prefill time) plus the KV transfer. b_max 1: (12 + 1) / 2 = 6.5
    prefills of one prompt; b_max 4: three prefills of 4, mean 2."""
    P, G, C = 600, 40, 12
    kw = dict(disagg=True, link_bandwidth_bytes_per_s=LINK, prefill_scheduler={"max_seqs": max_seqs})
    report = lr.simulate(llama(), a6000, concurrency=C, requests=C, isl=P, osl=G, max_seqs=64, **kw)
    knots, tau, b_max = disagg._prefill_knots(_pool(a6000, max_seqs), float(P))
    transfer = P * 2 * 32 * 4096 * 2 / LINK
    count = {1: 6.5, 4: 2.0}[max_seqs]
    wave = count * np.interp(min(C, b_max), knots, tau) + transfer
    assert np.mean(report.simulation.per_request["ttft_s"]) == pytest.approx(wave, rel=0.02)


def test_the_calibrated_first_token_adds_the_wave_share_and_three_decode_iterations(a6000):
    """A serving profile that keeps the kernels' times (fixed share 1, no launch floor) adds to TTFT its
    overhead, 1/10 of the wave's excess (the first of the benchmark's 10 rounds) and 3 decode iterations x
    (R - 1) / R; a lone request gets the overhead only. That time is spent in the client's loop, not in the
    pools: at the same C the decode pool holds fewer requests (Little's law, test_serving_disagg_little.py),
    so the pools' part is the neutral model's at the profiled decode batch r and the same C. C = 8 at one
    prefill worker of 4 prompts: two prefills of 4, requests done after 1, 1, 1, 1, 2, 2, 2, 2 of them,
    mean 1.5."""
    profile = ServingProfile("test", request_overhead_s=0.05)
    C = np.array([1.0, 8.0])
    s = disagg.disagg_steady(_pool(a6000, 4, profile), _pool(a6000, 64, profile), 600.0, 40.0, LINK, C)
    n = disagg.disagg_steady(_pool(a6000, 4), _pool(a6000, 64), 600.0, 40.0, LINK, C)
    assert s.ttft_s[0] == pytest.approx(n.ttft_s[0] + 0.05, rel=1e-12)
    assert s.tpot_s[0] == pytest.approx(n.tpot_s[0], rel=1e-12)
    assert s.decode_batch[1] < n.decode_batch[1]
    pre, dec = _pool(a6000, 4), _pool(a6000, 64)
    knots, tau, _ = disagg._prefill_knots(pre, 600.0)
    R, r_max = s.decode_batch[1], disagg._limits(pre, dec, 600.0, 40.0)[0]
    pools = disagg._evaluate(pre, dec, 600.0, 40.0, LINK, s.decode_batch[1:], C[1:], (knots, tau, 4.0),
                             disagg._decode_steps(dec, 600.0, 40.0, r_max))
    wait, tpot = pools["wait"][0], pools["tpot"][0]  # the neutral pools' prefill wait and TPOT at r, C = 8
    assert s.queued[1] == 0.0 and s.tpot_s[1] == pytest.approx(tpot, rel=1e-12)
    expected = (wait + s.transfer_s + 0.05 + 0.1 * (1.5 * np.interp(4.0, knots, tau) - wait)
                + 3.0 * tpot * (R - 1.0) / R)
    assert R > 1.0 and 1.5 * np.interp(4.0, knots, tau) > wait
    assert s.ttft_s[1] == pytest.approx(expected, rel=1e-9)
