"""The controls in a real browser: catalog fields that pick only on an explicit choice and say what
is analysed; links whose values are checked on load, with a message that stays."""

from __future__ import annotations

import pytest

import llm_roofline as lr

from web_page import after, open_page, shown_report, state_body

pytest_plugins = ("web_fixtures",)


def typed_without_a_request(page, field: str, text: str) -> None:
    """Type ``text`` key by key and check that no keystroke changed the state or asked the server."""
    before_state, before_ready = state_body(page), page.get_attribute("body", "data-ready")
    page.click(f"#{field}")
    page.fill(f"#{field}", "")
    page.type(f"#{field}", text)
    page.wait_for_timeout(300)  # longer than the page's 90 ms debounce: a request would have started
    assert state_body(page) == before_state
    assert page.get_attribute("body", "data-ready") == before_ready
    assert page.get_attribute("body", "data-loading") in ("", None)


def test_catalog_fields_pick_on_enter_only(web_page, web_url):
    """Each text passes through another entry's exact name on the way (a100 is the 40 GB part,
    h100 the SXM one, nvidia_A100 the 40 GB again, phi-3-mini and llama-3 other models); only
    Enter decides, and the field and the line under it show what is analysed."""
    open_page(web_page, web_url)
    for text, name in (("a100-80g", "a100-80g-sxm"), ("h100-pcie", "h100-pcie"), ("nvidia_A100_80G", "a100-80g-sxm")):
        typed_without_a_request(web_page, "hardware", text)
        if name == state_body(web_page)["hw"]:  # already in use: Enter only tidies the field
            web_page.press("#hardware", "Enter")
        else:
            after(web_page, lambda: web_page.press("#hardware", "Enter"))
        assert shown_report(web_page)["hardware"]["name"] == name == state_body(web_page)["hw"]
        assert web_page.input_value("#hardware") == name and web_page.inner_text("#hw-resolved") == name
    assert shown_report(web_page) == lr.analyze("llama-2-7b", "a100-80g-sxm").to_dict()
    for text, model_id in (("phi-3-mini-4k", "microsoft/Phi-3-mini-4k-instruct"),
                           ("llama-3.1-70b", "meta-llama/Llama-3.1-70B")):
        typed_without_a_request(web_page, "model", text)
        after(web_page, lambda: web_page.press("#model", "Enter"))
        assert shown_report(web_page)["model"]["name"] == model_id
        assert web_page.inner_text("#model-resolved") == model_id


def test_click_on_a_suggestion_picks_it(web_page, web_url):
    open_page(web_page, web_url)
    typed_without_a_request(web_page, "hardware", "mi3")
    options = web_page.eval_on_selector_all("#hardware-suggest li", "els => els.map(e => e.dataset.value)")
    assert {"mi300x", "mi325x", "mi355x"} <= set(options)
    after(web_page, lambda: web_page.click('#hardware-suggest li[data-value="mi325x"]'))
    assert shown_report(web_page)["hardware"]["name"] == "mi325x"
    assert web_page.is_hidden("#hardware-suggest")


def test_arrow_keys_then_enter_pick_the_highlighted_suggestion(web_page, web_url):
    open_page(web_page, web_url)
    typed_without_a_request(web_page, "model", "mixtral")
    web_page.press("#model", "ArrowDown")
    web_page.press("#model", "ArrowDown")
    second = web_page.get_attribute("#model-suggest li.active", "data-value")
    after(web_page, lambda: web_page.press("#model", "Enter"))
    assert shown_report(web_page)["model"]["name"] == second


def test_leaving_the_field_picks_only_a_unique_match(web_page, web_url):
    open_page(web_page, web_url)
    typed_without_a_request(web_page, "model", "mixtral-8x22")  # one catalog model matches
    after(web_page, lambda: web_page.press("#model", "Tab"))
    assert shown_report(web_page)["model"]["name"] == "mistralai/Mixtral-8x22B-v0.1"
    typed_without_a_request(web_page, "model", "llama")  # many match: nothing is picked
    web_page.press("#model", "Tab")
    web_page.wait_for_selector("#error:not([hidden])")
    assert "matches" in web_page.inner_text("#error") and "pick one" in web_page.inner_text("#error")
    assert "invalid" in web_page.get_attribute("#model", "class")
    assert state_body(web_page)["model"] == "mistralai/Mixtral-8x22B-v0.1"
    assert web_page.inner_text("#model-resolved") == "mistralai/Mixtral-8x22B-v0.1"  # still what is analysed
    typed_without_a_request(web_page, "hardware", "no-such-gpu")
    web_page.press("#hardware", "Enter")
    web_page.wait_for_selector("#error:text('not in the catalog')")
    web_page.press("#hardware", "Escape")  # back to the device in use
    assert web_page.input_value("#hardware") == state_body(web_page)["hw"]


LINKS = {  # link -> {problem the message names: what the page shows instead}
    "?stage=bogus&view=sideways&w=99&kv=int3&b=0&p=lots&fa=yes&eff=fast&hw=nosuchgpu&bw=-5&zoom=2": {
        "stage=bogus": ("stage", "decode"), "view=sideways": ("view", "layer"), "w=99": ("w", "own"),
        "kv=int3": ("kv", "16"), "b=0": ("b", "1"), "p=lots": ("p", "1024"), "fa=yes": ("fa", "0"),
        "eff=fast": ("eff", "ideal"), "hw=nosuchgpu": ("hw", "rtx-a6000"), "bw=-5": ("bw", ""), "zoom": (None, None)},
    "?model=nosuchmodel&op=no_such_op": {"model=nosuchmodel": ("model", "meta-llama/Llama-2-7b-hf"),
                                         "op=no_such_op": ("op", "")},
    "?cfg=!!!": {"cfg:": ("cfg", "")},
    "?cfg=WzEsMl0": {"cfg:": ("cfg", "")},  # base64url of [1,2]: JSON, but not a config object
}


@pytest.mark.parametrize("query", list(LINKS))
def test_bad_link_values_get_a_message_that_stays(web_page, web_url, query):
    open_page(web_page, web_url + query, sweeps=True)
    notice = web_page.inner_text("#notice")
    state = state_body(web_page)
    for problem, (key, value) in LINKS[query].items():
        assert problem in notice, (problem, notice)
        if key:
            assert state[key] == value, (key, state[key])
    assert state["b"] == "1" and state["p"] == "1024"  # the API's defaults (the page reads them from /api/meta)
    text = web_page.inner_text("body")
    assert "undefined" not in text and "NaN" not in text
    for select in ("#w-bits", "#a-bits", "#kv-bits", "#efficiency"):  # no empty dropdown
        assert web_page.input_value(select) != "", select
    assert web_page.is_checked(f'#stage input[value="{state["stage"]}"]')
    after(web_page, lambda: web_page.fill("#batch", "3"))  # a later request does not clear it
    assert web_page.inner_text("#notice") == notice
    web_page.click("#notice-close")
    assert web_page.is_hidden("#notice")


def test_link_formats_the_api_takes_are_shown(web_page, web_url):
    """Any bit-width the API accepts works in a link: the dropdown gains that choice instead of going blank."""
    open_page(web_page, web_url + "?w=3&kv=tf32&a=12")
    assert web_page.is_hidden("#notice")
    assert [web_page.input_value(f) for f in ("#w-bits", "#a-bits", "#kv-bits")] == ["3", "12", "tf32"]
    scenario = shown_report(web_page)["scenario"]
    assert (scenario["w_bits"], scenario["a_bits"], scenario["kv_bits"], scenario["kv_family"]) == (3, 12, 32, "tf32")


def test_good_link_has_no_message_and_round_trips(web_page, web_url):
    query = "?model=mistralai%2FMistral-7B-v0.1&hw=h100-sxm&stage=prefill&b=8&p=2048&g=64&w=int4&fa=1&op=o_proj"
    open_page(web_page, web_url + query)
    assert web_page.is_hidden("#notice")
    assert web_page.inner_text("#op-title") == "o_proj"
    assert web_page.url == web_url + query
