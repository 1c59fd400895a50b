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


@pytest.mark.parametrize(("path", "body", "field"), [
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
