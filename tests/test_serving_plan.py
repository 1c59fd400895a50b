"""The deployment search: Pareto front, SLO selection, rate at the SLOs, fewest devices, and its faces."""

from __future__ import annotations

import json

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.cli import main
from llm_roofline.serving.pareto import SLO, best_under_slo, pareto_front

from conftest import llama


def test_pareto_front_by_hand():
    # (per GPU, per user): (1,10) (2,9) (2,8) (3,3) (1,1) (2.5,9)
    per_gpu = np.array([1.0, 2.0, 2.0, 3.0, 1.0, 2.5, np.nan])
    per_user = np.array([10.0, 9.0, 8.0, 3.0, 1.0, 9.0, 5.0])
    assert pareto_front(per_gpu, per_user).tolist() == [0, 5, 3]
    ok = SLO(ttft_s=1.0, tpot_s=0.2).met(np.array([0.5, 2.0, 0.5, 0.5, 0.5, 0.5, 0.5]), 1 / per_user)
    assert ok.tolist() == [True, False, True, False, False, True, True]
    assert best_under_slo(per_gpu, per_user, ok) == 5


def _small(**kwargs):
    a6000 = kwargs.pop("device")
    return lr.plan(llama(), a6000, isl=1000, osl=200, formats=["bf16", "w4a16"], max_batch_tokens=[4096],
                   batches=(1, 4, 16, 64), link_bandwidth_bytes_per_s=100e9, **kwargs)


def test_plan_front_and_best(a6000):
    result = _small(device=a6000, gpus=4, ttft_slo=0.5, tpot_slo=0.03)
    cols = result.columns
    front = result.pareto
    # every point is dominated by (or on) the front
    for i in range(len(result.configs)):
        if np.isfinite(cols["tokens_per_s_per_gpu"][i]):
            assert any(cols["tokens_per_s_per_gpu"][j] >= cols["tokens_per_s_per_gpu"][i]
                       and cols["tokens_per_s_per_user"][j] >= cols["tokens_per_s_per_user"][i] for j in front)
    best = result.row(result.best)
    assert best["ttft_s"] <= 0.5 and best["tpot_s"] <= 0.03
    ok = result.slo.met(cols["ttft_s"], cols["tpot_s"])
    assert best["tokens_per_s_per_gpu"] == cols["tokens_per_s_per_gpu"][ok].max()
    assert {c["mode"] for c in result.configs} == {"agg", "disagg"}
    # an aggregated point is the steady state of one replica, times the replicas
    agg = [i for i, c in enumerate(result.configs) if c["mode"] == "agg" and c["format"] == "bf16"
           and cols["batch"][i] == 16][0]
    one = lr.estimate_serving(llama(), a6000, concurrency=16, isl=1000, osl=200, max_batch_tokens=4096, max_seqs=64)
    assert cols["requests_per_s"][agg] == pytest.approx(4 * one["requests_per_s"][0], rel=1e-12)
    assert cols["tpot_s"][agg] == pytest.approx(one["tpot_s"][0], rel=1e-12)
    assert result.max_rate_at_slo == cols["requests_per_s"][ok].max()


def test_fewest_devices_for_a_target_rate(a6000):
    result = _small(device=a6000, gpus=2, tpot_slo=0.03, target_rate=30.0, modes=["agg"])
    target = result.target
    cols = result.columns
    ok = result.slo.met(cols["ttft_s"], cols["tpot_s"])
    per_device = (cols["requests_per_s"] / cols["gpus"])[ok].max()
    assert target["mode"] == "agg" and target["gpus"] == int(np.ceil(30.0 / per_device))
    assert target["rate_per_s"] >= 30.0


def test_a_device_without_a_link_skips_disaggregation(a6000):
    result = lr.plan(llama(), a6000, gpus=2, isl=1000, osl=200, formats=["bf16"], batches=(1, 8))
    assert {c["mode"] for c in result.configs} == {"agg"}
    assert result.skipped[0]["mode"] == "disagg" and "link" in result.skipped[0]["reason"]


def test_unmeetable_slos_say_so(a6000):
    result = _small(device=a6000, gpus=1, tpot_slo=1e-6, target_rate=1.0)
    assert result.best is None and result.max_rate_at_slo is None
    assert result.target["gpus"] is None


def test_process_pool_gives_the_same_answer(a6000):
    one = _small(device=a6000, gpus=2, tpot_slo=0.03, modes=["agg"], processes=1)
    two = _small(device=a6000, gpus=2, tpot_slo=0.03, modes=["agg"], processes=2)
    assert two.search["processes"] == 2
    np.testing.assert_array_equal(one.columns["tokens_per_s_per_gpu"], two.columns["tokens_per_s_per_gpu"])


def test_plan_cli_table_and_json(capsys, tmp_path):
    code = main(["plan", "llama-2-7b", "a6000", "--gpus", "2", "--isl", "1000", "--osl", "200", "--ttft-slo", "1s",
                 "--tpot-slo", "40ms", "--formats", "bf16", "--max-batch-tokens", "4096", "--max-rate-at-slo",
                 "--target-rate", "20"])
    out = capsys.readouterr().out
    assert code == 0 and "Pareto front" in out and "best under the SLOs" in out and "target 20 requests/s" in out
    path = tmp_path / "plan.json"
    assert main(["plan", "llama-2-7b", "a6000", "--gpus", "1", "--formats", "bf16", "--modes", "agg", "-f", "json",
                 "-o", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["gpus"] == 1 and data["pareto"] and data["best"] is not None


@pytest.mark.parametrize("argv", [["--ttft-slo", "fast"], ["--formats", "fp9"], ["--modes", "both"],
                                  ["--max-batch-tokens", "lots"], ["--gpus", "0"], ["--processes", "0"],
                                  ["--tpot", "50ms"],  # options are never abbreviated (--tpot-slo)
                                  ["--tp", "0"], ["--ep", "two"], ["--attention-dp", "none"]])
def test_plan_cli_errors_are_one_line(argv, capsys):
    assert main(["plan", "llama-2-7b", "a6000", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


def test_serve_sim_cli(capsys):
    assert main(["serve-sim", "llama-2-7b", "a6000", "-c", "4", "-n", "40", "--isl", "500", "--osl", "50"]) == 0
    out = capsys.readouterr().out
    assert "TTFT" in out and "closed form" in out
    assert main(["serve-sim", "llama-2-7b", "a6000", "--rate", "2", "-n", "50", "--isl", "uniform:100:300",
                 "--osl", "20", "--disagg", "--link-bandwidth", "100GB/s", "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # the keys README.md's serve-sim schema table lists
    assert set(data) == {"model", "hardware", "formats", "efficiency", "scheduler", "deployment", "workload",
                         "requests", "gpus", "duration_s", "iterations", "ttft_s", "tpot_s", "itl_s", "e2e_s",
                         "throughput", "little", "kv_cache", "kv_transfer_s", "steady_state"}
    assert data["deployment"]["mode"] == "disagg" and data["requests"] == 50
    assert set(data["ttft_s"]) == {"mean", "p50", "p90", "p99"} and data["steady_state"] is None
    assert data["kv_cache"]["preemptions"] == 0 and data["throughput"]["output_tokens_per_s"] > 0


@pytest.mark.parametrize("argv", [["-c", "4", "--rate", "2"], ["--isl", "normal:5"], ["-c", "4", "--chunk", "0"],
                                  ["--trace", "/nonexistent.jsonl"], ["-c", "2", "--link-bandwidth", "fast"]])
def test_serve_sim_cli_errors_are_one_line(argv, capsys):
    assert main(["serve-sim", "llama-2-7b", "a6000", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


def test_serving_plots(tmp_path, a6000):
    from llm_roofline import plots

    fig = plots.plot_pareto(llama(), a6000, output=tmp_path / "p.png", gpus=2, isl=500, osl=50, formats=["bf16"],
                            batches=(1, 8), tpot_slo=0.05, link_bandwidth_bytes_per_s=100e9)
    assert (tmp_path / "p.png").stat().st_size > 1000 and fig.axes[0].get_xscale() == "log"
    data = plots.load_data(llama(), a6000, isl=[300, 600], osl=50, concurrency=[1, 4, 64, 256], memory_fraction=0.42)
    assert [s.label for s in data.series] == ["input 300", "input 600"]
    # the KV cache holds fewer requests of 600 tokens than of 300: its limit comes earlier
    assert data.series[1].kv_limit < data.series[0].kv_limit
    plots.plot_load(llama(), a6000, output=tmp_path / "l.svg", isl=300, osl=20, rates=[1.0, 3.0], requests=30,
                    tpot_slo_s=0.03)
    assert (tmp_path / "l.svg").read_text().startswith("<?xml")


def test_plot_load_cli(tmp_path, capsys):
    out = tmp_path / "load.png"
    assert main(["plot", "load", "llama-2-7b", "a6000", "--concurrency", "1,8", "--isl", "500", "--osl", "50",
                 "-o", str(out), "--dpi", "50"]) == 0 and out.exists()
    assert main(["plot", "load", "llama-2-7b", "a6000", "-o", str(out)]) == 2
    assert "--rates or --concurrency" in capsys.readouterr().err
    assert main(["plot", "load", "llama-2-7b", "a6000", "--rates", "fast", "-o", str(out)]) == 2


def test_plan_calibrated_points_are_estimate_servings_with_the_engines_profile():
    """One engine, many faces: a calibrated plan point equals estimate_serving's default (the engine's
    fitted serving profile: its request overhead in TTFT, its share of the kernels' fixed costs)."""
    result = lr.plan("llama-3.1-8b", "h100-sxm", gpus=2, isl=1000, osl=200, formats=["bf16"], modes=["agg"],
                     max_batch_tokens=[4096], batches=(1, 16), efficiency="calibrated")
    cols = result.columns
    point = [i for i, c in enumerate(result.configs) if cols["batch"][i] == 16][0]
    one = lr.estimate_serving("llama-3.1-8b", "h100-sxm", concurrency=16, isl=1000, osl=200, max_batch_tokens=4096,
                              max_seqs=16, efficiency="calibrated")
    assert cols["ttft_s"][point] == pytest.approx(one["ttft_s"][0], rel=1e-9)
    assert cols["tpot_s"][point] == pytest.approx(one["tpot_s"][0], rel=1e-9)
    neutral = lr.estimate_serving("llama-3.1-8b", "h100-sxm", concurrency=16, isl=1000, osl=200,
                                  max_batch_tokens=4096, max_seqs=16, efficiency="calibrated", profile=None)
    assert cols["ttft_s"][point] > neutral["ttft_s"][0]  # the profile's request overhead is in
