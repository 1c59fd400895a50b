"""The web face's graph extraction (sections, layout) and whole-generation per-operator numbers, in
process, over the whole model catalog."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.hardware.spec import Efficiency
from llm_roofline.models.catalog import model_names
from llm_roofline.web.graph import model_graph, resolved_inputs
from llm_roofline.web.wholegen import whole_generation_ops


@pytest.mark.parametrize("model", model_names())
def test_graph_sections_and_layout(model):
    a = lr.analyze_many(model, "h100", flash_attention=model.endswith("B"))
    g = model_graph(a.model, a.prefill.table, a.decode.table)
    assert g["num_layers"] == a.model.num_layers == sum(k["count"] for k in g["layer_kinds"])
    for stage in ("prefill", "decode"):
        nodes = g[stage]["nodes"]
        by = {n["name"]: n for n in nodes}
        sections = [n["section"] for n in nodes]
        # embedding ops first, then the layer, then the head; each part non-empty
        assert sections == sorted(sections, key=("embedding", "layer", "head").index), model
        assert sections[0] == "embedding" and sections[-1] == "head" and "layer" in sections
        assert nodes[-1]["name"] == a.model.op_name("lm_head")
        assert all(n["count"] == 1 for n in nodes if n["section"] != "layer")
        layer = [n for n in nodes if n["section"] == "layer"]
        assert max(n["count"] for n in layer) <= a.model.num_layers
        for n in layer:  # ranks follow the edges; every layer op hangs off the layer input
            ins = [by[s] for s in n["inputs"] if s in by and by[s]["section"] == "layer"]
            assert n["rank"] == 1 + max([i["rank"] for i in ins] or [0]), (model, n["name"])
            assert ins or "layer_input" in n["inputs"], (model, n["name"])
        # no two layer ops share a place
        places = [(n["rank"], n["slot"]) for n in layer]
        assert len(places) == len(set(places)), model
        assert g[stage]["layer_output"] == layer[-1]["name"]


def test_renamed_twins_are_wired_to_the_right_producer():
    # When two different operators share a name the engine calls the later one name[2]; a consumer
    # that lists the bare name reads the nearest variant before it.
    table = SimpleNamespace(names=("ln", "c_proj", "add", "fc", "c_proj[2]", "add2"),
                            inputs=((), ("ln",), ("layer_input", "c_proj"), ("add",), ("fc",), ("add", "c_proj")))
    fixed = resolved_inputs(table)
    assert fixed[2] == ("layer_input", "c_proj")
    assert fixed[5] == ("add", "c_proj[2]")


@pytest.mark.parametrize("model", model_names())
def test_every_edge_names_an_operator(model):
    a = lr.analyze_many(model, "a6000")
    g = model_graph(a.model, a.prefill.table, a.decode.table)
    for stage in ("prefill", "decode"):
        names = {n["name"] for n in g[stage]["nodes"]} | {"layer_input"}
        assert all(e["source"] in names for e in g[stage]["edges"]), model


def test_union_of_layer_kinds_keeps_counts():
    a = lr.analyze_many("jamba-v0.1", "a6000")
    g = model_graph(a.model, a.prefill.table, a.decode.table)
    counts = {n["name"]: n["count"] for n in g["decode"]["nodes"]}
    assert counts["selective_scan"] == 28 and counts["qk_matmul"] == 4 and counts["input_layernorm"] == 32
    assert {k["mixer"]["type"] for k in g["layer_kinds"]} == {"mamba", "attention"}


@pytest.mark.parametrize("model", ["llama-2-7b", "gemma-2-9b", "mistral-7b", "deepseek-v2-lite", "jamba-v0.1",
                                   "mamba-130m", "gpt2", "qwen3-30b-a3b"])
@pytest.mark.parametrize("efficiency", ["ideal", Efficiency(0.6, 0.8, 4e-6)])
def test_whole_generation_ops_sum_to_the_engine(model, efficiency):
    a = lr.analyze_many(model, "a100-80g", batch_size=3, prompt_len=5000, gen_len=3000, efficiency=efficiency)
    ops = whole_generation_ops(a)
    assert sum(o["time_s"] * o["count"] for o in ops) == pytest.approx(float(a.generation.e2e_s[0]), rel=1e-12)
    assert sum(o["prefill_time_s"] * o["count"] for o in ops) == pytest.approx(float(a.generation.ttft_s[0]),
                                                                              rel=1e-12)


@pytest.mark.parametrize("model", ["gemma-2-2b", "llama-2-7b", "deepseek-v2-lite"])
def test_whole_generation_ops_equal_a_step_by_step_sum(model):
    P, G = 4090, 12  # Gemma 2's 4096-token window is crossed during generation
    a = lr.analyze_many(model, "h100", prompt_len=P, gen_len=G)
    ops = {o["name"]: o for o in whole_generation_ops(a)}
    steps = lr.analyze_many(model, "h100", prompt_len=P, kv_len=list(range(P + 1, P + G + 1)))
    pre = {n: k for k, n in enumerate(a.prefill.table.names)}
    for k, name in enumerate(steps.decode.table.names):
        p = pre.get(name)
        for field, pre_v, dec_v in (("flops", a.prefill.table.flops, steps.decode.table.flops),
                                    ("bytes", a.prefill.table.bytes, steps.decode.table.bytes),
                                    ("time_s", a.prefill.time_s, steps.decode.time_s)):
            expected = dec_v[k].sum() + (pre_v[p, 0] if p is not None else 0.0)
            assert np.isclose(ops[name][field], expected, rtol=1e-9, atol=0), (name, field)
