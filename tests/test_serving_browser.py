"""The serving panel in a real browser (Playwright and Debian's chromium; skipped without them)."""

from __future__ import annotations

import pytest

import llm_roofline as lr

from web_page import open_page, secs

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


def test_the_request_overhead_field_moves_ttft_by_its_change(web_page, web_url):
    """Calibrated (vLLM) at concurrency 1: a run with the field empty (the engine's fitted frontend time, h0 +
    u0 x 500 for the 500-token prompt, as the API's JSON names them), then with 150 ms: the request carries
    request_overhead_ms, and every TTFT the page shows moves by exactly 0.150 - (h0 + 500 u0) (a request alone:
    its prefill plus the frontend time; the user's overhead replaces both parts); the panel says the
    overhead was set there, and names the profile's other parameters as the JSON gives them. An overhead
    under the ideal setting is refused in the panel."""
    web_page.set_default_timeout(30_000)
    open_page(web_page, web_url + "?model=meta-llama/Llama-3.1-8B&hw=h100-sxm&eff=calibrated&eng=vllm")
    for selector, value in {"#sv-level": "1", "#sv-requests": "3", "#sv-isl": "500", "#sv-osl": "40"}.items():
        web_page.fill(selector, value)
    runs = []
    for overhead in ("", "150"):
        web_page.fill("#sv-overhead", overhead)
        with web_page.expect_response(lambda r: r.url.endswith("/api/serve-sim")) as sent:
            web_page.click("#sv-run")
        body = sent.value.request.post_data_json
        assert body.get("request_overhead_ms") == (float(overhead) if overhead else None)
        web_page.wait_for_selector("#sv-result table.sv-latency")
        cells = web_page.locator("#sv-result table.sv-latency tbody tr").nth(0).locator("td")
        shown = sent.value.json()["efficiency"]["serving_profile"]
        if not overhead:  # the fitted profile's line names both parts of its frontend time
            micro = float(f"{shown['prompt_token_s'] * 1e6:.3g}")  # toPrecision(3), as the page writes it
            per_token = f"{micro:g} µs per prompt token"
            assert per_token in web_page.inner_text("#sv-result"), per_token
        runs.append(([float(cells.nth(j).get_attribute("data-value")) for j in range(1, 5)],
                     shown["request_overhead_s"] + 500 * shown["prompt_token_s"]))
    (default, h0), (set_here, h1) = runs
    assert h1 == 0.15 and h0 != h1
    for a, b in zip(default, set_here, strict=True):
        assert b - a == pytest.approx(0.15 - h0, abs=1e-9)
    assert "request overhead of 150 ms set here" in web_page.inner_text("#sv-result")
    profile = sent.value.json()["efficiency"]["serving_profile"]  # its other parameters, as the JSON has them
    assert (f"iterations pay {round(100 * profile['fixed_share'])}% of the kernels' fixed costs"
            in web_page.inner_text("#sv-result"))
    assert f"{profile['prefill_launch_s'] * 1e6:.0f} µs host launch" in web_page.inner_text("#sv-result")
    open_page(web_page, web_url + "?model=meta-llama/Llama-3.1-8B&hw=h100-sxm")
    web_page.fill("#sv-overhead", "20")
    web_page.click("#sv-run")
    web_page.wait_for_selector("#sv-error:not([hidden])")
    assert "calibrated efficiency only" in web_page.inner_text("#sv-error")


LAYOUT_URL = "?model=meta-llama/Llama-3.1-8B&hw=h100-sxm"  # the H100's first bundled system: a DGX of 8


def test_a_tp2_worker_shows_the_apis_simulation_and_a_refused_layout_its_message(web_page, web_url):
    """A TP 2 worker on the DGX H100: the latency table is lr.simulate's with the same arguments (computed
    here, in-process), each cell as the page writes it; then TP 3 (does not divide the 32 heads) shows the
    server's one-line message in the panel."""
    web_page.set_default_timeout(30_000)
    open_page(web_page, web_url + LAYOUT_URL)
    for selector, value in {"#sv-level": "4", "#sv-requests": "12", "#sv-isl": "500", "#sv-osl": "40",
                            "#sv-tp": "2"}.items():
        web_page.fill(selector, value)
    web_page.check("#sv-disagg")
    assert web_page.is_hidden("#sv-tp") and web_page.is_visible("#sv-p-tp")
    web_page.uncheck("#sv-disagg")
    web_page.click("#sv-run")
    web_page.wait_for_selector("#sv-result table.sv-latency")
    want = lr.simulate("llama-3.1-8b", "h100-sxm", concurrency=4, requests=12, isl=500, osl=40,
                       deployment={"tp": 2}).to_dict()
    rows = web_page.locator("#sv-result table.sv-latency tbody tr")
    for i, key in enumerate(("ttft_s", "tpot_s", "itl_s", "e2e_s")):
        cells = rows.nth(i).locator("td")
        for j, q in enumerate(("mean", "p50", "p90", "p99"), start=1):
            shown = cells.nth(j)
            assert float(shown.get_attribute("data-value")) == pytest.approx(want[key][q], rel=1e-12)
            assert shown.inner_text() == secs(want[key][q])
    assert want["gpus"] == 2 and "1 worker of tp2: 2 GPUs" in web_page.inner_text("#sv-result")
    web_page.fill("#sv-tp", "3")
    web_page.click("#sv-run")
    web_page.wait_for_selector("#sv-error:not([hidden])")
    message = web_page.inner_text("#sv-error")
    assert message.startswith("tp (3) must divide the query heads (32)") and "\n" not in message


def test_plan_searches_the_tp_degrees_given(web_page, web_url):
    """TP 1,2 on 2 GPUs: the chart holds points of both layouts (two one-device replicas, one TP 2 worker),
    and the request carries the list."""
    web_page.set_default_timeout(30_000)
    open_page(web_page, web_url + LAYOUT_URL)
    for selector, value in {"#sv-isl": "1000", "#sv-osl": "100", "#sv-gpus": "2", "#sv-plan-tp": "1,2"}.items():
        web_page.fill(selector, value)
    with web_page.expect_response(lambda r: r.url.endswith("/api/plan")) as sent:
        web_page.click("#sv-plan")
    assert sent.value.request.post_data_json["tp"] == [1, 2]
    web_page.wait_for_selector("#sv-pareto svg circle.scatter-point")
    titles = web_page.eval_on_selector_all("#sv-pareto circle.scatter-point > title",
                                           "els => els.map((e) => e.textContent)")
    assert any(t.startswith("agg x2,") for t in titles) and any(t.startswith("agg x1 tp2,") for t in titles)
    assert any(t.startswith("disagg 1P+1D,") for t in titles)
