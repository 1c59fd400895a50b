"""The serving panel in a real browser (Playwright and Debian's chromium; skipped without them)."""

from __future__ import annotations

import pytest

from web_page import open_page

pytest_plugins = ("web_fixtures",)


@pytest.fixture
def page(web_page, web_url):
    """The page (web_fixtures: script and console errors fail the test) on a catalog model and device."""
    web_page.set_default_timeout(30_000)
    open_page(web_page, web_url + "?model=meta-llama/Llama-2-7b-hf&hw=rtx-a6000")
    return web_page


def test_simulate_then_plan(page):
    page.fill("#sv-level", "8")
    page.fill("#sv-requests", "80")
    page.fill("#sv-isl", "uniform:300:700")
    page.fill("#sv-osl", "60")
    page.click("#sv-run")
    page.wait_for_selector("#sv-result table.sv-latency")
    rows = page.locator("#sv-result table.sv-latency tbody tr")
    assert rows.count() == 4 and "TTFT" in rows.nth(0).inner_text()
    assert "requests/s" in page.inner_text("#sv-result")
    page.fill("#sv-isl", "500")
    page.fill("#sv-gpus", "2")
    page.click("#sv-plan")
    page.wait_for_selector("#sv-pareto svg circle.scatter-point")
    assert page.locator("#sv-pareto path.pareto-front").count() == 1
    assert "Best under the SLOs" in page.inner_text("#sv-result")


def test_errors_show_in_the_panel(page):
    page.fill("#sv-isl", "normal:3")
    page.click("#sv-run")
    page.wait_for_selector("#sv-error:not([hidden])")
    assert "cannot read" in page.inner_text("#sv-error")


def test_plan_under_the_calibrated_setting(web_page, web_url):
    """The plan button sends the page's efficiency and engine: its best point is the API's calibrated one."""
    import httpx

    web_page.set_default_timeout(30_000)
    open_page(web_page, web_url + "?model=meta-llama/Llama-3.1-8B&hw=h100-sxm&eff=calibrated&eng=vllm")
    web_page.fill("#sv-isl", "1000")
    web_page.fill("#sv-osl", "100")
    web_page.fill("#sv-gpus", "1")
    with web_page.expect_response(lambda r: r.url.endswith("/api/plan")) as sent:
        web_page.click("#sv-plan")
    body = sent.value.request.post_data_json
    assert body["efficiency"] == "calibrated" and body["engine"] == "vllm"
    web_page.wait_for_selector("#sv-pareto svg circle.scatter-point")
    want = httpx.post(web_url.rstrip("/") + "/api/plan", json=body, timeout=120).json()
    assert sent.value.json()["best"] == want["best"] and want["best"] is not None


def test_simulate_under_the_calibrated_setting(web_page, web_url):
    """The run button sends the page's efficiency and engine: its result is the API's calibrated one."""
    import httpx

    web_page.set_default_timeout(30_000)
    open_page(web_page, web_url + "?model=meta-llama/Llama-3.1-8B&hw=h100-sxm&eff=calibrated&eng=vllm")
    web_page.fill("#sv-level", "4")
    web_page.fill("#sv-requests", "12")
    web_page.fill("#sv-isl", "500")
    web_page.fill("#sv-osl", "40")
    with web_page.expect_response(lambda r: r.url.endswith("/api/serve-sim")) as sent:
        web_page.click("#sv-run")
    body = sent.value.request.post_data_json
    assert body["efficiency"] == "calibrated" and body["engine"] == "vllm"
    web_page.wait_for_selector("#sv-result table.sv-latency")
    want = httpx.post(web_url.rstrip("/") + "/api/serve-sim", json=body, timeout=120).json()
    assert sent.value.json() == want and want["efficiency"]["engine"] == "vllm"
