"""The page's fast-decoding controls and advisor panel in a real browser (fixtures in web_fixtures.py)."""

from __future__ import annotations

import llm_roofline as lr

from web_page import after, open_page, shown_report, state_body

pytest_plugins = ("web_fixtures",)


def test_speculative_link_shows_the_engines_report_and_the_verify_step(page, base_url):
    open_page(page, base_url + "?model=meta-llama/Llama-3.1-8B&hw=h100-sxm&b=4&g=256&spec=eagle3&tau=5")
    report = shown_report(page)
    assert report == lr.analyze("llama-3.1-8b", "h100-sxm", batch_size=4, gen_len=256,
                                speculative={"preset": "eagle3", "tau": 5}).to_dict()
    state = state_body(page)
    assert (state["spec"], state["tau"]) == ("eagle3", "5")
    assert page.locator("#technique-notes").is_visible()
    page.locator('input[name="stage"][value="verify"]').check(force=True)  # a redraw, no request
    page.wait_for_function("() => window.__roofline.state.stage === 'verify'")
    assert page.locator("#table-title").inner_text().endswith("Verify step (speculative)")
    shown = page.locator("#ops-table tbody tr[data-op]").count()
    assert shown == len(report["techniques"]["speculative"]["verify"]["ops"])


def test_technique_controls_and_bad_link_values(page, base_url):
    open_page(page, base_url + "?ee=3&kve=lru&g=256")
    notice = page.locator("#notice").inner_text()
    assert "ee=3" in notice and "kve=lru" in notice
    after(page, lambda: page.fill("#smlp", "0.25"))
    assert shown_report(page)["techniques"]["settings"]["sparsity"]["mlp"] == 0.25
    after(page, lambda: page.select_option("#kve", "h2o"))
    assert shown_report(page)["techniques"]["settings"]["kv_eviction"]["method"] == "h2o"


def test_advisor_panel_ranks(page, base_url):
    open_page(page, base_url + "?model=meta-llama/Llama-3.1-8B&hw=h100-sxm&g=256")
    page.click("#advise-run")
    page.wait_for_selector("table.advice tbody tr[data-technique]")
    names = page.locator("table.advice tbody tr[data-technique]").evaluate_all(
        "rows => rows.map(r => r.dataset.technique)")
    want = lr.advise("llama-3.1-8b", "h100-sxm", gen_len=256)
    assert names == [v.name for v in want.verdicts if v.evaluated]
