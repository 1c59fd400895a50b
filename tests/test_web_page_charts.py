"""What the page draws, checked geometrically in a real browser: chart labels that cross no line, point,
axis or other label; the does-not-fit shading from the exact limit (and, in a screenshot, red only
beyond it); coincident operators told apart; numbers that fit their cards; wide graphs readable."""

from __future__ import annotations

import io
import math
import re

import pytest

import llm_roofline as lr

from web_page import (
    chart_geometry,
    element_screenshot,
    inside,
    metric,
    new_page,
    open_page,
    overlap,
    screenshot,
    shown_report,
    square,
    wait_title,
    within,
)

pytest_plugins = ("web_fixtures",)
G = 256

ROOFLINE_CASES = {
    "decode": "?g=256",
    "prefill": "?stage=prefill&g=256",  # the selected operator sits on the roof, where the peak label was
    "prefill-w8a8": "?stage=prefill&w=int8&a=int8&g=256",  # two roofs
    "deepseek-v3": "?model=deepseek-v3&hw=h100&stage=generation&g=256",
    "mla-prefill-b64": "?model=deepseek-v2-lite&hw=a100-80g&stage=prefill&b=64&g=256",
}


def assert_labels_clear(geo: dict, where: str) -> None:
    """No label leaves the plot, overlaps another label or a point, or has a line run through it."""
    labels = geo["labels"]
    assert labels, where
    for i, a in enumerate(labels):
        assert within(a["poly"], geo["box"]), (where, a["text"], "outside the plot")
        for b in labels[i + 1:]:
            assert not overlap(a["poly"], b["poly"]), (where, a["text"], b["text"])
        for c in geo["circles"]:
            assert not overlap(a["poly"], square(c["x"], c["y"], c["r"])), (where, a["text"], "covers", c["op"])
        for line in geo["ceilings"] + geo["markers"]:
            crossing = [p for p in line["points"] if inside(p, a["poly"])]
            assert not crossing, (where, a["text"], "crossed by", line.get("cls", "a ceiling"), crossing[:2])


@pytest.mark.parametrize("case", list(ROOFLINE_CASES))
def test_roofline_labels_cross_nothing(web_page, web_url, artifacts, case):
    open_page(web_page, web_url + ROOFLINE_CASES[case])
    for selector in ("#roofline", "#op-roofline"):
        assert_labels_clear(chart_geometry(web_page, selector), f"{case} {selector}")
    main = chart_geometry(web_page, "#roofline")
    texts = [label["text"] for label in main["labels"]]
    assert any("peak" in t for t in texts) and any(t.startswith("ridge") for t in texts)
    # The selected operator is named next to its point (its own chart names it in the caption).
    assert [a["text"] for a in main["labels"] if a["cls"] == "pt-label"] == [web_page.inner_text("#op-title")]
    # The bandwidth label runs along its slope, above it.
    label = next(a for a in main["labels"] if a["text"].endswith("memory"))
    slope = next(c for c in main["ceilings"] if c["main"])["points"]
    (x0, y0), (x1, y1) = slope[0], slope[5]
    (a0, b0), (a1, b1) = label["poly"][0], label["poly"][1]  # the text's baseline direction
    assert label["rotated"]
    assert math.degrees(math.atan2(b1 - b0, a1 - a0)) == pytest.approx(math.degrees(math.atan2(y1 - y0, x1 - x0)),
                                                                       abs=1.0)
    cx = sum(p[0] for p in label["poly"]) / 4
    cy = sum(p[1] for p in label["poly"]) / 4
    assert cy < y0 + (y1 - y0) * (cx - x0) / (x1 - x0)  # above the slope (screen y grows downwards)
    screenshot(web_page.locator("#roofline"), artifacts, f"roofline-{case}.png")


SWEEP_CHARTS = ["#sw-lat-batch", "#sw-tput-batch", "#sw-mem-batch", "#sw-lat-seq", "#sw-tput-seq", "#sw-mem-seq"]


@pytest.mark.parametrize("query", ["?g=256&b=42", "?g=256&b=4&p=16384", "?model=llama-2-70b&hw=h100&g=256"])
def test_sweep_labels_do_not_overlap(web_page, web_url, query):
    open_page(web_page, web_url + query, sweeps=True)
    n = shown_report(web_page)["memory"]["max_batch_size"]
    for selector in SWEEP_CHARTS:
        geo = chart_geometry(web_page, selector)
        if geo is None:  # an empty chart ("set generated tokens")
            continue
        assert_labels_clear(geo, f"{query} {selector}")
    fits = [a["text"] for a in chart_geometry(web_page, "#sw-tput-batch")["labels"] if a["text"].startswith("fits")]
    assert fits == ([f"fits ≤ {n:,}"] if n >= 1 else []), fits


def _crossing(polygon: list, y_cap: float) -> float:
    """Where the top edge of a stacked area (the first half of its points) rises through y_cap."""
    top = polygon[: len(polygon) // 2]
    for (x0, y0), (x1, y1) in zip(top, top[1:], strict=False):
        if y0 >= y_cap > y1:
            return x0 + (x1 - x0) * (y0 - y_cap) / (y0 - y1)
    raise AssertionError("the memory area never crosses the capacity line")


def test_shading_starts_exactly_at_the_memory_limit(web_page, web_url, artifacts):
    open_page(web_page, web_url + "?b=4&g=256", sweeps=True)
    report = shown_report(web_page)
    n = report["memory"]["max_batch_size"]
    sc = report["scenario"]
    # The engine's own verdict, asked independently: N fits, N + 1 does not.
    fits = lr.sweep("llama-2-7b", "a6000", batch_size=[n, n + 1], prompt_len=sc["prompt_len"], gen_len=G).columns
    assert list(fits["fits"]) == [True, False]
    batch = web_page.evaluate("() => window.__roofline.sweepBatch.columns")
    assert n in batch["batch_size"] and n + 1 in batch["batch_size"]  # the sweep has both sides of the limit
    mem = chart_geometry(web_page, "#sw-mem-batch")
    cap_y = next(m for m in mem["markers"] if m["cls"] == "capline")["points"][0][1]
    top = next(p for p in mem["polygons"] if p["series"] == "activations")["points"]
    edge = mem["overfill"]["x"]
    assert edge == pytest.approx(_crossing(top, cap_y), abs=1.5)  # shading begins where the area meets capacity
    i = batch["batch_size"].index(n)
    assert top[i][0] - 0.5 <= edge <= top[i + 1][0] + 0.5  # between batch N and batch N + 1
    for selector in ("#sw-lat-batch", "#sw-tput-batch"):  # same limit, same place, on every batch chart
        assert chart_geometry(web_page, selector)["overfill"]["x"] == pytest.approx(edge, abs=0.01)
    # Prompt length: refined around the limit; the bracketing lengths are the engine's N and N + 1.
    seq = web_page.evaluate("() => window.__roofline.sweepSeq.columns")
    j = seq["fits"].index(False)
    lo, hi = seq["prompt_len"][j - 1], seq["prompt_len"][j]
    assert hi - lo <= 64
    assert list(lr.sweep("llama-2-7b", "a6000", batch_size=4, prompt_len=[lo, hi], gen_len=G).columns["fits"]) == [
        True, False]
    mem = chart_geometry(web_page, "#sw-mem-seq")
    cap_y = next(m for m in mem["markers"] if m["cls"] == "capline")["points"][0][1]
    top = next(p for p in mem["polygons"] if p["series"] == "activations")["points"]
    assert mem["overfill"]["x"] == pytest.approx(_crossing(top, cap_y), abs=1.5)
    # And in pixels: left of the edge the latency chart is not red, right of it it is.
    _assert_red_only_beyond(web_page, "#sw-lat-batch", artifacts)
    element_screenshot(web_page, "section.panel:has(.sweeps)", artifacts, "web-sweeps.png", doc=True)


def _assert_red_only_beyond(page, selector: str, artifacts) -> None:
    image = pytest.importorskip("PIL.Image")
    geo = chart_geometry(page, selector)
    svg = page.locator(f"{selector} svg")
    png = screenshot(svg, artifacts, "shading.png")
    img = image.open(io.BytesIO(png.read_bytes())).convert("RGB")
    scale = img.width / geo["width"]
    edge, box = geo["overfill"]["x"], geo["box"]

    def red_share(x: float) -> float:
        ys = range(int((box["top"] + 4) * scale), int((box["bottom"] - 4) * scale))
        px = [img.getpixel((int(x * scale), y)) for y in ys]
        return sum(1 for r, g, b in px if r - g > 8 and r - b > 8 and r > 200) / len(px)

    assert red_share(edge - 3) < 0.1 and red_share(edge + 3) > 0.6, (red_share(edge - 3), red_share(edge + 3))


def test_coincident_operators_are_told_apart(web_page, web_url):
    """In decode about 18 operators share about 6 dots: the list under the chart names each operator
    once, in the row of the dot it is drawn at; a click on a name selects it."""
    open_page(web_page, web_url + "?g=256")
    geo = chart_geometry(web_page, "#roofline")
    drawn = {c["op"]: c for c in geo["circles"] if c["op"]}
    groups = web_page.eval_on_selector_all("#roofline-points li", "els => els.map(e => e.dataset.group)")
    rows = [g.split(" ") for g in groups]
    names = [n for r in rows for n in r]
    assert sorted(names) == sorted(drawn)  # every plotted operator, once
    row_of = {n: k for k, r in enumerate(rows) for n in r}
    for a in drawn.values():
        for b in drawn.values():
            if a["op"] < b["op"] and math.hypot(a["x"] - b["x"], a["y"] - b["y"]) < max(a["r"], b["r"]):
                assert row_of[a["op"]] == row_of[b["op"]], (a["op"], b["op"])  # drawn on each other: one row
    assert len(rows) < len(names)  # some do coincide in decode
    counts = [a for a in geo["labels"] if a["cls"] == "pt-count"]
    for label in counts:  # a "×k" next to a shared dot names as many operators as its list row
        assert int(label["text"][1:]) == len(label["group"].split(" ")) and label["group"].split(" ") in rows
    web_page.click('#roofline-points button[data-op="v_proj"]')
    wait_title(web_page, "v_proj")


def test_huge_numbers_fit_their_cards(chromium, web_url, artifacts):
    page = new_page(chromium)
    query = "?model=llama-2-70b&b=1000000&p=10000000&g=10000000&bw=0.002&peak=0.00002&cap=0.002"
    open_page(page, web_url + query)
    report = shown_report(page)
    assert report["generation"]["e2e_s"] > 1e10 and report["memory"]["total_bytes"] > 1e18
    cards = page.eval_on_selector_all(".metric", """els => els.map(e => ({name: e.dataset.metric,
        value: e.querySelector('.v').innerText, scroll: e.scrollWidth, client: e.clientWidth,
        edge: e.getBoundingClientRect().right,
        right: Math.max(...[...e.querySelectorAll('*')].map(c => c.getBoundingClientRect().right))}))""")
    for card in cards:
        assert card["scroll"] <= card["client"] + 1 and card["right"] <= card["edge"] + 1, card
        assert not re.search(r"\d{5,}", card["value"]), card  # no long runs of digits
    assert page.inner_text('[data-metric="TTFT"] .v small') == "h"
    assert metric(page, "TTFT") == pytest.approx(report["generation"]["ttft_s"], rel=1e-15)
    # fmt.js against values worked out by hand (1 h = 3600 s; engineering notation: exponents in 3s)
    got = page.evaluate("""async () => { const f = await import('/static/fmt.js');
      return [f.secs(5400), f.secs(90), f.secs(59), f.secs(0.0125), f.secs(1.07e12), f.secs(3.6e6),
              f.si(1.28e22, 'B'), f.si(999.95e6, 'B'), f.si(5e18, 'B'), f.int(1.07e12), f.int(123456),
              f.eng(1.5e4), f.si(12345, 'FLOP')]; }""")
    assert got == ["1.5 h", "1.5 min", "59 s", "12.5 ms", "297e6 h", "1e3 h", "12.8e21 B", "1 GB", "5 EB",
                   "1.07e12", "123,456", "15e3", "12.3 kFLOP"]
    screenshot(page, artifacts, "huge-numbers.png")
    page.context.close()
    assert not page.errors, page.errors


WIDE = ["deepseek-v3", "jamba", "qwen1.5-moe"]  # MLA + dense and MoE layers + shared experts; Mamba + MoE


@pytest.mark.parametrize("model", WIDE)
def test_moe_and_hybrid_graphs_readable_and_on_screen_at_1440(chromium, web_url, artifacts, model):
    page = new_page(chromium, 1440, 900)
    open_page(page, web_url + f"?model={model}&g=256")
    graph = page.evaluate("""() => { const c = document.getElementById('graph'), s = c.querySelector('svg');
      const k = Number(s.dataset.scale), r = c.getBoundingClientRect();
      const size = (sel) => Math.min(...[...c.querySelectorAll(sel)]
        .map(t => parseFloat(getComputedStyle(t).fontSize) * k));
      return {scrollW: c.scrollWidth, clientW: c.clientWidth, name: size('g.node .n1'), numbers: size('g.node .n2'),
              left: r.left, right: r.right}; }""")
    assert graph["scrollW"] <= graph["clientW"] + 1, graph  # every column on screen: no sideways scrolling
    assert graph["name"] >= 10 and graph["numbers"] >= 9, graph  # at most 10 % smaller than drawn
    for name in page.eval_on_selector_all("#graph g.node", "els => els.map(e => e.dataset.op)"):
        if "shared_expert" not in name:
            continue
        node = page.locator(f'#graph g.node[data-op="{name}"]')
        node.scroll_into_view_if_needed()
        box = node.bounding_box()
        assert graph["left"] <= box["x"] and box["x"] + box["width"] <= graph["right"], (name, box, graph)
        assert 0 <= box["y"] and box["y"] + box["height"] <= 900, (name, box)
    screenshot(page, artifacts, f"graph-{model}-1440.png")
    if model == "deepseek-v3":
        element_screenshot(page, "section.graph-panel", artifacts, "web-moe.png", doc=True)
    page.context.close()
    assert not page.errors, page.errors
