"""Pipelined serving workers (pp > 1): an iteration is the pipeline's period, max(stages + hand-offs,
m x the fullest stage), of the loaded one of m micro-batches (serving/engine_cost.py,
parallel/pipeline.py).

Oracles: the single-device engine (``lr.analyze``: its operator table split by hand into the two
stages' layers and ends, and its whole-generation decode sum), the hand-off's alpha-beta time derived by
hand from the system's NVLink numbers, Llama-3.1-8B's parameter and KV sizes from its config, the
simulation against the closed form, and the plan's points against estimate_serving of the same worker."""

from __future__ import annotations

import json

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.api import analyze_many, load_system
from llm_roofline.hardware.spec import IDEAL
from llm_roofline.parallel.options import make_deployment
from llm_roofline.parallel.pipeline import part_sums, pipeline_period_s
from llm_roofline.scenario import Scenario
from llm_roofline.serving.api import serving_costs
from llm_roofline.serving.engine_cost import engine_cost
from llm_roofline.serving.scheduler import SchedulerConfig
from llm_roofline.serving.setup import Formats

from conftest import llama, small_moe
from sim_checks import middle_half

SYSTEM = "dgx-h100"  # 8 x H100 SXM: HBM 3.35 TB/s (80 GB), NVLink 450 GB/s per direction, 0.79 us (systems.yaml)
HBM, NVLINK, NVLINK_LATENCY = 3.35e12, 450e9, 0.79e-6
D, L = 256, 4
SMALL = dict(formats=["bf16"], max_batch_tokens=[2048], batches=(1, 4, 16), isl=1000, osl=200)


def tiny(V: int):
    """4 layers of width 256; a vocabulary of 32,000 makes the tail (lm_head, 16 MB) the heaviest stage,
    one of 1,000 leaves the stages balanced."""
    return llama("tiny-pp", D=D, L=L, N=4, K=4, F=512, V=V)


def handoff_s(tokens: float) -> float:
    """One send/recv of the residual between two stages on one node (bf16: tokens x D x 2 bytes), by hand:
    the link's alpha-beta time (one step: latency + bytes / bandwidth) or, if longer, reading and writing
    the buffer in HBM (2 x bytes / bandwidth)."""
    size = tokens * D * 2.0
    return max(NVLINK_LATENCY + size / NVLINK, 2.0 * size / HBM)


def parts(costs, column: int = 0) -> dict[str, float]:
    """count x time (s) of the head, layer and tail rows of a one-device table."""
    per_op = costs.time_s[:, column] * costs.table.counts
    where = np.array(costs.table.parts)
    return {p: float(per_op[where == p].sum()) for p in ("head", "layer", "tail")}


def test_one_request_through_two_stages_is_both_stages_plus_one_handoff():
    """Concurrency 1 on pp 2: the prompt passes stage 1 (head + 2 layers), a hand-off of P tokens, stage 2
    (2 layers + tail), each token of the decode likewise with a hand-off of one token; the closed form and
    the simulation give the same."""
    P, G = 300, 20
    model = tiny(32000)
    one = analyze_many(model, "h100-sxm", prompt_len=P, gen_len=G - 1, flash_attention=True)
    p = parts(one.prefill)
    per_layer = p["layer"] / L
    stage1, stage2 = p["head"] + 2 * per_layer, 2 * per_layer + p["tail"]
    ttft = stage1 + stage2 + handoff_s(P)
    decode = float(one.generation.decode_s[0]) + (G - 1) * handoff_s(1)
    report = lr.simulate(model, SYSTEM, concurrency=1, requests=2, isl=P, osl=G, deployment={"pp": 2})
    r = report.simulation.per_request
    np.testing.assert_allclose(r["ttft_s"], ttft, rtol=1e-9)
    np.testing.assert_allclose(r["e2e_s"] - r["ttft_s"], decode, rtol=1e-9)
    assert report.steady["ttft_s"] == pytest.approx(ttft, rel=1e-9)
    assert report.steady["e2e_s"] == pytest.approx(ttft + decode, rel=1e-9)
    assert report.simulation.gpus == 2 and report.deployment["pp"] == 2


@pytest.mark.parametrize(("V", "bound"), [(32000, "stage"), (1000, "round trip")])
def test_a_full_pipeline_makes_pp_micro_batches_of_tokens_per_period(V, bound):
    """8 decoders on pp 2: two micro-batches of 4. By hand from the one-device decode step at batch 4:
    the fullest stage u = max(head, tail) + 2 of 4 layers, the round trip = all stages + a hand-off of 4
    tokens, period = max(round trip, 2 u); 8 tokens per period."""
    model, S = tiny(V), 700.0
    system = load_system(SYSTEM, multi_device=True)
    cost = engine_cost(model, system.device, IDEAL, Scenario.build(flash_attention=True), make_deployment(pp=2),
                       system)
    p = parts(analyze_many(model, "h100-sxm", batch_size=4, prompt_len=S, flash_attention=True).decode)
    u = max(p["head"], p["tail"]) + p["layer"] / 2
    round_trip = p["head"] + p["layer"] + p["tail"] + handoff_s(4)
    assert (2 * u > round_trip) == (bound == "stage")  # both branches of the maximum are exercised
    period = max(round_trip, 2 * u)
    assert cost.iteration_s(8.0, S, 0.0, 1.0, 1.0)[0] == pytest.approx(period, rel=1e-9)
    # one request alone pays the round trip of a micro-batch of one
    p1 = parts(analyze_many(model, "h100-sxm", batch_size=1, prompt_len=S, flash_attention=True).decode)
    alone = p1["head"] + p1["layer"] + p1["tail"] + handoff_s(1)
    assert cost.iteration_s(1.0, S, 0.0, 1.0, 1.0)[0] == pytest.approx(alone, rel=1e-9)


@pytest.mark.parametrize(("V", "pp", "n"), [(32000, 2, 8), (1000, 2, 8), (32000, 3, 9), (1000, 3, 9)])
def test_analyzes_decode_step_is_the_serving_iteration(V, pp, n):
    """One worker of pp stages (3 does not divide the 4 layers), its n decoders at S keys in pp micro-batches
    of n / pp, priced by analyze (the pipeline's decode step of a batch of n) and by serving (an iteration):
    the same period max(stages + H, m u), whichever term wins."""
    model, S = tiny(V), 700
    system = load_system(SYSTEM, multi_device=True)
    cost = engine_cost(model, system.device, IDEAL, Scenario.build(flash_attention=True), make_deployment(pp=pp),
                       system)
    step = lr.analyze(model, SYSTEM, pp=pp, batch_size=n, prompt_len=S, flash_attention=True).parallelism
    assert step["micro_batches"] == pp and step["device_batch"] == n // pp
    assert step["decode_step_s"] == pytest.approx(cost.iteration_s(float(n), float(S), 0.0, 1.0, 1.0)[0], rel=1e-9)


def test_the_pipeline_formula_at_one_stage_is_the_sum_of_every_row():
    """pp = 1, one micro-batch: period = stages = every row's count x time, what a worker of one stage pays."""
    model = small_moe()
    system = load_system(SYSTEM, multi_device=True)
    costs = analyze_many(model, SYSTEM, batch_size=[3, 20], prompt_len=[50, 900], tp=2).decode
    s = part_sums(costs.table, costs.time_s * costs.table.counts[:, None])
    np.testing.assert_allclose(pipeline_period_s(s, 1, 1.0, 1), costs.table.counts @ costs.time_s, rtol=1e-12)
    assert system.devices_per_node == 8


@pytest.mark.parametrize("options", [{"pp": 2}, {"pp": 2, "tp": 2}, {"pp": 3, "attention_dp": 2, "ep": 2}])
def test_simulation_and_closed_form_agree_at_concurrency_one(options):
    """Three layers over 2 stages (2 + 1: the fullest stage's share ceil(3/2)/3) or 3, with TP, attention
    DP and EP inside each stage: one request alone is priced the same by both evaluators."""
    report = lr.simulate(small_moe(), SYSTEM, concurrency=1, requests=3, isl=400, osl=30, deployment=options)
    r = report.simulation.per_request
    np.testing.assert_allclose(r["ttft_s"], report.steady["ttft_s"], rtol=1e-9)
    np.testing.assert_allclose(r["e2e_s"], report.steady["e2e_s"], rtol=1e-9)
    assert report.simulation.gpus == int(np.prod(list(options.values())) / options.get("ep", 1))


@pytest.mark.parametrize(("deployment", "concurrency"), [({"tp": 2, "pp": 2}, 24), ({"pp": 4}, 32)])
def test_closed_form_is_close_to_the_simulation_of_a_loaded_pipeline(deployment, concurrency):
    """A closed loop's steady window (the middle half of the requests) against estimate_serving's closed
    form, with the workload and tolerances one-stage workers are checked with (test_serving_sim_engine.py;
    measured here: within 2 % on TPOT, 3 % on requests/s, 1 % on TTFT)."""
    kw = dict(concurrency=concurrency, deployment=deployment)
    report = lr.simulate("llama-3.1-8b", SYSTEM, requests=20 * concurrency, isl="uniform:750:1250",
                         osl="uniform:150:250", seed=3, **kw)
    est = lr.estimate_serving("llama-3.1-8b", SYSTEM, isl=1000, osl=200, **kw)
    seen = middle_half(report.simulation.per_request)
    assert est["tpot_s"][0] == pytest.approx(seen["tpot"], rel=0.05)
    assert est["requests_per_s"][0] == pytest.approx(seen["rate"], rel=0.05)
    assert est["ttft_s"][0] == pytest.approx(seen["ttft"], rel=0.25)


def test_each_micro_batch_is_scheduled_with_the_whole_budget():
    """Budget 512, two prompts of 512 at once: one stage's worker prefills them in two iterations (the
    second waits), a pipeline of 2 in one period (a micro-batch each)."""
    kw = dict(concurrency=2, requests=2, isl=512, osl=4, max_batch_tokens=512, max_seqs=2)
    flat = lr.simulate("llama-3.1-8b", SYSTEM, deployment={"tp": 2}, **kw).simulation.per_request["ttft_s"]
    piped = lr.simulate("llama-3.1-8b", SYSTEM, deployment={"pp": 2}, **kw).simulation.per_request["ttft_s"]
    assert flat[1] > 1.5 * flat[0]
    assert piped[1] == pytest.approx(piped[0], rel=1e-12)
    assert SchedulerConfig(max_batch_tokens=512).period_tokens(2) == 1024


def test_a_stage_holds_half_the_weights_and_half_the_kv_cache():
    """Llama-3.1-8B (config.json: D 4096, 32 layers, 8 KV heads of 128, F 14336, V 128256, untied) on pp 2:
    the fullest stage holds 16 layers and the larger end (lm_head + final norm), and the KV of its 16
    layers."""
    Dm, Lm, KH, F, V = 4096, 32, 8 * 128, 14336, 128256
    per_layer = 2 * Dm * Dm + 2 * Dm * KH + 3 * Dm * F + 2 * Dm  # q, o; k, v; gate, up, down; two norms
    cache = serving_costs("llama-3.1-8b", SYSTEM, several=True)
    pool = cache.pool(Formats(16, 16, 16), SchedulerConfig(), deployment=make_deployment(pp=2))
    assert pool.kv.weights_bytes == pytest.approx(2.0 * (V * Dm + Dm + Lm // 2 * per_layer), rel=1e-12)
    assert pool.kv.page_bytes == pytest.approx(16 * (Lm // 2) * 2 * KH * 2, rel=1e-12)  # a block of 16 tokens
    assert pool.gpus_per_worker == 2


def test_disaggregated_pools_of_pipelines():
    """Prefill and decode workers of pp 2 each, one request alone: TTFT = the pipelined prefill + the KV
    transfer (P x 131,072 bytes of KV per token over both devices' links, 450 GB/s each), TPOT = the
    pipelined decode; the closed form agrees with the simulation."""
    P, G = 700, 40
    agg = lr.simulate("llama-3.1-8b", SYSTEM, concurrency=1, requests=2, isl=P, osl=G, deployment={"pp": 2})
    report = lr.simulate("llama-3.1-8b", SYSTEM, concurrency=1, requests=2, isl=P, osl=G, disagg=True,
                         prefill_deployment={"pp": 2}, decode_deployment={"pp": 2})
    r, a = report.simulation.per_request, agg.simulation.per_request
    transfer = P * (2 * 32 * 8 * 128 * 2) / (2 * NVLINK)
    np.testing.assert_allclose(r["ttft_s"], a["ttft_s"] + transfer, rtol=1e-9)
    np.testing.assert_allclose(r["tpot_s"], a["tpot_s"], rtol=1e-9)
    assert report.steady["ttft_s"] == pytest.approx(r["ttft_s"][0], rel=1e-9)
    assert report.steady["tpot_s"] == pytest.approx(r["tpot_s"][0], rel=1e-6)
    assert (report.deployment["prefill_pp"], report.deployment["decode_pp"], report.simulation.gpus) == (2, 2, 4)


def _rows(result, **match) -> list[int]:
    return [i for i, c in enumerate(result.configs) if all(c.get(k) == v for k, v in match.items())]


def test_plan_searches_pipeline_stages_and_skips_the_invalid_ones():
    result = lr.plan("llama-3.1-8b", "h100-sxm", gpus=6, tp=[1], pp=[1, 2, 3, 8], modes=["agg"], **SMALL)
    assert {c["pp"] for c in result.configs} == {1, 2}
    reasons = {s["pp"]: s["reason"] for s in result.skipped}
    assert "pp (3) does not divide the 32 layers" in reasons[3]
    assert "exceeds the 6 GPUs" in reasons[8]
    # a pp 2 point: three replicas of the pp 2 worker that estimate_serving prices
    row = [i for i in _rows(result, pp=2) if result.columns["batch"][i] == 16][0]
    one = lr.estimate_serving("llama-3.1-8b", "h100-sxm", concurrency=16, isl=1000, osl=200, max_batch_tokens=2048,
                              max_seqs=16, deployment={"pp": 2})
    assert result.columns["requests_per_s"][row] == pytest.approx(3 * one["requests_per_s"][0], rel=1e-12)
    assert result.columns["tpot_s"][row] == pytest.approx(one["tpot_s"][0], rel=1e-12)
    assert result.row(row)["devices_per_worker"] == 2 and result.row(row)["workers"] == 3


def test_plan_by_default_adds_pipelines_within_the_gpus():
    result = lr.plan("llama-3.1-8b", "h100-sxm", gpus=4, modes=["agg"], **SMALL)
    layouts = {(c["tp"], c["pp"]) for c in result.configs}
    assert layouts == {(1, 1), (2, 1), (4, 1), (1, 2), (2, 2), (1, 4)}


def run(capsys, *argv) -> tuple[int, str, str]:
    from llm_roofline.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_takes_pipeline_stages(capsys):
    args = ["serve-sim", "llama-3.1-8b", "h100-sxm", "-c", "4", "-n", "12", "--isl", "500", "--osl", "40"]
    code, out, _ = run(capsys, *args, "--tp", "2", "--pp", "2", "-f", "json")
    api = lr.simulate("llama-3.1-8b", "h100-sxm", concurrency=4, requests=12, isl=500, osl=40,
                      deployment={"tp": 2, "pp": 2})
    cli = json.loads(out)
    assert code == 0 and cli["deployment"]["pp"] == 2 and cli["gpus"] == 4
    assert cli["ttft_s"]["mean"] == pytest.approx(api.simulation.ttft_s.mean, rel=1e-12)
    code, out, _ = run(capsys, *args, "--tp", "2", "--pp", "2")
    assert code == 0 and "of tp 2 x pp 2" in out
    code, out, _ = run(capsys, *args, "--disagg", "--prefill-pp", "2", "--decode-pp", "2", "-f", "json")
    assert code == 0 and json.loads(out)["deployment"]["decode_pp"] == 2
    code, out, _ = run(capsys, "plan", "llama-3.1-8b", "h100-sxm", "--gpus", "4", "--tp", "1", "--pp", "1,2",
                       "--modes", "agg", "--formats", "bf16", "--max-batch-tokens", "2048", "-f", "json",
                       "--all-points")
    assert code == 0 and {p["pp"] for p in json.loads(out)["points"]} == {1, 2}


@pytest.mark.parametrize(("argv", "words"), [
    (["serve-sim", "llama-3.1-8b", "h100-sxm", "-c", "2", "--pp", "64"], "pp (64) exceeds the model's 32 layers"),
    (["serve-sim", "llama-3.1-8b", "h100-sxm", "-c", "2", "--pp", "0"], "--pp"),
    (["serve-sim", "llama-3.1-8b", "h100-sxm", "-c", "2", "--prefill-pp", "2"], "--disagg"),
    (["plan", "llama-3.1-8b", "h100-sxm", "--pp", "0"], "--pp"),
])
def test_cli_errors_are_one_line(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code != 0 and out == "" and words in err and len(err.strip().splitlines()) == 1
