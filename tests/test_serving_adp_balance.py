"""TensorRT-LLM's attention-DP balancing in the aggregated closed form (SchedulerConfig.adp_balance_iterations,
steady.adp_balance_wait; issue 10), and the recipes that set it (validation/recipes.py).

Oracles by hand: the window a first prompt opens closes after the other ranks - 1 arrivals or at the timeout,
W = min(timeout, (g - 1) / X); the first prompt waits W, the X W that arrive inside it W / 2 on average, so
the mean wait is W (1 + X W / 2) / (1 + X W). TensorRT-LLM releases prompts at once while some rank has no
request decoding (py_executor.py ``_balance_adp_requests``: ``not all_ranks_have_gen_requests``), so fewer
running requests than ranks see no wait; the wait never exceeds the timeout and leaves TPOT alone."""

from __future__ import annotations

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.errors import ScenarioError
from llm_roofline.serving.scheduler import SchedulerConfig
from llm_roofline.serving.steady import adp_balance_wait
from llm_roofline.validation.recipes import ADP_BALANCE_TIMEOUT_ITERATIONS, adp_balance_iterations
from llm_roofline.validation.table import Row

MODEL, SYSTEM = "llama-3.1-8b", "dgx-h100"


def test_the_wait_by_hand():
    # 8 ranks, a 0.6 s timeout. At 10 requests/s the other 7 arrive in 0.7 s: the timeout closes the window,
    # W = 0.6, 6 prompts arrive in it: 0.6 x (1 + 3) / 7. At 20 requests/s they arrive in 0.35 s: 0.35 x 4.5 / 8.
    got = adp_balance_wait(0.6, 8.0, np.array([10.0, 20.0]))
    np.testing.assert_allclose(got, [0.6 * 4.0 / 7.0, 0.35 * 4.5 / 8.0], rtol=1e-15)
    assert adp_balance_wait(0.6, 8.0, np.array([0.0]))[0] == 0.6  # nothing else arrives: the timeout frees it


def test_the_closed_form_waits_only_while_every_rank_decodes():
    kw = dict(concurrency=[2, 4, 16, 64], isl=1000, osl=200, efficiency="calibrated", engine="trtllm",
              deployment={"attention_dp": 4})
    off = lr.estimate_serving(MODEL, SYSTEM, **kw)
    on = lr.estimate_serving(MODEL, SYSTEM, adp_balance_iterations=60, **kw)
    assert on["ttft_s"][0] == off["ttft_s"][0]  # 2 requests on 4 ranks: two ranks idle, prompts go at once
    grown = on["ttft_s"][1:] - off["ttft_s"][1:]
    assert (grown > 0).all() and (grown <= 60 * off["tpot_s"][1:]).all()
    np.testing.assert_allclose(on["tpot_s"], off["tpot_s"], rtol=1e-12)
    np.testing.assert_allclose(on["requests_per_s"] * on["e2e_s"], kw["concurrency"], rtol=1e-12)  # Little


def test_one_rank_has_nothing_to_balance():
    kw = dict(concurrency=[8], isl=500, osl=50, efficiency="calibrated", engine="trtllm", deployment={"tp": 4})
    assert (lr.estimate_serving(MODEL, SYSTEM, adp_balance_iterations=60, **kw)["ttft_s"]
            == lr.estimate_serving(MODEL, SYSTEM, **kw)["ttft_s"]).all()


def test_bad_values_and_disaggregated_serving_are_refused():
    with pytest.raises(ScenarioError, match=r"adp_balance_iterations must be an integer in 0..10000"):
        SchedulerConfig(adp_balance_iterations=-1)
    with pytest.raises(ScenarioError, match="adp_balance_iterations applies to aggregated serving"):
        lr.estimate_serving(MODEL, "h100-sxm", concurrency=4, isl=100, osl=10, disagg=True,
                            adp_balance_iterations=60)


def _row(**cells) -> Row:
    return Row(line=2, cells={"silicon_data_source": "source_file=2026-01-14.csv; model=DeepSeek-R1", **cells})


def test_the_deepseek_recipes_with_dp_attention_set_it():
    assert ADP_BALANCE_TIMEOUT_ITERATIONS == 60
    inferencex = _row()
    assert adp_balance_iterations(inferencex, "trtllm", "deepseek-r1", 8) == 60
    assert adp_balance_iterations(inferencex, "trtllm", "deepseek-r1", 1) == 0  # no DP attention
    assert adp_balance_iterations(inferencex, "sglang", "deepseek-r1", 8) == 0
    assert adp_balance_iterations(inferencex, "trtllm", "gpt-oss-120b", 8) == 0  # its recipe sets none
    other = Row(line=2, cells={"silicon_data_source": "source_file=/data/trtllm/1.0.0rc3/deepseek.csv"})
    assert adp_balance_iterations(other, "trtllm", "deepseek-r1", 8) == 0
