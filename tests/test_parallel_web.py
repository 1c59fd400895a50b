"""Several devices on the web face: the API takes the degrees (exactly the engine's report), names bad
ones, lists the systems; the page's Devices controls, communication operators and link roofline."""

from __future__ import annotations

import pytest

import llm_roofline as lr

from web_page import after, open_page, shown_report

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

pytest_plugins = ("web_fixtures",)
BODY = {"model": "llama-3.1-70b", "hardware": "h100-sxm", "gen_len": 8, "tp": 8}


@pytest.fixture(scope="module")
def client(web_url):
    with httpx.Client(base_url=web_url, timeout=60) as c:
        yield c


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


def test_page_devices_controls_and_link_roofline(web_page, web_url):
    open_page(web_page, web_url + "?model=meta-llama/Llama-3.1-70B&hw=h100-sxm&tp=8&g=16&op=attn_all_reduce")
    web_page.wait_for_selector('#graph g.node[data-op="attn_all_reduce"]')
    report = shown_report(web_page)
    assert report["parallelism"]["devices"] == 8
    assert web_page.is_visible("#link-panel")
    assert web_page.locator("#link-roofline svg circle.pt").count() >= 3
    assert "Bytes on the link" in web_page.inner_text("#op-details")
    assert "link" in web_page.inner_text("#op-bound").lower()
    assert "dgx-h100" in web_page.inner_text("#par-info")
    assert web_page.input_value("#tp") == "8"
    after(web_page, lambda: web_page.fill("#tp", "4"))
    assert shown_report(web_page)["parallelism"]["tp"] == 4


def test_page_link_with_a_bad_degree_keeps_a_message(web_page, web_url):
    """A link's degree is checked on load like every other value: reset to 1, with a line saying so."""
    open_page(web_page, web_url + "?model=meta-llama/Llama-3.1-70B&hw=h100-sxm&tp=0&sys=nope")
    notice = web_page.inner_text("#notice")
    assert "tp=0" in notice and "sys=nope" in notice
    assert shown_report(web_page)["parallelism"]["devices"] == 1
