"""The serving profile's host cost per prompt token (profiles.ServingProfile.prompt_token_s, issue 9): a
request of P prompt tokens spends request_overhead_s + prompt_token_s x P outside the GPU's iterations.

Oracles by hand: a lone request (concurrency 1) is the engine's prefill and decode plus that frontend time,
so two profiles that differ only in the cost per token u move its TTFT and end to end by u x P exactly (and
leave TPOT); in the simulation every request carries its own prompt, so a light open load of requests of
different lengths moves each TTFT by u x its own prompt; the profile refuses a cost outside [0, 1 ms]."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.errors import ConfigError
from llm_roofline.serving.profiles import MAX_PROMPT_TOKEN_S, ServingProfile, serving_profile
from llm_roofline.servingtext import overhead_text

MODEL, DEVICE = "llama-3.1-8b", "h100-sxm"
U = 20e-6  # s per prompt token: 20 ms for 1,000 tokens


def _pair(engine: str) -> tuple[ServingProfile, ServingProfile]:
    base = replace(serving_profile(engine), prompt_token_s=0.0)
    return base, replace(base, prompt_token_s=U)


def test_frontend_time_by_hand():
    p = ServingProfile("test", request_overhead_s=0.05, prompt_token_s=1e-5)
    assert p.frontend_s(2000) == pytest.approx(0.05 + 0.02, abs=1e-15)
    np.testing.assert_allclose(p.frontend_s(np.array([0.0, 1000.0])), [0.05, 0.06], rtol=1e-15)


@pytest.mark.parametrize("value", [-1e-9, 2e-3, float("nan"), True])
def test_a_cost_outside_its_range_is_refused(value):
    with pytest.raises(ConfigError, match=r"prompt_token_s must be in \[0, 0.001\]"):
        ServingProfile("test", prompt_token_s=value)
    assert MAX_PROMPT_TOKEN_S == 1e-3


@pytest.mark.parametrize(("engine", "disagg"), [("vllm", False), ("sglang", False), ("trtllm", True)])
@pytest.mark.parametrize("isl", [300, 4000])
def test_a_lone_request_pays_u_per_prompt_token(engine, disagg, isl):
    base, costly = _pair(engine)
    kw = dict(concurrency=1, isl=isl, osl=40, engine_evaluated=True, disagg=disagg)
    one = lr.estimate_serving(MODEL, DEVICE, profile=base, **kw)
    two = lr.estimate_serving(MODEL, DEVICE, profile=costly, **kw)
    assert two["ttft_s"][0] - one["ttft_s"][0] == pytest.approx(U * isl, abs=1e-9)
    assert two["e2e_s"][0] - one["e2e_s"][0] == pytest.approx(U * isl, abs=1e-9)
    assert two["tpot_s"][0] == pytest.approx(one["tpot_s"][0], rel=1e-12)


@pytest.mark.parametrize("disagg", [False, True])
def test_each_simulated_request_pays_for_its_own_prompt(tmp_path, disagg):
    """Requests of 200, 3,000 and 800 prompt tokens, 100 s apart (each alone in the engine): every TTFT
    grows by U x its own prompt, every TPOT stays."""
    trace = tmp_path / "trace.jsonl"
    lengths = [200, 3000, 800]
    trace.write_text("".join(f'{{"arrival_s": {100.0 * i}, "isl": {p}, "osl": 20}}\n' for i, p in enumerate(lengths)))
    base, costly = _pair("vllm")
    kw = dict(trace=str(trace), disagg=disagg, efficiency="calibrated", engine="vllm")
    one = lr.simulate(MODEL, DEVICE, profile=base, **kw).simulation.per_request
    two = lr.simulate(MODEL, DEVICE, profile=costly, **kw).simulation.per_request
    np.testing.assert_allclose(two["ttft_s"] - one["ttft_s"], U * np.array(lengths, float), rtol=0, atol=1e-9)
    np.testing.assert_allclose(two["tpot_s"], one["tpot_s"], rtol=1e-9)


def test_the_shipped_fit_and_the_reports_name_it():
    fitted = serving_profile("vllm")
    assert 0.0 < fitted.prompt_token_s <= MAX_PROMPT_TOKEN_S
    text = overhead_text(fitted.to_dict())
    assert f"+ {fitted.prompt_token_s * 1e6:.3g} us per prompt token in TTFT" in text
    assert overhead_text({"request_overhead_s": 0.02}) == "20 ms request overhead in TTFT"
