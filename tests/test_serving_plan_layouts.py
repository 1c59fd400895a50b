"""The deployment search over worker layouts (tensor, expert and attention-data parallelism): each point
against estimate_serving of the same multi-device worker, the defaults, and invalid layouts skipped."""

from __future__ import annotations

import json

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.api import load_system
from llm_roofline.cli import main
from llm_roofline.serving.plan_layouts import default_layouts

SMALL = dict(isl=1000, osl=200, formats=["bf16"], max_batch_tokens=[4096], batches=(1, 4, 16, 64))


def _rows(result, **match) -> list[int]:
    return [i for i, c in enumerate(result.configs) if all(c.get(k) == v for k, v in match.items())]


def test_a_tp4_point_is_estimate_serving_of_a_tp4_worker_times_the_workers():
    result = lr.plan("llama-3.1-8b", "h100-sxm", gpus=8, tp=[4], modes=["agg"], **SMALL)
    cols = result.columns
    i = _rows(result, tp=4, mode="agg")
    row = [j for j in i if cols["batch"][j] == 16][0]
    assert result.configs[row]["workers"] == 2 and result.configs[row]["devices_per_worker"] == 4
    # one tp-4 worker at 16 requests, by the engine (estimate_serving), then two such workers on 8 GPUs
    one = lr.estimate_serving("llama-3.1-8b", "h100-sxm", concurrency=16, isl=1000, osl=200, max_batch_tokens=4096,
                              max_seqs=64, deployment={"tp": 4})
    assert cols["tpot_s"][row] == pytest.approx(one["tpot_s"][0], rel=1e-12)
    assert cols["ttft_s"][row] == pytest.approx(one["ttft_s"][0], rel=1e-12)
    assert cols["requests_per_s"][row] == pytest.approx(2 * one["requests_per_s"][0], rel=1e-12)
    assert cols["concurrency"][row] == 32
    # tokens/s per GPU counts every device of both workers: 2 workers x rate x 200 tokens / 8 GPUs
    assert cols["tokens_per_s_per_gpu"][row] == pytest.approx(2 * one["requests_per_s"][0] * 200 / 8, rel=1e-12)


def test_a_disaggregated_tp2_point_uses_tp2_pools():
    result = lr.plan("llama-3.1-8b", "h100-sxm", gpus=4, tp=[2], modes=["disagg"], **SMALL)
    rows = _rows(result, tp=2, mode="disagg")
    assert rows and {(result.columns["prefill_workers"][j], result.columns["decode_workers"][j]) for j in rows} \
        == {(1.0, 1.0)}  # 4 GPUs = two tp-2 workers: one prefill, one decode
    j = rows[len(rows) // 2]
    c = result.columns["concurrency"][j]
    est = lr.estimate_serving("llama-3.1-8b", "h100-sxm", concurrency=c, isl=1000, osl=200, max_batch_tokens=4096,
                              max_seqs=64, disagg=True, prefill_deployment={"tp": 2}, decode_deployment={"tp": 2})
    # the closed-loop form interpolates its curve at the concurrency: equal to its grid's precision
    assert result.columns["tpot_s"][j] == pytest.approx(est["tpot_s"][0], rel=1e-3)
    assert result.columns["requests_per_s"][j] == pytest.approx(est["requests_per_s"][0], rel=1e-3)


def test_llama_70b_on_8_h100_gets_bf16_at_tp2_and_up_and_skips_tp1():
    result = lr.plan("llama-3.1-70b", "h100-sxm", gpus=8, formats=["bf16"], modes=["agg"], max_batch_tokens=[2048],
                     batches=(1, 8, 64))
    tps = {c["tp"] for c in result.configs if c["pp"] == 1}
    # 70.6e9 parameters x 2 bytes = 141 GB > 80 GB of one H100 (by hand); 141 / 4 = 35 GB per device fits,
    # on 4 tensor-parallel devices or in 4 pipeline stages of one device each
    assert min(tps) >= 2 and {4, 8} <= tps
    assert any(c["tp"] == 1 and c["pp"] == 4 for c in result.configs)
    assert all(c["format"] == "bf16" for c in result.configs)
    one = [s for s in result.skipped if s.get("tp") == 1 and s.get("pp") == 1]
    assert one and "does not fit" in one[0]["reason"]
    best = result.row(result.best)
    assert best["gpus"] == 8 and best["workers"] * best["devices_per_worker"] == 8


def test_a_layout_that_does_not_divide_the_heads_is_skipped_with_the_reason():
    # Qwen2.5-7B: 28 query heads (its config.json), so tp 8 cannot split them; tp 4 can
    result = lr.plan("qwen2.5-7b", "h100-sxm", gpus=8, tp=[4, 8], modes=["agg"], **SMALL)
    assert {c["tp"] for c in result.configs} == {4}
    [skip] = [s for s in result.skipped if s.get("tp") == 8]
    assert "28" in skip["reason"] and "tp (8)" in skip["reason"]
    # a worker larger than the GPUs, or one that does not divide them, is skipped too
    result = lr.plan("llama-3.1-8b", "h100-sxm", gpus=6, tp=[4], modes=["agg"], **SMALL)
    assert not result.configs and "does not divide the 6 GPUs" in result.skipped[0]["reason"]


def test_a_device_without_a_system_has_one_device_per_worker(a6000):
    assert default_layouts(lr.load_model("llama-2-7b"), None, 8) == [(1, 1, 1, 1)]
    result = lr.plan("llama-2-7b", a6000, gpus=4, tp=[1, 2], modes=["agg"], **SMALL)
    assert {c["tp"] for c in result.configs} == {1}
    assert "needs a system" in [s for s in result.skipped if s.get("tp") == 2][0]["reason"]


def test_moe_models_get_expert_parallel_layouts():
    spec = lr.load_model("mixtral-8x7b")
    system = load_system("h100-sxm")
    layouts = default_layouts(spec, system, 8)
    # dense-style TP, EP under TP (ep = tp) and attention-DP x EP, in powers of two up to a node of 8
    assert {(1, 1, 1, 1), (8, 1, 1, 1), (8, 8, 1, 1), (1, 8, 8, 1), (1, 2, 2, 1), (2, 2, 1, 4)} <= set(layouts)
    # and each with 1, 2 and 4 pipeline stages while the worker stays within the GPUs
    assert default_layouts(lr.load_model("llama-3.1-8b"), system, 8) == [
        (1, 1, 1, 1), (2, 1, 1, 1), (4, 1, 1, 1), (8, 1, 1, 1), (1, 1, 1, 2), (2, 1, 1, 2), (4, 1, 1, 2),
        (1, 1, 1, 4), (2, 1, 1, 4)]
    assert default_layouts(lr.load_model("llama-3.1-8b"), system, 2) == [(1, 1, 1, 1), (2, 1, 1, 1), (1, 1, 1, 2)]
    result = lr.plan(spec, "h100-sxm", gpus=8, formats=["fp8"], modes=["agg"], max_batch_tokens=[4096],
                     batches=(4, 16), isl=1000, osl=200)
    eps = {(c["tp"], c["ep"], c["attention_dp"]) for c in result.configs if c["pp"] == 1}
    assert (1, 4, 4) in eps and (4, 4, 1) in eps
    row = [i for i in _rows(result, tp=1, ep=4, attention_dp=4, pp=1) if result.columns["batch"][i] == 16][0]
    one = lr.estimate_serving(spec, "h100-sxm", concurrency=16, isl=1000, osl=200, max_batch_tokens=4096, max_seqs=16,
                              w_bits="fp8", a_bits="fp8", kv_bits="fp8", deployment={"attention_dp": 4, "ep": 4})
    assert result.columns["requests_per_s"][row] == pytest.approx(2 * one["requests_per_s"][0], rel=1e-12)
    assert result.columns["tpot_s"][row] == pytest.approx(one["tpot_s"][0], rel=1e-12)


def test_ep_needs_experts_and_a_system_name_is_taken():
    result = lr.plan("llama-3.1-8b", "dgx-h100", gpus=8, tp=[2], ep=[1, 2], modes=["agg"], **SMALL)
    assert {(c["tp"], c["ep"]) for c in result.configs} == {(2, 1)}
    assert "mixture-of-experts" in [s for s in result.skipped if s.get("ep") == 2][0]["reason"]


def test_the_process_pool_gives_the_same_multi_device_points():
    kwargs = dict(gpus=4, tp=[1, 2], modes=["agg"], **SMALL)
    one = lr.plan("llama-3.1-8b", "h100-sxm", processes=1, **kwargs)
    two = lr.plan("llama-3.1-8b", "h100-sxm", processes=2, **kwargs)
    assert two.search["processes"] == 2 and one.configs == two.configs
    np.testing.assert_array_equal(one.columns["tokens_per_s_per_gpu"], two.columns["tokens_per_s_per_gpu"])


def test_bad_layout_lists_are_errors():
    with pytest.raises(lr.ScenarioError, match="tp"):
        lr.plan("llama-3.1-8b", "h100-sxm", tp=[0])
    with pytest.raises(lr.ScenarioError, match="at most 64"):
        lr.plan("llama-3.1-8b", "h100-sxm", tp=[1, 2, 4, 8, 16], ep=[1, 2, 4, 8], attention_dp=[1, 2, 4, 8, 16])


def test_plan_cli_takes_layouts(capsys):
    assert main(["plan", "llama-3.1-70b", "h100-sxm", "--gpus", "8", "--tp", "1,4", "--formats", "bf16", "--modes",
                 "agg", "--max-batch-tokens", "2048"]) == 0
    out = capsys.readouterr().out
    assert "agg x2 tp4" in out and "skipped agg bf16 tp1: " in out and "does not fit" in out
    assert main(["plan", "mixtral-8x7b", "dgx-h100", "--gpus", "8", "--tp", "1", "--ep", "8", "--attention-dp", "8",
                 "--formats", "fp8", "--modes", "agg", "--max-batch-tokens", "2048", "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    best = data["best"]
    assert (best["tp"], best["ep"], best["attention_dp"], best["workers"]) == (1, 8, 8, 1)
    assert best["tokens_per_s_per_gpu"] == pytest.approx(best["output_tokens_per_s"] / 8, rel=1e-12)


def test_the_fewest_devices_are_whole_workers():
    result = lr.plan("llama-3.1-70b", "h100-sxm", gpus=8, tp=[2], formats=["fp8"], modes=["agg"], tpot_slo=0.05,
                     max_batch_tokens=[2048], batches=(16, 64), isl=1000, osl=200, target_rate=30.0)
    cols = result.columns
    ok = cols["tpot_s"] <= 0.05
    per_worker = (cols["requests_per_s"][ok] / cols["gpus"][ok] * 2).max()  # each worker is 2 GPUs
    # ceil(30 / one worker's best rate) workers of 2 devices each
    assert result.target["gpus"] == 2 * int(np.ceil(30.0 / per_worker))
    assert result.target["point"]["tp"] == 2


def test_a_resolved_calibrated_setting_prices_collectives_as_its_name():
    """estimate_serving with efficiency="calibrated" and with the resolved setting (what the CLI and the web
    pass) give the same numbers: both cost a multi-device worker's collectives with the fitted curves."""
    from llm_roofline.api import load_hardware, resolve_efficiency
    from llm_roofline.parallel.choices import default_comm

    eff = resolve_efficiency("calibrated", load_hardware("h100-sxm"), engine="vllm")
    assert default_comm(eff) == default_comm("calibrated") == "fitted"
    kw = dict(concurrency=8, isl=1000, osl=100, deployment={"tp": 4})
    by_name = lr.estimate_serving("llama-3.1-8b", "h100-sxm", efficiency="calibrated", engine="vllm", **kw)
    resolved = lr.estimate_serving("llama-3.1-8b", "h100-sxm", efficiency=eff, **kw)
    assert resolved["tpot_s"][0] == by_name["tpot_s"][0] and resolved["ttft_s"][0] == by_name["ttft_s"][0]


def test_a_plan_with_nothing_evaluated_says_so(capsys):
    assert main(["plan", "llama-3.1-8b", "h100-sxm", "--tp", "3"]) == 0
    out = capsys.readouterr().out
    assert "no configuration could be evaluated" in out and "skipped tp3" in out
