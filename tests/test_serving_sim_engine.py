"""The discrete-event simulation priced by the engine itself (EngineCost): the calibrated setting and
workers of several devices.

Oracles: ``lr.analyze`` (the engine's own prefill and whole-generation decode sum, calibrated, and on a
tensor-parallel group), the exact linear StepCost (where both apply, the engine-evaluated simulation must
reproduce it: the group-mean approximation is exact for equal prompts and memory-bound attention), the
closed form (estimate_serving) in the closed loop, Little's law, and a hand-derived KV transfer."""

from __future__ import annotations

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.serving.api import serving_costs
from llm_roofline.serving.decode_group import DecodeGroup
from llm_roofline.serving.setup import Formats

from sim_checks import in_system_and_rate_x_latency, middle_half

MODEL, DEVICE = "llama-3.1-8b", "h100-sxm"
KV_BYTES_PER_TOKEN = 2 * 32 * 8 * 128 * 2  # K and V x 32 layers x 8 KV heads x 128 dims x 2 bytes (bf16)


@pytest.mark.parametrize(("efficiency", "tp"), [("calibrated", 1), ("calibrated", 2), ("ideal", 2)])
def test_one_request_alone_is_analyzes_prefill_plus_decode_sum(efficiency, tp):
    """No profile: the kernels' own (calibrated) times, as analyze prices them; one decoder, so the
    group-mean approximation is exact and the simulation is analyze's generation to rounding."""
    P, G = 700, 90
    engine = lr.analyze(MODEL, DEVICE, prompt_len=P, gen_len=G - 1, efficiency=efficiency, flash_attention=True,
                        tp=tp).generation
    report = lr.simulate(MODEL, DEVICE, concurrency=1, requests=2, isl=P, osl=G, efficiency=efficiency, profile=None,
                         deployment={"tp": tp})
    r = report.simulation.per_request
    np.testing.assert_allclose(r["ttft_s"], engine.ttft_s, rtol=1e-12)
    np.testing.assert_allclose(r["e2e_s"], engine.e2e_s, rtol=1e-9)
    assert report.simulation.gpus == tp
    assert report.steady["e2e_s"] == pytest.approx(engine.e2e_s, rel=1e-9)  # the closed form: quadrature


def test_engine_evaluated_simulation_reproduces_the_exact_linear_one():
    """Ideal, one device: equal prompts arrive as equal chunks and memory-bound decode attention is linear
    in the keys, so the engine at the group's mean KV length gives the linear cost's exact sums (1e-9);
    varied lengths put chunks of different T and S into one iteration (priced at their mean): 4e-4
    measured on TTFT."""
    for isl, osl, tolerance in ((700, 90, 1e-9), ("uniform:500:900", "uniform:50:130", 1e-3)):
        kw = dict(concurrency=8, requests=80, isl=isl, osl=osl, seed=2)
        linear = lr.simulate(MODEL, DEVICE, **kw).simulation.per_request
        engine = lr.simulate(MODEL, DEVICE, engine_evaluated=True, **kw).simulation.per_request
        for key in ("ttft_s", "e2e_s"):
            np.testing.assert_allclose(engine[key], linear[key], rtol=tolerance)


def test_a_decode_stretch_is_each_iterations_own_evaluation():
    """The k iterations of a decode-only stretch, priced in one call, against k separate calls of the
    engine at each iteration's KV sum (n decoders, K + n j keys)."""
    cost = serving_costs(MODEL, DEVICE, "calibrated").cost(Formats(), 16384)
    group = DecodeGroup(cost, 16)
    for rid, s0 in enumerate((100, 900, 2000)):
        group.start(rid, 0, s0, 500)
    k = 40
    one_by_one = [cost.one_time_s(cost.decode_features(3.0, np.array([[3000.0 + 3 * j]]))[:, 0]) for j in range(k)]
    np.testing.assert_allclose(group.durations(0, k), one_by_one, rtol=1e-12)
    assert group.first_duration() == pytest.approx(one_by_one[0], rel=1e-12)
    assert np.all(np.diff(one_by_one) > 0)  # longer KV, longer step


@pytest.mark.parametrize(("efficiency", "deployment", "concurrency"),
                         [("calibrated", None, 16), ("ideal", {"tp": 2}, 24), ("calibrated", {"tp": 2}, 24)])
def test_closed_form_is_close_to_the_simulation(efficiency, deployment, concurrency):
    """The closed loop's steady window against estimate_serving's closed form of the same worker (no
    profile: the closed form adds no request overhead or burst, the simulation none either), with the
    tolerances of tests/test_serving_sim.py."""
    kw = dict(concurrency=concurrency, efficiency=efficiency, deployment=deployment, profile=None)
    report = lr.simulate(MODEL, DEVICE, requests=20 * concurrency, isl="uniform:750:1250", osl="uniform:150:250",
                         seed=3, **kw)
    est = lr.estimate_serving(MODEL, DEVICE, isl=1000, osl=200, **kw)
    seen = middle_half(report.simulation.per_request)
    assert est["tpot_s"][0] == pytest.approx(seen["tpot"], rel=0.05)
    assert est["requests_per_s"][0] == pytest.approx(seen["rate"], rel=0.05)
    assert est["ttft_s"][0] == pytest.approx(seen["ttft"], rel=0.25)


def test_littles_law_holds_in_the_calibrated_simulation():
    """Open loop: over the middle of the run, the time-average number of requests in the system equals the
    observed arrival rate x the mean latency of the requests arriving then (edge effects: a few %)."""
    report = lr.simulate(MODEL, DEVICE, rate=8.0, requests=600, isl="uniform:500:1500", osl="uniform:100:300",
                         seed=7, efficiency="calibrated")
    L, rate, W = in_system_and_rate_x_latency(report.simulation.per_request)
    assert L == pytest.approx(rate * W, rel=0.05)
    assert L > 2  # a loaded worker, not one request at a time


def test_disaggregated_pools_of_several_devices():
    """Prefill on tp 2, decode on tp 4: one request's TTFT is analyze's tp-2 prefill plus its KV cache (700
    tokens x 128 KiB) over two links at once; its TPOT is analyze's tp-4 decode."""
    P, G, link = 700, 64, 100e9
    prefill = lr.analyze(MODEL, DEVICE, prompt_len=P, gen_len=G - 1, flash_attention=True, tp=2,
                         efficiency="calibrated").generation
    decode = lr.analyze(MODEL, DEVICE, prompt_len=P, gen_len=G - 1, flash_attention=True, tp=4,
                        efficiency="calibrated").generation
    report = lr.simulate(MODEL, DEVICE, concurrency=1, requests=2, isl=P, osl=G, disagg=True, efficiency="calibrated",
                         profile=None, prefill_deployment={"tp": 2}, decode_deployment={"tp": 4},
                         link_bandwidth_bytes_per_s=link)
    r = report.simulation.per_request
    transfer = P * KV_BYTES_PER_TOKEN / (2 * link)
    np.testing.assert_allclose(r["ttft_s"], prefill.ttft_s + transfer, rtol=1e-12)
    np.testing.assert_allclose(r["tpot_s"], decode.tpot_s, rtol=1e-9)
    assert report.simulation.gpus == 6
    assert (report.deployment["prefill_tp"], report.deployment["decode_tp"]) == (2, 4)


def test_what_the_simulation_still_refuses():
    with pytest.raises(lr.errors.DeploymentError, match="replicas"):
        lr.simulate(MODEL, "dgx-h100", concurrency=4, isl=128, osl=16, deployment={"dp": 2})


def test_the_cli_takes_worker_devices_as_analyze_does(capsys):
    import json

    from llm_roofline.cli import main

    args = ["serve-sim", MODEL, DEVICE, "-c", "4", "-n", "12", "--isl", "500", "--osl", "40", "-f", "json"]
    assert main([*args, "--tp", "2", "--efficiency", "calibrated"]) == 0
    cli = json.loads(capsys.readouterr().out)
    api = lr.simulate(MODEL, DEVICE, concurrency=4, requests=12, isl=500, osl=40, efficiency="calibrated",
                      deployment={"tp": 2})
    assert cli == json.loads(json.dumps(api.to_dict()))
    assert (cli["deployment"]["tp"], cli["gpus"]) == (2, 2)
    assert main([*args, "--disagg", "--prefill-tp", "2", "--decode-tp", "4"]) == 0
    d = json.loads(capsys.readouterr().out)["deployment"]
    assert (d["prefill_tp"], d["decode_tp"], d["gpus"]) == (2, 4, 6)
    for wrong, word in ((["--tp", "2", "--disagg"], "--prefill-tp"), (["--decode-tp", "2"], "--disagg"),
                        (["--tp", "3"], "divide")):
        assert main([*args, *wrong]) != 0
        err = capsys.readouterr().err
        assert word in err and err.count("\n") == 1
