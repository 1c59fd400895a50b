"""A scheduler that polls for new requests every I decode iterations (SGLang's --scheduler-recv-interval),
the burst share when request lengths vary, and how the validation reads both from the InferenceX recipes."""

from __future__ import annotations

import numpy as np
import pytest

from llm_roofline.errors import ScenarioError
from llm_roofline.serving.api import estimate_serving
from llm_roofline.serving.profiles import BENCHMARK_ROUNDS, derived_burst_share
from llm_roofline.serving.scheduler import SchedulerConfig
from llm_roofline.validation.recipes import inferencex_run, lengths_vary, recv_interval
from llm_roofline.validation.table import Row

MODEL, DEVICE = "llama-3.1-8b", "h100-sxm"


def test_recv_interval_adds_half_its_busy_iterations_to_ttft():
    """An arrival waits for the next poll: (I - 1) / 2 decode iterations on average, each busy (R - 1) / R of
    the time. Below saturation (C = R) end to end and TTFT grow by exactly that, rebuilt here from the
    call's own TPOT (the mean decode iteration); TPOT does not change, and a lone request (R = 1) waits
    nothing."""
    C = np.array([1.0, 4.0, 32.0])
    base = estimate_serving(MODEL, DEVICE, concurrency=C, isl=512, osl=128)
    for interval in (2, 10, 30):
        polled = estimate_serving(MODEL, DEVICE, concurrency=C, isl=512, osl=128, recv_interval=interval)
        np.testing.assert_allclose(polled["tpot_s"], base["tpot_s"], rtol=1e-12)
        expected = (interval - 1) / 2 * base["tpot_s"] * (C - 1) / C
        np.testing.assert_allclose(polled["ttft_s"] - base["ttft_s"], expected, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(polled["e2e_s"] - base["e2e_s"], expected, rtol=1e-9, atol=1e-15)
    assert polled["ttft_s"][0] == pytest.approx(base["ttft_s"][0], rel=1e-12)


def test_recv_interval_range_and_disaggregated_refusal():
    with pytest.raises(ScenarioError, match="recv_interval must be an integer in 1..10000"):
        SchedulerConfig(recv_interval=0)
    with pytest.raises(ScenarioError, match="aggregated"):
        estimate_serving(MODEL, DEVICE, concurrency=8, isl=512, osl=64, disagg=True, recv_interval=10,
                         link_bandwidth_bytes_per_s=50e9)
    assert SchedulerConfig().to_dict()["recv_interval"] == 1


def test_burst_share_of_a_prefill_first_engine_when_lengths_vary():
    """The wave of a prefill-first scheduler persists only when every request has the same lengths; lengths
    drawn from a range stagger its finishes, and only the first round is a burst, as for mixing engines."""
    assert derived_burst_share("sglang") == 1.0
    assert derived_burst_share("sglang", lengths_vary=True) == 1.0 / BENCHMARK_ROUNDS == 0.1
    assert derived_burst_share("trtllm", lengths_vary=True) == derived_burst_share("trtllm") == 0.1


def _row(source: str) -> Row:
    return Row(2, {"id": "x", "silicon_data_source": source})


INFERENCEX = "source_file=2026-04-06.csv; model=DeepSeek-R1; silicon_concurrency=32; wip=False"
DB = "db-dump/2026-04-27; config_id=81; silicon_concurrency=16; workflow_run_id=337"
GAP = "source_file=/Users/x/aic-auto-gap-analysis/data/h200_sxm/sglang/0.5.6.post2/m.csv; silicon_concurrency=8"


def test_inferencex_rows_and_their_recipes():
    """The InferenceX recipes (github.com/SemiAnalysisAI/InferenceX, benchmarks/single_node/fixed_seq_len):
    --random-range-ratio 0.8 for every run; on B200, SGLang's --scheduler-recv-interval 30 for DeepSeek-R1 at
    concurrency >= 16 (10 below, 10 at tp 4 in FP8, none with DP attention) and for Qwen3.5 above
    concurrency 4 (10 at or below); none on H200 or for other engines and sources."""
    assert inferencex_run(_row(INFERENCEX)) and inferencex_run(_row(DB)) and not inferencex_run(_row(GAP))
    assert inferencex_run(_row("source_file=qwen3.5-397b-gap-analysis.csv; silicon_concurrency=16"))
    assert not inferencex_run(_row("source_file=other-gap-analysis.csv; silicon_concurrency=16"))
    assert lengths_vary(_row(DB)) and not lengths_vary(_row(GAP))
    ds, qwen = "deepseek-ai/DeepSeek-R1", "Qwen/Qwen3.5-397B-A17B"
    row = _row(INFERENCEX)
    assert recv_interval(row, "sglang", "b200_sxm", ds, 16, 8, 1, "nvfp4") == 30
    assert recv_interval(row, "sglang", "b200_sxm", ds, 8, 8, 1, "nvfp4") == 10
    assert recv_interval(row, "sglang", "b200_sxm", ds, 64, 4, 1, "fp8-block") == 10
    assert recv_interval(row, "sglang", "b200_sxm", ds, 64, 8, 8, "nvfp4") == 1
    assert recv_interval(row, "sglang", "b200_sxm", qwen, 5, 8, 1, "fp8-block") == 30
    assert recv_interval(row, "sglang", "b200_sxm", qwen, 4, 8, 1, "fp8-block") == 10
    assert recv_interval(row, "sglang", "h200_sxm", ds, 64, 8, 1, "fp8-block") == 1
    assert recv_interval(row, "trtllm", "b200_sxm", ds, 64, 8, 1, "nvfp4") == 1
    assert recv_interval(_row(GAP), "sglang", "b200_sxm", ds, 64, 8, 1, "nvfp4") == 1
