"""A user-set request overhead (issue 9): ``request_overhead_s`` of estimate_serving, simulate and plan, the
serving commands' ``--request-overhead`` and the web's ``request_overhead_ms`` replace the calibrated engine's
fitted overhead, the rest of its profile unchanged.

Oracle (by hand): at concurrency 1 a request is alone, so its TTFT is the engine's prefill plus the overhead
(serving/steady.py: the engine's loop lag (R - 1) / R vanishes at R = 1, and nothing queues); two overheads
h1 and h2 move TTFT and end to end by exactly h2 - h1 and leave TPOT as it is."""

from __future__ import annotations

import json

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.serving.profiles import NEUTRAL, serving_profile, with_request_overhead

from cli_checks import one_line_error, run

MODEL, DEVICE = "llama-3.1-8b", "h100-sxm"
H1, H2 = 0.05, 0.35  # two overheads (s): TTFT at concurrency 1 must differ by exactly H2 - H1 = 0.3 s


@pytest.mark.parametrize(("engine", "disagg"), [("vllm", False), ("sglang", False), ("trtllm", True)])
def test_estimate_serving_at_concurrency_one_moves_ttft_by_the_overheads_difference(engine, disagg):
    kw = dict(concurrency=1, isl=700, osl=90, efficiency="calibrated", engine=engine, disagg=disagg)
    one = lr.estimate_serving(MODEL, DEVICE, request_overhead_s=H1, **kw)
    two = lr.estimate_serving(MODEL, DEVICE, request_overhead_s=H2, **kw)
    assert two["ttft_s"][0] - one["ttft_s"][0] == pytest.approx(H2 - H1, abs=1e-9)
    assert two["e2e_s"][0] - one["e2e_s"][0] == pytest.approx(H2 - H1, abs=1e-9)
    assert two["tpot_s"][0] == one["tpot_s"][0]
    # None is the engine's fitted frontend time (its overhead + its cost per prompt token x 700): the same as
    # giving that whole time as the user's overhead, which replaces both parts
    fitted = lr.estimate_serving(MODEL, DEVICE, **kw)
    given = lr.estimate_serving(MODEL, DEVICE, request_overhead_s=serving_profile(engine).frontend_s(700.0), **kw)
    assert fitted["ttft_s"][0] == pytest.approx(given["ttft_s"][0], rel=1e-12)


@pytest.mark.parametrize("disagg", [False, True])
def test_simulate_at_concurrency_one_moves_every_ttft_by_the_overheads_difference(disagg):
    kw = dict(concurrency=1, requests=3, isl=700, osl=90, efficiency="calibrated", engine="vllm", disagg=disagg)
    one = lr.simulate(MODEL, DEVICE, request_overhead_s=H1, **kw).simulation.per_request
    two = lr.simulate(MODEL, DEVICE, request_overhead_s=H2, **kw).simulation.per_request
    np.testing.assert_allclose(two["ttft_s"] - one["ttft_s"], H2 - H1, rtol=0, atol=1e-9)
    np.testing.assert_allclose(two["e2e_s"] - one["e2e_s"], H2 - H1, rtol=0, atol=1e-9)
    np.testing.assert_allclose(two["tpot_s"], one["tpot_s"], rtol=1e-12)  # the clock moved: rounding only


def test_the_report_shows_the_users_overhead_and_the_rest_of_the_fit():
    report = lr.simulate(MODEL, DEVICE, concurrency=1, requests=2, isl=300, osl=20, efficiency="calibrated",
                         engine="sglang", request_overhead_s=0.25)
    shown, fitted = report.efficiency["serving_profile"], serving_profile("sglang")
    assert shown["request_overhead_s"] == 0.25
    assert shown["source"].startswith("request_overhead_s set by the user") and fitted.source in shown["source"]
    for name in ("engine", "fixed_share", "burst_share", "prefill_launch_s"):
        assert shown[name] == getattr(fitted, name), name


def test_plan_prices_every_point_with_the_users_overhead():
    """One GPU, one format, aggregated: the batch-1 point (concurrency 1) moves by H2 - H1; the JSON names
    the profile."""
    kw = dict(gpus=1, isl=700, osl=90, formats=["bf16"], modes=["agg"], max_batch_tokens=[8192],
              efficiency="calibrated")
    one = lr.plan(MODEL, DEVICE, request_overhead_s=H1, **kw)
    two = lr.plan(MODEL, DEVICE, request_overhead_s=H2, **kw)
    first = [i for i, c in enumerate(one.columns["concurrency"]) if c == 1]
    assert len(first) == 1
    i = first[0]
    assert two.columns["ttft_s"][i] - one.columns["ttft_s"][i] == pytest.approx(H2 - H1, abs=1e-9)
    assert two.to_dict()["serving_profile"]["request_overhead_s"] == H2
    assert lr.plan(MODEL, DEVICE, **{**kw, "efficiency": "ideal"}).to_dict()["serving_profile"] is None


def test_the_process_pool_prices_with_the_users_overhead_too():
    """The search's process pool gets the profile from the parent (search_pool.py): the same points as one
    process, the user's overhead included."""
    kw = dict(gpus=2, isl=700, osl=90, formats=["bf16"], max_batch_tokens=[8192], efficiency="calibrated",
              request_overhead_s=H2)
    one, two = (lr.plan(MODEL, DEVICE, processes=n, **kw) for n in (1, 2))
    assert two.search["processes"] == 2 and one.configs == two.configs
    np.testing.assert_array_equal(one.columns["ttft_s"], two.columns["ttft_s"])


@pytest.mark.parametrize("value", [-0.001, 60.001, 100, float("nan"), float("inf"), True, "20ms"])
def test_a_bad_overhead_is_a_clear_error(value):
    with pytest.raises(lr.ScenarioError, match=r"request_overhead_s must be a duration in seconds in \[0, 60\]"):
        lr.estimate_serving(MODEL, DEVICE, concurrency=1, isl=100, osl=10, efficiency="calibrated",
                            request_overhead_s=value)


def test_the_range_ends_are_accepted():
    kw = dict(concurrency=1, isl=100, osl=10, efficiency="calibrated", engine="vllm")
    zero = lr.estimate_serving(MODEL, DEVICE, request_overhead_s=0, **kw)
    minute = lr.estimate_serving(MODEL, DEVICE, request_overhead_s=60, **kw)
    assert minute["ttft_s"][0] - zero["ttft_s"][0] == pytest.approx(60.0, abs=1e-9)


@pytest.mark.parametrize("call", ["estimate", "simulate", "plan"])
def test_the_ideal_setting_has_no_profile_to_set_it_in(call):
    with pytest.raises(lr.ScenarioError, match="calibrated"):
        if call == "estimate":
            lr.estimate_serving(MODEL, DEVICE, concurrency=1, isl=100, osl=10, request_overhead_s=0.02)
        elif call == "simulate":
            lr.simulate(MODEL, DEVICE, concurrency=1, requests=2, isl=100, osl=10, efficiency="hardware",
                        request_overhead_s=0.02)
        else:
            lr.plan(MODEL, DEVICE, gpus=1, formats=["bf16"], modes=["agg"], request_overhead_s=0.02)


def test_a_profile_given_takes_the_overhead_too():
    """A ServingProfile passed as ``profile`` under the ideal setting is a profile: the overhead replaces its
    whole frontend time (no fixed part here, 3 us per prompt token: 0.3 ms for 100 tokens), so at concurrency 1
    TTFT grows by exactly 0.125 - 0.0003 s."""
    from dataclasses import replace

    profile = replace(serving_profile("vllm"), request_overhead_s=0.0, prompt_token_s=3e-6)
    kw = dict(concurrency=1, isl=100, osl=10, engine_evaluated=True, profile=profile)
    bare = lr.estimate_serving(MODEL, DEVICE, **kw)
    more = lr.estimate_serving(MODEL, DEVICE, request_overhead_s=0.125, **kw)
    assert more["ttft_s"][0] - bare["ttft_s"][0] == pytest.approx(0.125 - 0.0003, abs=1e-9)
    assert with_request_overhead(profile, 0.125).prompt_token_s == 0.0


def test_the_helper_keeps_none_and_refuses_no_profile():
    fitted = serving_profile("trtllm")
    assert with_request_overhead(fitted, None) is fitted
    twice = with_request_overhead(with_request_overhead(fitted, 0.2), np.float64(0.03))
    assert twice.request_overhead_s == 0.03 and twice.source.count("set by the user") == 1
    assert twice.source.endswith(fitted.source) and twice.fixed_share == fitted.fixed_share
    with pytest.raises(lr.ScenarioError, match="ideal and hardware settings have none"):
        with_request_overhead(NEUTRAL, 0.1)


def test_costs_and_an_overhead_together_are_refused():
    from llm_roofline.serving.api import serving_costs

    costs = serving_costs(MODEL, DEVICE, "calibrated")
    with pytest.raises(lr.ScenarioError, match="give it to serving_costs"):
        lr.estimate_serving(MODEL, DEVICE, concurrency=1, isl=100, osl=10, efficiency="calibrated", costs=costs,
                            request_overhead_s=0.1)
    with_overhead = serving_costs(MODEL, DEVICE, "calibrated", request_overhead_s=0.1)
    assert with_overhead.profile.request_overhead_s == 0.1


# --- the command line -----------------------------------------------------------------------------------

SIM = ("serve-sim", MODEL, DEVICE, "-c", "1", "-n", "2", "--isl", "700", "--osl", "90", "--efficiency",
       "calibrated", "--engine", "vllm")


def test_serve_sim_json_and_text_show_the_value(capsys):
    code, out, _ = run(capsys, *SIM, "--request-overhead", "350ms", "-f", "json")
    assert code == 0
    data = json.loads(out)
    assert data["efficiency"]["serving_profile"]["request_overhead_s"] == pytest.approx(0.35, abs=1e-15)
    assert data["efficiency"]["serving_profile"]["source"].startswith("request_overhead_s set by the user")
    code, out, _ = run(capsys, *SIM, "--request-overhead", "50ms", "-f", "json")
    low = json.loads(out)
    assert data["ttft_s"]["mean"] - low["ttft_s"]["mean"] == pytest.approx(0.3, abs=1e-9)
    code, out, _ = run(capsys, *SIM, "--request-overhead", "0.35s")
    assert code == 0 and "350 ms request overhead in TTFT, set by the user" in out.splitlines()[0]
    code, out, _ = run(capsys, *SIM, "--request-overhead", "0", "-f", "json")
    assert code == 0 and json.loads(out)["efficiency"]["serving_profile"]["request_overhead_s"] == 0.0


def test_plan_json_and_text_show_the_value(capsys):
    argv = ("plan", MODEL, DEVICE, "--gpus", "1", "--formats", "bf16", "--modes", "agg", "--efficiency",
            "calibrated", "--request-overhead", "120ms")
    code, out, _ = run(capsys, *argv, "-f", "json")
    assert code == 0 and json.loads(out)["serving_profile"]["request_overhead_s"] == pytest.approx(0.12, abs=1e-15)
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "120 ms request overhead in TTFT, set by the user" in out.splitlines()[0]


@pytest.mark.parametrize(("argv", "words"), [
    ((*SIM, "--request-overhead=-5ms"), "must be a duration in 0..60 s"),
    ((*SIM, "--request-overhead", "100s"), "must be a duration in 0..60 s"),
    ((*SIM, "--request-overhead", "soon"), "got 'soon'"),
    (("serve-sim", MODEL, DEVICE, "-c", "1", "--request-overhead", "5ms"), "--efficiency calibrated only"),
    (("plan", MODEL, DEVICE, "--gpus", "1", "--request-overhead", "5ms"), "--efficiency calibrated only"),
    (("plan", MODEL, DEVICE, "--efficiency", "calibrated", "--request-overhead", "61s"), "0..60 s"),
    (("plot", "load", MODEL, DEVICE, "--concurrency", "1,2", "--request-overhead", "5ms", "-o", "{tmp}/load.png"),
     "--efficiency calibrated only"),
])
def test_bad_flags_are_one_line_exit_2(capsys, tmp_path, argv, words):
    err = one_line_error(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert not (tmp_path / "load.png").exists()
    assert "--request-overhead" in err and words in err


def test_plot_load_passes_the_overhead_to_the_closed_form():
    from llm_roofline.plots.serving import load_data

    kw = dict(isl=[700], osl=90, concurrency=[1, 4], efficiency="calibrated", engine="trtllm")
    one, two = (load_data(MODEL, DEVICE, request_overhead_s=h, **kw).series[0] for h in (H1, H2))
    assert two.ttft_s[0] - one.ttft_s[0] == pytest.approx(H2 - H1, abs=1e-9)
