"""The operator graph's dataflow edges: every input names an operator (or the layer input), the
graph is acyclic, and every decoder-layer operator is reachable from the layer input."""

from __future__ import annotations

import pytest

from llm_roofline import analyze_many, load_model
from llm_roofline.ops import LAYER_INPUT

from conftest import VARIED_MODELS

CATALOG_SAMPLE = ["meta-llama/Llama-2-7b-hf", "deepseek-ai/DeepSeek-V3", "ai21labs/Jamba-v0.1", "google/gemma-2-9b",
                  "EleutherAI/gpt-j-6b", "facebook/opt-6.7b", "tiiuae/falcon-40b", "Qwen/Qwen3-30B-A3B",
                  "state-spaces/mamba-2.8b-hf", "microsoft/Phi-3-mini-4k-instruct", "Qwen/Qwen1.5-MoE-A2.7B"]


def _tables(model):
    for flash in (False, True):
        a = analyze_many(model, "a100-80g-sxm", prompt_len=64, flash_attention=flash)
        yield a.prefill.table
        yield a.decode.table


@pytest.mark.parametrize("model", CATALOG_SAMPLE + sorted(VARIED_MODELS))
def test_edges_form_a_dag_rooted_at_the_layer_input(model):
    spec = VARIED_MODELS[model]() if model in VARIED_MODELS else load_model(model)
    for table in _tables(spec):
        names = set(table.names)
        order = {n: i for i, n in enumerate(table.names)}
        for name, inputs in zip(table.names, table.inputs, strict=True):
            for source in inputs:
                assert source in names or source == LAYER_INPUT, (name, source)
                if source != LAYER_INPUT:
                    assert order[source] < order[name], f"{source} -> {name} goes backwards"
        reachable = {LAYER_INPUT}
        for name, inputs in zip(table.names, table.inputs, strict=True):
            if set(inputs) & reachable:
                reachable.add(name)
        layer_ops = [n for n, c in zip(table.names, table.counts, strict=True) if c > 1 or n in reachable]
        assert set(layer_ops) <= reachable


def test_llama_layer_edges(llama2_7b):
    table = analyze_many(llama2_7b, "a100-80g-sxm", prompt_len=16).prefill.table
    edges = dict(zip(table.names, table.inputs, strict=True))
    assert edges["q_proj"] == edges["k_proj"] == edges["v_proj"] == ("input_layernorm",)
    assert edges["sv_matmul"] == ("softmax", "v_proj")
    assert edges["attn_residual"] == (LAYER_INPUT, "o_proj")
    assert edges["act_fn"] == ("gate_proj", "up_proj")
    assert edges["mlp_residual"] == ("attn_residual", "down_proj")
    assert edges["lm_head"] == ("norm",)


def test_catalog_operator_names_are_unique_hf_names():
    """No two different operators share a name (a ``[2]`` suffix would mean a name clash)."""
    from llm_roofline.models.catalog import model_names

    for model in model_names():
        for table in _tables(model):
            assert not [n for n in table.names if "[" in n], model
            assert len(set(table.names)) == len(table.names)


def test_post_norm_layer_edges():
    table = analyze_many("facebook/opt-350m", "a100-80g-sxm", prompt_len=16).prefill.table
    edges = dict(zip(table.names, table.inputs, strict=True))
    assert edges["q_proj"] == (LAYER_INPUT,)  # post-LN: attention reads the layer input directly
    assert edges["self_attn_layer_norm"] == ("attn_residual",)
    assert edges["fc1"] == ("self_attn_layer_norm",)
    assert edges["final_layer_norm"] == ("mlp_residual",)
    assert edges["project_out"] == ("final_layer_norm",) and edges["lm_head"] == ("project_out",)
