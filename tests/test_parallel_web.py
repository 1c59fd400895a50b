"""Several devices on the web face: the API takes the degrees (exactly the engine's report), names bad
ones, lists the systems; the page's Devices controls, communication operators and link roofline."""

from __future__ import annotations

from pathlib import Path

import pytest

import llm_roofline as lr

fastapi_testclient = pytest.importorskip("fastapi.testclient")
from llm_roofline.web.app import create_app  # noqa: E402

BODY = {"model": "llama-3.1-70b", "hardware": "h100-sxm", "gen_len": 8, "tp": 8}


@pytest.fixture(scope="module")
def client():
    return fastapi_testclient.TestClient(create_app())


def test_api_analyze_with_degrees_is_the_engine_report(client):
    data = client.post("/api/analyze", json=BODY).json()
    assert data == lr.analyze("llama-3.1-70b", "dgx-h100", gen_len=8, tp=8).to_dict()
    assert data["parallelism"]["system"]["name"] == "dgx-h100"


def test_api_bad_degrees_name_the_field(client):
    r = client.post("/api/analyze", json={**BODY, "tp": 3})
    assert r.status_code == 422 and r.json()["field"] == "tp" and "query heads" in r.json()["detail"]
    r = client.post("/api/analyze", json={**BODY, "tp": 0})
    assert r.status_code == 422 and r.json()["field"] == "tp"
    custom = {"model": "llama-2-7b", "tp": 2, "custom_hardware": {"memory_bandwidth_bytes_per_s": 1e12,
                                                                  "memory_capacity_bytes": 8e10,
                                                                  "peak_flops_per_s": {"fp16": 1e14}}}
    r = client.post("/api/analyze", json=custom)
    assert r.status_code == 422 and r.json()["field"] == "hardware"


def test_api_systems_and_sweeps(client):
    systems = client.get("/api/systems").json()
    assert {"dgx-h100", "gb200-nvl72"} <= {s["name"] for s in systems}
    sweep = client.post("/api/sweep", json={**BODY, "batch_size": [1, 4, 16]}).json()
    assert sweep["columns"]["tp"] == [8, 8, 8] and len(sweep["columns"]["tpot_s"]) == 3
    one = lr.analyze("llama-3.1-70b", "dgx-h100", gen_len=8, tp=8, batch_size=4)
    assert sweep["columns"]["tpot_s"][1] == pytest.approx(one.generation.tpot_s)


def test_api_view_graph_places_the_collectives(client):
    view = client.post("/api/view", json=BODY).json()
    sections = {n["name"]: n["section"] for n in view["graph"]["decode"]["nodes"]}
    assert sections["attn_all_reduce"] == "layer" and sections["logits_all_gather"] == "head"
    assert sections["embed_all_reduce"] == "embedding"


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium (/usr/bin/chromium) is not installed")
def test_page_devices_controls_and_link_roofline():
    sync_api = pytest.importorskip("playwright.sync_api")
    from llm_roofline.web.server import serve_in_thread

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    with serve_in_thread() as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(20_000)
        page.goto(url + "?model=meta-llama/Llama-3.1-70B&hw=h100-sxm&tp=8&g=16&op=attn_all_reduce")
        page.wait_for_selector("body[data-ready]", state="attached")
        page.wait_for_selector('#graph g.node[data-op="attn_all_reduce"]')
        report = page.evaluate("() => window.__roofline.view.report")
        assert report["parallelism"]["devices"] == 8
        assert page.is_visible("#link-panel")
        assert page.locator("#link-roofline svg circle.pt").count() >= 3
        assert "Bytes on the link" in page.inner_text("#op-details")
        assert "link" in page.inner_text("#op-bound").lower()
        assert "dgx-h100" in page.inner_text("#par-info")
        assert page.input_value("#tp") == "8"
        before = page.get_attribute("body", "data-ready")
        page.fill("#tp", "4")
        page.wait_for_selector(f'body[data-ready]:not([data-ready="{before}"]):not([data-loading="1"])',
                               state="attached")
        assert page.evaluate("() => window.__roofline.view.report.parallelism.tp") == 4
        browser.close()
    assert not errors, errors
