"""The web API's optimizations over real HTTP: the same numbers as the Python API, errors that name the
field, and no file reachable through the host device."""

from __future__ import annotations

import json

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import llm_roofline as lr  # noqa: E402
from llm_roofline.web.server import serve_in_thread  # noqa: E402

BASE = {"model": "llama-2-7b", "hardware": "a100-80g", "batch_size": 4}
OPTIONS = {"fusion": "aggressive", "attention": "fa2", "offload_kv": 0.25, "kv_allocation": "paged",
           "prefix_len": 100, "weight_sparsity": 0.5, "sparse_format": "bitmap", "embed_bits": 16,
           "module_bits": {"attention": "fp8"}, "low_rank": {"o_proj": 512}, "host": "core-i9-13900k"}


@pytest.fixture(scope="module")
def client():
    with serve_in_thread() as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def test_analyze_and_sweep_with_optimizations_are_the_python_api(client):
    r = client.post("/api/analyze", json={**BASE, "optimizations": OPTIONS})
    assert r.status_code == 200, r.text
    want = lr.analyze("llama-2-7b", "a100-80g", batch_size=4, **OPTIONS).to_dict()
    assert r.json() == json.loads(json.dumps(want))
    assert r.json()["optimizations"]["host"] == "core-i9-13900k"
    s = client.post("/api/sweep", json={**BASE, "batch_size": [1, 8], "optimizations": {"offload_weights": 0.5}})
    assert s.status_code == 200, s.text
    grid = lr.sweep("llama-2-7b", "a100-80g", batch_size=[1, 8], offload_weights=0.5)
    assert s.json()["columns"]["tpot_s"] == grid.columns["tpot_s"].tolist()


@pytest.mark.parametrize("optimizations, fragment", [
    ({"fusion": "total"}, "fusion"),
    ({"offload_weights": 1.5}, "offload_weights"),
    ({"host": "/etc/passwd", "offload_kv": 0.5}, "unknown hardware"),
    ({"host": "../cpu.yaml", "offload_kv": 0.5}, "unknown hardware"),
    ({"low_rank": {"mlpp": 0.5}}, "matches no operator"),
    ({"prefix_len": 5000}, "prefix_len"),
])
def test_bad_optimizations_name_the_field(client, optimizations, fragment):
    r = client.post("/api/analyze", json={**BASE, "optimizations": optimizations})
    assert r.status_code == 422, r.text
    body = r.json()
    assert fragment in json.dumps(body)
