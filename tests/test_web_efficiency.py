"""The efficiency setting on the web API: /api/meta offers the engine's modes and engine profiles, the
calibrated setting and its engine round-trip to exactly the engine's (and the CLI's) report, sweeps and
the whole-generation view work under it, and bad values get a 4xx naming the field.

Oracles: ``llm_roofline.analyze`` / ``sweep`` / ``advise`` called directly, the CLI's JSON, and the
calibrated model's own definition (docs/calibration.md): time = roofline_time / efficiency +
fixed_time with efficiency in (0, 1] and fixed_time >= 0, so an operator is never faster than its
roofline, and a calibrated generation is never faster than the ideal one.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import llm_roofline as lr  # noqa: E402
from llm_roofline.api import EFFICIENCY_MODES, load_hardware, resolve_efficiency  # noqa: E402
from llm_roofline.efficiency.engines import DEFAULT_ENGINE, ENGINES  # noqa: E402
from llm_roofline.web.server import serve_in_thread  # noqa: E402
from llm_roofline.web.wholegen import whole_generation_ops  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with serve_in_thread() as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response, field: str, *fragments: str) -> dict:
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["field"] == field, body
    for fragment in fragments:
        assert fragment in body["detail"], body
    return body


def test_meta_offers_the_engines_modes_and_profiles(client):
    meta = ok(client.get("/api/meta"))
    assert meta["efficiency_modes"] == list(EFFICIENCY_MODES) == ["ideal", "hardware", "calibrated"]
    assert [e["name"] for e in meta["engines"]] == list(ENGINES)
    assert meta["default_engine"] == DEFAULT_ENGINE == "generic"
    eager = next(e for e in meta["engines"] if e["name"] == "hf-eager")
    # docs/calibration.md: PyTorch eager runs without CUDA graphs at 27 us of host launch per kernel
    assert eager["cuda_graphs"] is False and eager["launch_overhead_s"] == pytest.approx(27e-6)
    assert all(e["notes"] for e in meta["engines"])


BODY = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "batch_size": 8, "prompt_len": 2048, "gen_len": 64}


@pytest.mark.parametrize("engine", list(ENGINES))
def test_calibrated_and_engine_round_trip(client, engine):
    got = ok(client.post("/api/analyze", json={**BODY, "efficiency": "calibrated", "engine": engine}))
    assert got == lr.analyze("llama-3.1-8b", "h100-sxm", batch_size=8, prompt_len=2048, gen_len=64,
                             efficiency="calibrated", engine=engine).to_dict()
    e = got["hardware"]["efficiency"]
    assert (e["mode"], e["engine"], e["kernels"]) == ("calibrated", engine, ENGINES[engine].kernels)
    assert e["curves_from"] == "h100_sxm"  # one of the four fitted systems: its own curves


def test_calibrated_equals_cli_json(client):
    got = ok(client.get("/api/analyze", params={"model": "mixtral-8x7b", "hardware": "h200", "w_bits": "fp8",
                                                "a_bits": "fp8", "efficiency": "calibrated", "engine": "trtllm"}))
    out = subprocess.run([sys.executable, "-m", "llm_roofline.cli", "analyze", "mixtral-8x7b", "h200", "--w-bits",
                          "fp8", "--a-bits", "fp8", "--efficiency", "calibrated", "--engine", "trtllm", "--format",
                          "json"], capture_output=True, text=True, check=True)
    assert got == json.loads(out.stdout)


def test_calibrated_default_engine_and_derived_device(client):
    """Without an engine the generic profile runs; a device without kernel tables says its curves are
    derived (docs/calibration.md: Ampere parts take the A100's)."""
    got = ok(client.post("/api/analyze", json={"model": "llama-2-7b", "hardware": "rtx-a6000",
                                               "efficiency": "calibrated"}))
    e = got["hardware"]["efficiency"]
    assert (e["engine"], e["curves_from"]) == ("generic", "a100_sxm") and "derived" in e["curves"]
    assert all(op["efficiency_source"].startswith("derived for rtx-a6000") for op in got["decode"]["ops"])


def test_calibrated_operators_stay_at_or_below_the_roofline(client):
    got = ok(client.post("/api/analyze", json={**BODY, "efficiency": "calibrated", "engine": "vllm"}))
    for stage in ("prefill", "decode"):
        for op in got[stage]["ops"]:
            assert 0 < op["efficiency"] <= 1 and op["fixed_time_s"] >= 0, op
            assert op["time_s"] == pytest.approx(op["roofline_time_s"] / op["efficiency"] + op["fixed_time_s"],
                                                 rel=1e-9), op
            assert op["time_s"] >= op["roofline_time_s"] * (1 - 1e-12), op
            if op["flops"] > 0:  # the achieved point sits at or below its place on the roofline
                assert op["performance_flops_per_s"] <= op["attainable_flops_per_s"] * (1 + 1e-12), op
            assert op["efficiency_source"], op


@pytest.mark.parametrize("body, field, fragments", [
    ({"efficiency": "calibrated", "engine": "vlm"}, "engine", ("engine", "vllm", "sglang", "hf-eager")),
    ({"efficiency": "calibrated", "engine": 3}, "engine", ("engine",)),
    ({"engine": "vllm"}, "engine", ("engine", "calibrated")),  # an engine without calibrated
    ({"efficiency": "hardware", "engine": "sglang"}, "engine", ("calibrated",)),
    ({"efficiency": "turbo"}, "efficiency", ("'ideal', 'hardware' or 'calibrated'",)),
    ({"efficiency": "calibrated", "compute_fraction": 0.5}, "compute_fraction", ("calibrated",)),
])
def test_bad_efficiency_settings_name_the_field(client, body, field, fragments):
    refused(client.post("/api/analyze", json={**BODY, **body}), field, *fragments)
    refused(client.post("/api/view", json={**BODY, **body}), field, *fragments)


def test_bad_engine_in_a_query_names_the_field(client):
    params = {"model": "llama-2-7b", "hardware": "h100", "efficiency": "calibrated", "engine": "tgi"}
    refused(client.get("/api/analyze", params=params), "engine", "trtllm")


def test_sweep_under_calibrated_is_the_engines_and_never_faster_than_ideal(client):
    batches = [1, 4, 16, 64, 256]
    body = {**BODY, "batch_size": batches, "efficiency": "calibrated", "engine": "sglang"}
    got = ok(client.post("/api/sweep", json=body))["columns"]
    want = lr.sweep("llama-3.1-8b", "h100-sxm", batch_size=batches, prompt_len=2048, gen_len=64,
                    efficiency="calibrated", engine="sglang").columns
    for name in ("ttft_s", "tpot_s", "throughput_tokens_per_s", "total_bytes", "fits"):
        assert got[name] == want[name].tolist(), name
    ideal = ok(client.post("/api/sweep", json={**body, "efficiency": "ideal", "engine": None}))["columns"]
    assert all(c >= i for c, i in zip(got["tpot_s"], ideal["tpot_s"], strict=True))
    assert all(c >= i for c, i in zip(got["ttft_s"], ideal["ttft_s"], strict=True))
    assert got["total_bytes"] == ideal["total_bytes"]  # the memory charts do not depend on the efficiency


def test_view_under_calibrated_sums_to_the_engines_generation(client):
    view = ok(client.post("/api/view", json={**BODY, "efficiency": "calibrated", "engine": "trtllm"}))
    a = lr.analyze_many("llama-3.1-8b", "h100-sxm", batch_size=8, prompt_len=2048, gen_len=64,
                        efficiency="calibrated", engine="trtllm")
    assert view["generation_ops"] == json.loads(json.dumps(whole_generation_ops(a)))
    ops = view["generation_ops"]
    g = view["report"]["generation"]
    assert sum(o["time_s"] * o["count"] for o in ops) == pytest.approx(g["e2e_s"], rel=1e-12)
    assert sum(o["prefill_time_s"] * o["count"] for o in ops) == pytest.approx(g["ttft_s"], rel=1e-12)


def test_advisor_under_calibrated(client):
    body = {"model": "llama-2-7b", "hardware": "h100", "gen_len": 64, "efficiency": "calibrated", "engine": "sglang"}
    got = ok(client.post("/api/advise", json=body))
    eff = resolve_efficiency("calibrated", load_hardware("h100"), engine="sglang")
    assert got["baseline"] == lr.advise("llama-2-7b", "h100", gen_len=64, efficiency=eff).to_dict()["baseline"]
    report = lr.analyze("llama-2-7b", "h100", gen_len=64, efficiency="calibrated", engine="sglang").to_dict()
    assert got["baseline"]["tpot_s"] == report["generation"]["tpot_s"]


def test_serving_refuses_an_unknown_efficiency_naming_the_field(client):
    """A bad value lists the modes (the simulation and the plan take all three: test_serving_web.py)."""
    body = {"model": "llama-2-7b", "hardware": "h100", "concurrency": 2, "isl": 128, "osl": 8}
    modes = "'hardware' or 'calibrated'"
    refused(client.post("/api/serve-sim", json={**body, "efficiency": "fast"}), "efficiency", modes)
    plan = {"model": "llama-2-7b", "hardware": "h100", "gpus": 1, "isl": 128, "osl": 8, "efficiency": "fast"}
    refused(client.post("/api/plan", json=plan), "efficiency", modes)
