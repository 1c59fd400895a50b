"""The efficiency setting in a real browser (fixtures in web_fixtures.py): pick calibrated and an engine,
see the engine's report, the headline that names the setting and its curves, an operator's factors and
provenance, its place on the roofline above its achieved point, the sweeps; the link round-trips and a
link's bad values are reset with a message.

Oracles: ``llm_roofline.analyze`` / ``sweep`` called here, the report's own fields, and the chart's
geometry (the ring of the roofline placement lies on a drawn ceiling, the achieved dot at or below it)."""

from __future__ import annotations

import math

import pytest

import llm_roofline as lr

from web_page import after, chart_geometry, element_screenshot, open_page, shown_report, state_body

pytest_plugins = ("web_fixtures",)

START = "?model=meta-llama%2FLlama-3.1-8B&hw=h100-sxm&b=8&g=64"
SCENARIO = {"batch_size": 8, "gen_len": 64}


def secs(value: float) -> str:
    """fmt.js's secs for values from 1 ns to 1 s: three significant digits in ns / µs / ms."""
    for unit, scale in (("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if value >= 0.9995 * scale:
            return f"{float(f'{value / scale:.3g}'):g} {unit}"
    raise ValueError(value)


def row(page, key: str) -> str:
    return page.inner_text(f'#op-table tr[data-key="{key}"] td:last-child')


def distance_to_polyline(point, points) -> float:
    return min(math.dist(point, p) for p in points)


def roof_and_dot(page, chart: str, name: str) -> tuple[dict, dict]:
    """The ring at the operator's roofline placement and its achieved dot, in the chart's pixels."""
    ring = page.eval_on_selector(f'{chart} circle.pt-roof[data-roof="{name}"]',
                                 "c => ({x: +c.getAttribute('cx'), y: +c.getAttribute('cy')})")
    geometry = chart_geometry(page, chart)
    dot = next(c for c in geometry["circles"] if c["op"] == name)
    return {**ring, "ceilings": geometry["ceilings"]}, dot


def test_pick_calibrated_shows_the_engines_report_and_provenance(web_page, web_url, artifacts):
    page = web_page
    open_page(page, web_url + START)
    assert page.is_hidden("#engine-field")
    assert "Ideal roofline" in page.inner_text("#eff-line")
    assert page.locator('#op-table tr[data-key="Efficiency (of the roofline)"]').count() == 0  # ideal: no factors
    # The engine choices are the API's (GET /api/meta), in its order.
    meta_engines = [e["name"] for e in page.evaluate("() => window.__roofline.meta.engines")]
    options = page.eval_on_selector_all("#engine option", "os => os.map(o => o.value)")
    assert options == meta_engines and "hf-eager" in options

    after(page, lambda: page.select_option("#efficiency", "calibrated"))
    assert page.is_visible("#engine-field") and page.input_value("#engine") == "generic"
    after(page, lambda: page.select_option("#engine", "vllm"))
    report = shown_report(page)
    assert report == lr.analyze("llama-3.1-8b", "h100-sxm", **SCENARIO, efficiency="calibrated",
                                engine="vllm").to_dict()
    assert "eff=calibrated" in page.url and "eng=vllm" in page.url
    e = report["hardware"]["efficiency"]
    headline = page.inner_text("#eff-line")
    assert "Calibrated efficiency" in headline and f"engine {e['engine']}" in headline
    assert e["curves_from"] in headline and e["curves"] in headline
    assert "calibrated (vllm, h100_sxm curves)" in page.inner_text("#summary")
    assert "vLLM" in page.inner_text("#eff-info")

    # An operator's factors and provenance, as the report gives them.
    page.click('#ops-table tr[data-op="rope"]')
    page.wait_for_selector('#op-title:text-is("rope")')
    op = next(o for o in report["decode"]["ops"] if o["name"] == "rope")
    assert row(page, "Roofline time") == secs(op["roofline_time_s"])
    assert row(page, "Efficiency (of the roofline)") == f"{100 * op['efficiency']:.1f}%"
    assert row(page, "Fixed time") == secs(op["fixed_time_s"])
    assert row(page, "Time per occurrence") == secs(op["time_s"])
    assert page.inner_text("#op-source .source") == op["efficiency_source"]
    assert op["efficiency_source"].startswith("fitted: h100_sxm vllm")

    # The roofline stays the bound: the ring (its place on the roofline) lies on a drawn ceiling and
    # the achieved dot sits below it, in the operator's chart and in the chart of every operator.
    assert op["performance_flops_per_s"] < op["attainable_flops_per_s"]
    for chart in ("#op-roofline", "#roofline"):
        ring, dot = roof_and_dot(page, chart, "rope")
        assert abs(ring["x"] - dot["x"]) < 0.5
        assert dot["y"] > ring["y"] + 1  # SVG y grows downwards: the dot is lower
        assert min(distance_to_polyline((ring["x"], ring["y"]), c["points"]) for c in ring["ceilings"]) < 1.5
    element_screenshot(page, "#op-panel", artifacts, "web-calibrated-op.png", doc=True)

    # The whole generation: each stage's provenance of the operator.
    page.locator('input[name="stage"][value="generation"]').check(force=True)
    page.wait_for_selector("#op-source li >> nth=1")
    sources = page.locator("#op-source .source").all_inner_texts()
    prefill = next(o for o in report["prefill"]["ops"] if o["name"] == "rope")
    assert sources == [prefill["efficiency_source"], op["efficiency_source"]]


def test_calibrated_link_round_trips_and_sweeps_work(web_page, web_url):
    page = web_page
    query = START + "&eff=calibrated&eng=trtllm"
    open_page(page, web_url + query, sweeps=True)
    assert page.is_hidden("#notice")
    assert page.url == web_url + query
    assert (page.input_value("#efficiency"), page.input_value("#engine")) == ("calibrated", "trtllm")
    assert shown_report(page) == lr.analyze("llama-3.1-8b", "h100-sxm", **SCENARIO, efficiency="calibrated",
                                            engine="trtllm").to_dict()
    # The batch sweep is the engine's under the same setting; its charts (memory included) are drawn.
    app = page.evaluate("() => ({b: window.__roofline.sweepBatch.columns, s: window.__roofline.sweepSeq.columns})")
    batches = [int(v) for v in app["b"]["batch_size"]]
    want = lr.sweep("llama-3.1-8b", "h100-sxm", batch_size=batches, prompt_len=1024, gen_len=64,
                    efficiency="calibrated", engine="trtllm").columns
    assert app["b"]["tpot_s"] == want["tpot_s"].tolist()
    assert app["b"]["total_bytes"] == want["total_bytes"].tolist()
    assert len(app["s"]["prompt_len"]) > 10
    for chart in ("#sw-lat-batch", "#sw-tput-batch", "#sw-mem-batch", "#sw-lat-seq", "#sw-mem-seq"):
        assert page.locator(f"{chart} svg").count() == 1, chart
    assert len(chart_geometry(page, "#sw-mem-batch")["polygons"]) == 3  # weights, KV cache, activations
    assert "calibrated (trtllm, h100_sxm curves)" in page.inner_text("#sweep-note")
    # Leaving calibrated drops the engine from the state and the link.
    after(page, lambda: page.select_option("#efficiency", "hardware"))
    assert state_body(page)["eng"] == "generic" and "eng=" not in page.url and "eff=hardware" in page.url
    assert page.is_hidden("#engine-field")
    assert shown_report(page) == lr.analyze("llama-3.1-8b", "h100-sxm", **SCENARIO, efficiency="hardware").to_dict()
    assert "Measured efficiency" in page.inner_text("#eff-line")


@pytest.mark.parametrize("query, problems, state", [
    ("?eff=turbo&eng=tgi", ("eff=turbo", "eng=tgi"), ("ideal", "generic")),
    ("?eng=vllm", ("eng=vllm: an engine applies to the calibrated efficiency only",), ("ideal", "generic")),
    ("?eff=calibrated&eng=vlm", ("eng=vlm: the engine is one of generic, vllm",), ("calibrated", "generic")),
])
def test_bad_efficiency_link_values_get_a_message(web_page, web_url, query, problems, state):
    open_page(web_page, web_url + query)
    notice = web_page.inner_text("#notice")
    for problem in problems:
        assert problem in notice, notice
    s = state_body(web_page)
    assert (s["eff"], s["eng"]) == state
    assert shown_report(web_page)["hardware"]["efficiency"].get("engine") == (
        "generic" if state[0] == "calibrated" else None)
