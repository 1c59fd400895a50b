"""The serving panel in a real browser (Playwright and Debian's chromium; skipped without them)."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

from llm_roofline.web.server import serve_in_thread  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


@pytest.fixture(scope="module")
def page():
    with serve_in_thread() as url, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and "422" not in m.text else None)
        pg.set_default_timeout(30_000)
        pg.goto(url + "?model=meta-llama/Llama-2-7b-hf&hw=rtx-a6000")
        pg.wait_for_selector("body[data-ready]", state="attached")
        yield pg
        browser.close()
        assert not errors, errors


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
