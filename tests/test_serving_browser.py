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


@pytest.mark.parametrize(("button", "path", "fields", "shown"), [
    ("#sv-plan", "/api/plan", {"#sv-isl": "1000", "#sv-osl": "100", "#sv-gpus": "1"},
     "#sv-pareto svg circle.scatter-point"),
    ("#sv-run", "/api/serve-sim", {"#sv-level": "4", "#sv-requests": "12", "#sv-isl": "500", "#sv-osl": "40"},
     "#sv-result table.sv-latency"),
])
def test_the_panel_under_the_calibrated_setting(web_page, web_url, button, path, fields, shown):
    """Plan and simulate send the page's efficiency and engine: what they show is the API's calibrated answer."""
    import httpx

    web_page.set_default_timeout(30_000)
    open_page(web_page, web_url + "?model=meta-llama/Llama-3.1-8B&hw=h100-sxm&eff=calibrated&eng=vllm")
    for selector, value in fields.items():
        web_page.fill(selector, value)
    with web_page.expect_response(lambda r: r.url.endswith(path)) as sent:
        web_page.click(button)
    body = sent.value.request.post_data_json
    assert body["efficiency"] == "calibrated" and body["engine"] == "vllm"
    web_page.wait_for_selector(shown)
    want = httpx.post(web_url.rstrip("/") + path, json=body, timeout=120).json()
    got = sent.value.json()
    if path == "/api/plan":  # its "search" holds wall times
        got.pop("search"), want.pop("search")
    else:
        assert want["efficiency"]["engine"] == "vllm"
    assert got == want
