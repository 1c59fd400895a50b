"""The page's compression and system controls in a real browser (fixtures in web_fixtures.py): a link's
optimizations give the API's report, the controls change it, and bad link values get a message."""

from __future__ import annotations

import llm_roofline as lr

from web_page import after, open_page, shown_report, state_body

pytest_plugins = ("web_fixtures",)


def test_optimizations_link_and_controls(page, base_url):
    open_page(page, base_url + "?g=256&b=8&fus=aggressive&offk=0.5&kva=paged&pfx=100&sfmt=2:4&attk=fa2")
    report = shown_report(page)
    want = lr.analyze("llama-2-7b", "a6000", batch_size=8, gen_len=256, fusion="aggressive", offload_kv=0.5,
                      kv_allocation="paged", prefix_len=100, sparse_format="2:4", attention="fa2")
    assert report == want.to_dict()
    after(page, lambda: page.select_option("#fusion", "none"))
    assert shown_report(page)["optimizations"]["fusion"] == "none"
    after(page, lambda: page.fill("#offw", "0.25"))
    assert shown_report(page)["optimizations"]["offload_weights"] == 0.25


def test_bad_optimization_link_values(page, base_url):
    open_page(page, base_url + "?fus=total&offk=2&kva=heap&g=256")
    notice = page.locator("#notice").inner_text()
    assert "fus=total" in notice and "offk=2" in notice and "kva=heap" in notice
    state = state_body(page)
    assert (state["fus"], state["offk"], state["kva"]) == ("none", "", "exact")
