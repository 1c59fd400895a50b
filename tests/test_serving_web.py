"""The serving endpoints of the web API: the same JSON as the CLI, typed and bounded request bodies."""

from __future__ import annotations

import json

import pytest

from llm_roofline.cli import main

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

pytest_plugins = ("web_fixtures",)


@pytest.fixture(scope="module")
def client(web_url):
    with httpx.Client(base_url=web_url, timeout=120) as c:
        yield c


def test_serve_sim_is_the_cli_json(client, capsys):
    body = {"model": "llama-2-7b", "hardware": "a6000", "concurrency": 6, "requests": 60, "isl": 400, "osl": 40}
    web = client.post("/api/serve-sim", json=body)
    assert web.status_code == 200
    assert main(["serve-sim", "llama-2-7b", "a6000", "-c", "6", "-n", "60", "--isl", "400", "--osl", "40",
                 "-f", "json"]) == 0
    assert web.json() == json.loads(capsys.readouterr().out)


def test_plan_returns_every_point(client):
    body = {"model": "llama-2-7b", "hardware": "h100-sxm", "gpus": 2, "isl": 1000, "osl": 100, "tpot_slo_s": 0.05,
            "formats": ["bf16"], "modes": ["agg"]}
    data = client.post("/api/plan", json=body).json()
    assert data["points"] and data["best"]["tpot_s"] <= 0.05
    assert {p["mode"] for p in data["points"]} == {"agg"}


def test_plan_takes_worker_layouts_as_the_cli(client, capsys):
    body = {"model": "llama-3.1-70b", "hardware": "h100-sxm", "gpus": 8, "isl": 1000, "osl": 100,
            "formats": ["bf16"], "modes": ["agg"], "tp": [1, 4]}
    web = client.post("/api/plan", json=body)
    assert web.status_code == 200, web.text
    assert main(["plan", "llama-3.1-70b", "h100-sxm", "--gpus", "8", "--isl", "1000", "--osl", "100", "--formats",
                 "bf16", "--modes", "agg", "--tp", "1,4", "-f", "json", "--all-points"]) == 0
    cli = json.loads(capsys.readouterr().out)
    got = web.json()
    assert got.pop("search")["points"] == cli.pop("search")["points"]
    assert got == cli and {p["tp"] for p in got["points"]} == {4}
    assert got["skipped"][0]["tp"] == 1


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/plan", {"model": "llama-2-7b", "hardware": "a6000", "tp": [0]}, "tp"),
    ("/api/plan", {"model": "llama-2-7b", "hardware": "a6000", "ep": list(range(1, 10))}, "ep"),
    ("/api/plan", {"model": "llama-2-7b", "hardware": "a6000", "attention_dp": "8"}, "attention_dp"),
    ("/api/serve-sim", {"model": "llama-2-7b", "hardware": "a6000", "requests": 10**6}, "requests"),
    ("/api/serve-sim", {"model": "llama-2-7b", "hardware": "a6000", "isl": "normal:3"}, None),
    ("/api/serve-sim", {"model": "llama-2-7b", "hardware": "a6000", "colour": "red"}, "colour"),
    ("/api/serve-sim", {"model": "llama-9", "hardware": "a6000"}, None),
    ("/api/plan", {"model": "llama-2-7b", "hardware": "a6000", "gpus": 1000}, "gpus"),
    ("/api/plan", {"model": "llama-2-7b", "hardware": "a6000", "formats": ["fp9"]}, "formats"),
])
def test_bad_requests_are_422_naming_the_problem(client, path, body, field):
    response = client.post(path, json=body)
    assert response.status_code == 422
    data = response.json()
    assert data["detail"]
    if field:
        assert data["field"] == field


@pytest.mark.parametrize("path", ["/api/serve-sim", "/api/plan"])
@pytest.mark.parametrize("where", ["model", "hardware"])
def test_a_path_never_names_a_server_file(client, path, where, tmp_path):
    """Serving bodies name catalog entries only: a real device YAML on the server's disk is refused as an
    unknown name (the analysis endpoints' rule), never loaded."""
    device = tmp_path / "dev.yaml"
    device.write_text("name: d\nmemory_bandwidth: 1 TB/s\nmemory_capacity: 80 GB\npeak: {fp16: 100 TFLOPS}\n"
                      "source_url: https://example.org\n")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                                  "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100}))
    body = {"model": "llama-2-7b", "hardware": "a6000", "isl": 128, "osl": 8}
    body[where] = str(device if where == "hardware" else config)
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == where and "unknown" in response.json()["detail"]


def test_plan_takes_calibrated_with_an_engine_as_the_cli(client, capsys):
    body = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "gpus": 1, "isl": 1000, "osl": 100,
            "formats": ["bf16"], "modes": ["agg"], "efficiency": "calibrated", "engine": "vllm"}
    web = client.post("/api/plan", json=body)
    assert web.status_code == 200, web.text
    assert main(["plan", "llama-3.1-8b", "h100-sxm", "--gpus", "1", "--isl", "1000", "--osl", "100",
                 "--formats", "bf16", "--modes", "agg", "--efficiency", "calibrated", "--engine", "vllm",
                 "-f", "json", "--all-points"]) == 0
    cli = json.loads(capsys.readouterr().out)
    got = web.json()
    assert got.pop("search")["points"] == cli.pop("search")["points"]  # the rest of "search" is wall time
    assert got == cli
    refused = client.post("/api/plan", json={**body, "efficiency": "ideal"})
    assert refused.status_code == 422 and refused.json()["field"] == "engine"


def test_serve_sim_takes_calibrated_with_an_engine_as_the_cli(client, capsys):
    body = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "concurrency": 4, "requests": 12, "isl": 500,
            "osl": 40, "efficiency": "calibrated", "engine": "vllm"}
    web = client.post("/api/serve-sim", json=body)
    assert web.status_code == 200, web.text
    assert main(["serve-sim", "llama-3.1-8b", "h100-sxm", "-c", "4", "-n", "12", "--isl", "500", "--osl", "40",
                 "--efficiency", "calibrated", "--engine", "vllm", "-f", "json"]) == 0
    assert web.json() == json.loads(capsys.readouterr().out)
    ideal = client.post("/api/serve-sim", json={**body, "efficiency": "ideal", "engine": None}).json()
    assert web.json()["tpot_s"]["mean"] > ideal["tpot_s"]["mean"]  # calibrated is never faster
    refused = client.post("/api/serve-sim", json={**body, "efficiency": "ideal"})
    assert refused.status_code == 422 and refused.json()["field"] == "engine"


def test_a_request_overhead_is_the_clis_flag(client, capsys):
    """request_overhead_ms (ms) is serve-sim's and plan's --request-overhead: the same JSON; at concurrency 1 a
    change of 100 ms moves TTFT by 100 ms; out of range, or under the ideal setting, it is a 422 naming it."""
    body = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "concurrency": 1, "requests": 3, "isl": 500,
            "osl": 40, "efficiency": "calibrated", "engine": "vllm", "request_overhead_ms": 250}
    web = client.post("/api/serve-sim", json=body)
    assert web.status_code == 200, web.text
    assert main(["serve-sim", "llama-3.1-8b", "h100-sxm", "-c", "1", "-n", "3", "--isl", "500", "--osl", "40",
                 "--efficiency", "calibrated", "--engine", "vllm", "--request-overhead", "250ms", "-f", "json"]) == 0
    assert web.json() == json.loads(capsys.readouterr().out)
    less = client.post("/api/serve-sim", json={**body, "request_overhead_ms": 150}).json()
    assert web.json()["ttft_s"]["mean"] - less["ttft_s"]["mean"] == pytest.approx(0.1, abs=1e-9)
    plan = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "gpus": 1, "isl": 500, "osl": 40, "formats": ["bf16"],
            "modes": ["agg"], "efficiency": "calibrated", "request_overhead_ms": 0}
    data = client.post("/api/plan", json=plan).json()
    assert data["serving_profile"]["request_overhead_s"] == 0
    for path, extra in (("/api/serve-sim", {"request_overhead_ms": -1}), ("/api/plan", {"request_overhead_ms": 60001}),
                        ("/api/serve-sim", {"request_overhead_ms": 10, "efficiency": "ideal", "engine": None}),
                        ("/api/plan", {"request_overhead_ms": 10, "efficiency": "hardware"})):
        refused = client.post(path, json={**(body if path == "/api/serve-sim" else plan), **extra})
        assert refused.status_code == 422 and refused.json()["field"] == "request_overhead_ms", refused.text
        assert "request_overhead_ms" in refused.json()["detail"]


def test_serve_sim_takes_worker_layouts_as_the_cli(client, capsys):
    """The body's tp / ep / attention_dp / pp (aggregated) and prefill_* / decode_* (disagg) are the CLI's flags."""
    base = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "concurrency": 4, "requests": 12, "isl": 500, "osl": 40}
    args = ["serve-sim", "llama-3.1-8b", "h100-sxm", "-c", "4", "-n", "12", "--isl", "500", "--osl", "40", "-f", "json"]
    for extra, flags in (({"tp": 2}, ["--tp", "2"]), ({"tp": 2, "pp": 2}, ["--tp", "2", "--pp", "2"]),
                         ({"disagg": True, "prefill_tp": 2, "decode_tp": 4, "decode_attention_dp": 2},
                          ["--disagg", "--prefill-tp", "2", "--decode-tp", "4", "--decode-attention-dp", "2"])):
        web = client.post("/api/serve-sim", json={**base, **extra})
        assert web.status_code == 200, web.text
        assert main([*args, *flags]) == 0
        assert web.json() == json.loads(capsys.readouterr().out)
    assert web.json()["deployment"]["gpus"] == 2 + 8


@pytest.mark.parametrize(("extra", "field", "words"), [
    ({"tp": 3}, "tp", "tp (3) must divide the query heads (32)"),
    ({"disagg": True, "decode_tp": 3}, "decode_tp", "decode worker: tp (3) must divide"),
    ({"ep": 2}, "ep", "ep (2) must divide tp x attention_dp"),
    ({"pp": 5}, "pp", "pp (5) does not divide the 32 layers"),
    ({"disagg": True, "decode_pp": 3}, "decode_pp", "decode worker: pp (3) does not divide"),
    ({"prefill_tp": 2}, "prefill_tp", "prefill_tp: applies with disagg only"),
    ({"disagg": True, "attention_dp": 2}, "attention_dp", "with disagg give each pool its own"),
    ({"tp": 2, "hardware": "a6000"}, "tp", "no bundled system"),
])
def test_a_worker_layout_the_engine_refuses_is_one_line_naming_its_field(client, extra, field, words):
    body = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "concurrency": 2, "requests": 4, "isl": 100, "osl": 8}
    response = client.post("/api/serve-sim", json={**body, **extra})
    assert response.status_code == 422, response.text
    data = response.json()
    assert data["field"] == field and words in data["detail"] and "\n" not in data["detail"]
