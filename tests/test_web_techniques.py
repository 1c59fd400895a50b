"""The web API's techniques and advisor over real HTTP: the same numbers as the Python API, errors that
name the field, and no file path reachable through a draft model."""

from __future__ import annotations

import json

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import llm_roofline as lr  # noqa: E402
from llm_roofline.web.server import serve_in_thread  # noqa: E402

BASE = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "batch_size": 4}


@pytest.fixture(scope="module")
def client():
    with serve_in_thread() as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def test_analyze_with_techniques_is_the_python_report(client):
    techniques = {"speculative": "eagle3", "sparsity": {"mlp": 0.5}}
    r = client.post("/api/analyze", json={**BASE, "techniques": techniques})
    assert r.status_code == 200, r.text
    want = lr.analyze("llama-3.1-8b", "h100-sxm", batch_size=4, **techniques).to_dict()
    assert r.json() == json.loads(json.dumps(want))
    assert r.json()["techniques"]["speculative"]["verify"]["tokens"] == 60


def test_sweep_and_view_take_techniques(client):
    r = client.post("/api/sweep", json={**BASE, "batch_size": [1, 64], "techniques": {"speculative": "mtp"}})
    assert r.status_code == 200, r.text
    assert r.json()["columns"]["tokens_per_iteration"] == pytest.approx([1.85, 1.85])  # 1 + 0.85
    v = client.post("/api/view", json={**BASE, "techniques": {"kv_eviction": 512}})
    assert v.status_code == 200 and v.json()["report"]["techniques"]["settings"]["kv_eviction"]["budget"] == 512


@pytest.mark.parametrize("techniques, fragment", [
    ({"speculative": {"preset": "eagle3", "tau": 99}}, "tau"),
    ({"speculative": "eagel3"}, "did you mean"),
    ({"early_exit": 2.0}, "fraction"),
    ({"sparsity": {"neurons": 0.5}}, "unknown setting"),
    ({"speculative": {"method": "draft", "draft_model": "/etc/passwd", "alpha": 0.5}}, "draft_model"),
    ({"speculative": {"method": "draft", "draft_model": "../../config.json", "alpha": 0.5}}, "draft_model"),
])
def test_bad_techniques_name_the_field(client, techniques, fragment):
    r = client.post("/api/analyze", json={**BASE, "techniques": techniques})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "techniques" and fragment in r.json()["detail"]


def test_catalog_draft_model(client):
    r = client.post("/api/analyze", json={**BASE, "techniques": {"speculative": {
        "method": "draft", "draft_model": "llama-3.2-1b", "k": 4, "alpha": 0.7}}})
    assert r.status_code == 200
    assert r.json()["techniques"]["settings"]["speculative"]["draft_model"] == "meta-llama/Llama-3.2-1B"


def test_advise_endpoint(client):
    r = client.post("/api/advise", json={**BASE, "only": ["quant-w8", "speculative-eagle3"], "rank_by": "throughput"})
    assert r.status_code == 200, r.text
    want = lr.advise("llama-3.1-8b", "h100-sxm", batch_size=4, only=["quant-w8", "speculative-eagle3"],
                     rank_by="throughput").to_dict()
    assert r.json() == json.loads(json.dumps(want))
    bad = client.post("/api/advise", json={**BASE, "only": ["nope"]})
    assert bad.status_code == 422 and "unknown technique" in bad.json()["detail"]
    listing = client.get("/api/techniques").json()
    assert "eagle3" in listing["speculative_presets"] and listing["techniques"][0]["name"]


def test_analyze_takes_techniques_and_optimizations_together(client):
    body = {**BASE, "techniques": {"speculative": "eagle3"},
            "optimizations": {"fusion": "aggressive", "module_bits": {"layers": "fp8"}}}
    r = client.post("/api/analyze", json=body)
    assert r.status_code == 200, r.text
    want = lr.analyze("llama-3.1-8b", "h100-sxm", batch_size=4, speculative="eagle3", fusion="aggressive",
                      module_bits={"layers": "fp8"}).to_dict()
    assert r.json() == json.loads(json.dumps(want))
    assert "fusion" in r.json()["optimizations"]["active"]
    bad = client.post("/api/analyze", json={**BASE, "techniques": {"speculative": "eagle3"},
                                            "optimizations": {"offload_weights": 0.5}})
    assert bad.status_code == 422 and "offloading" in bad.text
