"""The page in a real browser: Playwright driving Debian's chromium against a real server (fixtures
and helpers in web_page.py). The numbers the page shows are the API's, and the API's are the engine's.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

import llm_roofline as lr

from web_page import (
    SHARED_CONFIGS,
    after,
    api,
    metric,
    new_page,
    open_page,
    screenshot,
    shown_report,
    si,
    state_body,
    wait_title,
)

pytest_plugins = ("web_fixtures",)
G = 256  # generated tokens in the links below, so TPOT and throughput are defined whatever the default


def test_loads_and_shows_what_the_api_returns(page, base_url, artifacts):
    """With no parameters the page shows the API's defaults (= llm_roofline.analyze's)."""
    open_page(page, base_url)
    assert shown_report(page) == api(base_url, {"model": "meta-llama/Llama-2-7b-hf", "hardware": "rtx-a6000"})
    open_page(page, base_url + f"?g={G}")
    report = shown_report(page)
    assert report == lr.analyze("llama-2-7b", "a6000", gen_len=G).to_dict()
    assert metric(page, "TTFT") == report["generation"]["ttft_s"]
    assert metric(page, "TPOT") == report["generation"]["tpot_s"]
    assert metric(page, "End-to-end") == report["generation"]["e2e_s"]
    assert metric(page, "Throughput") == report["generation"]["throughput_tokens_per_s"]
    assert page.locator("#graph g.node").count() == sum(1 for op in report["decode"]["ops"]
                                                        if op["count"] > 1)
    assert page.locator("#roofline svg circle.pt").count() > 5
    page.wait_for_selector("body[data-sweeps]", state="attached")
    assert page.locator("#sw-lat-batch svg path.line").count() == 2
    assert page.locator("#sw-mem-batch svg .capline").count() >= 1
    screenshot(page, artifacts, "web-overview.png", doc=True)


def test_change_model_hardware_and_batch(page, base_url):
    open_page(page, base_url + f"?g={G}")
    first = metric(page, "TPOT")
    after(page, lambda: (page.fill("#model", "mistral-7b"), page.press("#model", "Enter")))
    assert shown_report(page)["model"]["name"] == "mistralai/Mistral-7B-v0.1"
    after(page, lambda: (page.fill("#hardware", "h100"), page.press("#hardware", "Enter")))
    assert shown_report(page)["hardware"]["name"] == "h100-sxm"
    after(page, lambda: page.fill("#batch", "16"))
    report = shown_report(page)
    expected = api(base_url, {"model": "mistralai/Mistral-7B-v0.1", "hardware": "h100-sxm", "batch_size": 16,
                              "prompt_len": 1024, "gen_len": 256, "w_bits": 16, "a_bits": 16,
                              "kv_bits": 16})
    assert report == expected
    assert report == lr.analyze("mistral-7b", "h100", batch_size=16, gen_len=256).to_dict()
    assert metric(page, "TPOT") == expected["generation"]["tpot_s"] != first
    assert metric(page, "Memory") == expected["memory"]["total_bytes"]
    assert page.get_attribute('[data-metric="Memory"]', "data-fits") == str(expected["memory"]["fits"]).lower()
    query = parse_qs(urlsplit(page.url).query)
    assert query["model"] == ["mistralai/Mistral-7B-v0.1"] and query["hw"] == ["h100-sxm"] and query["b"] == ["16"]


def test_does_not_fit_is_shown(page, base_url):
    open_page(page, base_url + f"?model=llama-2-70b&hw=rtx-a6000&b=64&p=4096&g={G}")
    report = shown_report(page)
    assert report["memory"]["fits"] is False
    assert "DOES NOT FIT" in page.inner_text('[data-metric="Memory"]')
    assert "Does not fit" in page.inner_text("#fit-line")


def test_click_operator_shows_details_and_roofline(page, base_url):
    open_page(page, base_url + "?stage=prefill")
    page.click('#graph g.node[data-op="q_proj"]')
    wait_title(page, "q_proj")
    op = next(o for o in shown_report(page)["prefill"]["ops"] if o["name"] == "q_proj")
    text = page.inner_text("#op-details")
    for label in ("FLOPs", "weights", "activations read", "activations written", "KV cache read",
                  "KV cache written", "Arithmetic intensity", "Attainable (roofline)", "Bound",
                  "Time per occurrence", "Share of the stage"):
        assert label in text, label
    assert page.inner_text("#op-bound").lower().startswith(op["bound"])
    flops_row = page.inner_text('#op-table tr[data-key="FLOPs"] td:last-child')
    assert flops_row == si(op["flops"], "FLOP")
    # The operator's own roofline: ceilings, ridge and its point, highlighted.
    chart = page.locator("#op-roofline svg")
    assert chart.locator("path.ceiling").count() >= 1
    assert chart.locator("line.ridge").count() == 1
    assert chart.locator("circle.sel").count() >= 1
    assert "q_proj" in page.inner_text("#op-roofline")
    assert "op=q_proj" in page.url
    # Clicking a point in the stage roofline or a table row selects that operator too.
    page.click('#ops-table tr[data-op="down_proj"]')
    wait_title(page, "down_proj")


def test_flash_attention_fuses_the_attention_operators(page, base_url):
    open_page(page, base_url)
    names = set(page.eval_on_selector_all("#graph g.node", "els => els.map(e => e.dataset.op)"))
    assert {"qk_matmul", "softmax", "sv_matmul"} <= names and "fused_attention" not in names
    after(page, lambda: page.click("label.switch"))
    names = set(page.eval_on_selector_all("#graph g.node", "els => els.map(e => e.dataset.op)"))
    assert "fused_attention" in names and not {"qk_matmul", "softmax", "sv_matmul"} & names
    assert shown_report(page)["scenario"]["flash_attention"] is True
    assert "fa=1" in page.url


def test_whole_model_and_generation_views(page, base_url):
    open_page(page, base_url + f"?model=deepseek-v2-lite&stage=generation&g={G}")
    assert "Whole generation" in page.inner_text("#graph-title")
    groups = page.inner_text("#graph")
    assert "routed experts: top-6 of 64" in groups and "shared experts" in groups
    shares = page.evaluate("() => window.__roofline.view.generation_ops.reduce((s, o) => s + o.time_share, 0)")
    assert shares == pytest.approx(1.0, rel=1e-9)
    page.click('#graph-view label:has-text("Whole model")')
    page.wait_for_selector("#graph g.model-block")
    text = page.inner_text("#graph")
    assert "decoder layer" in text and "lm_head" in text and "embed_tokens" in text
    assert "view=model" in page.url
    page.click("#graph g.model-block")  # opens the layer view
    page.wait_for_selector('#graph g.node[data-op="experts.down_proj"]')


def test_upload_config(page, base_url, tmp_path):
    configs = sorted(SHARED_CONFIGS.glob("*.json")) if SHARED_CONFIGS.is_dir() else []
    path = next((p for p in configs if "Mixtral-8x7B" in p.name), configs[0] if configs else None)
    if path is None:  # no shared configs here: a small one written out in the test
        path = tmp_path / "config.json"
        path.write_text(json.dumps({"model_type": "llama", "hidden_size": 512, "intermediate_size": 1376,
                                    "num_hidden_layers": 6, "num_attention_heads": 8, "vocab_size": 3200}))
    open_page(page, base_url + f"?g={G}")
    after(page, lambda: page.set_input_files("#config-file", str(path)))
    report = shown_report(page)
    config = json.loads(path.read_text())
    assert report["model"]["num_layers"] == config["num_hidden_layers"]
    state = state_body(page)
    body = {"config": config, "config_name": state["cfgname"], "hardware": "rtx-a6000", "batch_size": 1,
            "prompt_len": 1024, "gen_len": 256, "w_bits": 16, "a_bits": 16, "kv_bits": 16}
    assert report == api(base_url, body)
    assert "cfg=" in page.url
    assert "Uploaded config.json" in page.inner_text("#model-info")
    # The link carries the uploaded config: a fresh page shows the same analysis.
    fresh = page.context.new_page()
    open_page(fresh, page.url)
    assert shown_report(fresh) == report
    fresh.close()


def test_url_state_round_trips(page, base_url):
    open_page(page, base_url)
    after(page, lambda: (page.fill("#model", "qwen2.5-7b"), page.press("#model", "Enter")))
    after(page, lambda: page.fill("#prompt", "3000"))
    after(page, lambda: page.fill("#gen", "77"))
    after(page, lambda: page.select_option("#w-bits", "int4"))
    after(page, lambda: page.select_option("#kv-bits", "fp8"))
    after(page, lambda: page.select_option("#efficiency", "hardware"))
    page.click('#stage label:has-text("Prefill")')
    page.click('#graph g.node[data-op="o_proj"]')
    url = page.url
    report = shown_report(page)
    other = page.context.new_page()
    open_page(other, url)
    assert shown_report(other) == report
    assert other.input_value("#model") == "Qwen/Qwen2.5-7B"
    assert other.input_value("#prompt") == "3000" and other.input_value("#gen") == "77"
    assert other.input_value("#w-bits") == "int4" and other.input_value("#kv-bits") == "fp8"
    assert other.input_value("#efficiency") == "hardware"
    assert other.is_checked('#stage input[value="prefill"]')
    assert other.inner_text("#op-title") == "o_proj"
    assert other.url == url
    other.close()


def test_custom_device_numbers(page, base_url):
    open_page(page, base_url)
    after(page, lambda: page.check("#custom-hw"))
    after(page, lambda: page.fill("#hw-bw", "2000"))
    report = shown_report(page)
    assert report["hardware"]["memory_bandwidth_bytes_per_s"] == 2e12
    assert report["hardware"]["name"] == "rtx-a6000 (custom)"
    assert "bw=2000" in page.url


def test_bad_input_shows_the_api_message(page, base_url):
    open_page(page, base_url)
    page.fill("#batch", "0")
    page.wait_for_selector("body[data-error]", state="attached")
    assert "batch_size must be an integer in 1..1000000" in page.inner_text("#error")
    assert "invalid" in page.get_attribute("#batch", "class")


def test_downloads(page, base_url):
    open_page(page, base_url + "?b=2")
    with page.expect_download() as info:
        page.click("#dl-json")
    downloaded = json.loads(Path(info.value.path()).read_text())
    assert downloaded == shown_report(page)
    with page.expect_download() as info:
        page.click("#dl-csv")
    csv = Path(info.value.path()).read_text()
    assert csv.splitlines()[0].startswith("stage,name,kind,count,flops")


def test_narrow_screen(chromium, base_url, artifacts):
    pg = new_page(chromium, 390, 844, device_scale_factor=2, is_mobile=True)
    open_page(pg, base_url + f"?g={G}")
    width = pg.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 391, width  # nothing sticks out sideways; wide parts scroll inside their panels
    assert pg.is_visible('[data-metric="TTFT"]')
    screenshot(pg, artifacts, "web-mobile.png", doc=True)
    pg.context.close()
    assert not pg.errors, pg.errors
