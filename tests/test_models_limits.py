"""Bounded input: layer and dimension caps (docs/models.md, Limits), layer groups built from rules
without a per-layer list, layer indices inside the model, and duplicate YAML keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_roofline import analyze
from llm_roofline.cli import main
from llm_roofline.errors import ConfigError
from llm_roofline.hardware.catalog import load_hardware
from llm_roofline.models import catalog, layer_pattern
from llm_roofline.models.hf_config import spec_from_hf_config
from llm_roofline.models.limits import LIMITS
from llm_roofline.models.spec import MLP, Attention, Layer, LayerGroup, ModelSpec
from llm_roofline.yaml_load import load_yaml

H100 = "h100-sxm"
MAX_LAYERS = LIMITS["layers"]
BASE = {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100}
DEEPSEEK = {"kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8, "v_head_dim": 8, "q_lora_rank": 32,
            "n_routed_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32, "first_k_dense_replace": 3}
# A family of each kind of layer rule: uniform, alternating, dense-then-MoE, periodic hybrid,
# alternating windows from a default layer_types, interleaved MoE with NoPE layers.
FAMILIES = {
    "llama": ({"model_type": "llama"}, 1),
    "gemma2": ({"model_type": "gemma2", "head_dim": 16, "sliding_window": 8}, 2),
    "deepseek_v3": ({"model_type": "deepseek_v3", **DEEPSEEK}, 1),
    "jamba": ({"model_type": "jamba", "num_experts": 4, "mamba_dt_rank": 4}, 8),
    "gpt_oss": ({"model_type": "gpt_oss", "head_dim": 16, "num_key_value_heads": 2, "num_local_experts": 4,
                 "num_experts_per_tok": 2, "sliding_window": 8}, 2),
    "llama4": ({"model_type": "llama4_text", "head_dim": 16, "num_key_value_heads": 2, "num_local_experts": 4,
                "interleave_moe_layer_step": 2, "attention_chunk_size": 8, "intermediate_size_mlp": 256}, 4),
    # The issue 7 part B families: every 4th layer full attention, MoE every 2nd (Qwen3-Next); an indexer in
    # layers 0 and every odd one (GLM-5's freq 2, offset 2), MoE past 3 dense layers; HCA in layers 0, 1 and
    # every even one, CSA in the odd ones (DeepSeek-V4's default).
    "qwen3_next": ({"model_type": "qwen3_next", "head_dim": 16, "num_key_value_heads": 2, "linear_num_key_heads": 2,
                    "linear_num_value_heads": 4, "linear_key_head_dim": 16, "linear_value_head_dim": 16,
                    "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
                    "shared_expert_intermediate_size": 32, "decoder_sparse_step": 2}, 4),
    "glm_moe_dsa": ({"model_type": "glm_moe_dsa", **DEEPSEEK, "index_n_heads": 2, "index_head_dim": 16,
                     "index_topk": 8, "index_topk_freq": 2}, 2),
    "deepseek_v4": ({"model_type": "deepseek_v4", "head_dim": 16, "qk_rope_head_dim": 8, "q_lora_rank": 16,
                     "o_groups": 2, "o_lora_rank": 16, "sliding_window": 8, "index_n_heads": 2, "index_head_dim": 16,
                     "index_topk": 4, "n_routed_experts": 4, "num_experts_per_tok": 2, "hc_mult": 2,
                     "compress_rates": {"compressed_sparse_attention": 4, "heavily_compressed_attention": 8}}, 2),
}


def _config(family: str, layers: int) -> dict:
    extra, _ = FAMILIES[family]
    return {**BASE, **extra, "num_hidden_layers": layers}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_layer_cap_parses_exactly_without_a_per_layer_list(family, monkeypatch):
    # Parameters are affine in the number of whole periods of the layer rule; the rule is evaluated a
    # bounded number of times (once per segment and residue), not once per layer.
    _, period = FAMILIES[family]
    calls = []
    original = layer_pattern.pattern_counts

    def counting(num_layers, key_at, **kw):
        return original(num_layers, lambda i: calls.append(i) or key_at(i), **kw)

    monkeypatch.setattr(layer_pattern, "pattern_counts", counting)
    base = 8  # a multiple of every period, past DeepSeek's 3 dense layers

    def total(layers: int) -> float:
        return analyze(spec_from_hf_config(_config(family, layers), family), H100, prompt_len=4).model["params_total"]

    p1, p2 = total(base), total(2 * base)
    calls.clear()
    spec = spec_from_hf_config(_config(family, MAX_LAYERS), family)
    assert spec.num_layers == MAX_LAYERS
    assert 1 <= len(calls) <= 3 * period
    assert analyze(spec, H100, prompt_len=4).model["params_total"] == p1 + (MAX_LAYERS // base - 1) * (p2 - p1)


def test_gemma4_and_nemotron_h_at_the_layer_cap(monkeypatch):
    # Gemma 4: every 6th layer global and the last one forced global (HF), so 10,000 // 6 + 1 = 1,667 global
    # layers and 8,333 sliding ones, from a bounded number of rule evaluations. Nemotron-H's layers are its
    # pattern's letters (the config's own list, read once); one letter past the cap is refused by name.
    calls = []
    original = layer_pattern.pattern_counts
    monkeypatch.setattr(layer_pattern, "pattern_counts",
                        lambda n, key_at, **kw: original(n, lambda i: calls.append(i) or key_at(i), **kw))
    gemma = spec_from_hf_config({**BASE, "model_type": "gemma4_text", "num_hidden_layers": MAX_LAYERS, "head_dim": 16,
                                 "global_head_dim": 32, "num_key_value_heads": 2, "hidden_size_per_layer_input": 8,
                                 "vocab_size_per_layer_input": 100}, "g")
    assert len(calls) <= 3 * 6
    windows = {g.layer.mixer.sliding_window: g.count for g in gemma.layer_groups}
    assert windows == {512: MAX_LAYERS - (MAX_LAYERS // 6 + 1), None: MAX_LAYERS // 6 + 1}
    nemotron = {**BASE, "model_type": "nemotron_h", "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                "mamba_num_heads": 4, "mamba_head_dim": 16, "ssm_state_size": 16, "n_groups": 2}
    spec = spec_from_hf_config({**nemotron, "hybrid_override_pattern": "M-M*" * (MAX_LAYERS // 4)}, "n")
    assert [g.count for g in spec.layer_groups] == [MAX_LAYERS // 2, MAX_LAYERS // 4, MAX_LAYERS // 4]
    with pytest.raises(ConfigError, match=r"'hybrid_override_pattern' gives 10,001 layers; at most 10,000"):
        spec_from_hf_config({**nemotron, "hybrid_override_pattern": "M" * (MAX_LAYERS + 1)}, "n")


@pytest.mark.parametrize("layers", [MAX_LAYERS + 1, 10**9, 2**40])
def test_a_layer_count_over_the_cap_is_refused_by_name(layers):
    with pytest.raises(ConfigError, match=rf"'num_hidden_layers' must be in 1..10,000, got {layers}$"):
        spec_from_hf_config(_config("llama", layers), "x")


@pytest.mark.parametrize(("field", "limit"), [("hidden_size", LIMITS["width"]), ("vocab_size", LIMITS["vocab"]),
                                              ("intermediate_size", LIMITS["ffn"]),
                                              ("num_attention_heads", LIMITS["heads"]),
                                              ("max_position_embeddings", LIMITS["positions"])])
def test_every_dimension_has_a_cap(field, limit):
    with pytest.raises(ConfigError, match=rf"'{field}' must be in 1..{limit:,}, got {limit + 1}$"):
        spec_from_hf_config({**_config("llama", 2), field: limit + 1}, "x")


def test_model_spec_caps_the_total_layer_count():
    layer = Layer(Attention(4, 4, 16), MLP(128, gated=True))
    half = LayerGroup(layer, MAX_LAYERS // 2)
    ModelSpec(name="m", model_type="llama", hidden_size=64, vocab_size=100, layer_groups=(half, half))
    with pytest.raises(ConfigError, match="10,001 layers; at most 10,000"):
        ModelSpec(name="m", model_type="llama", hidden_size=64, vocab_size=100,
                  layer_groups=(half, half, LayerGroup(layer, 1)))
    with pytest.raises(ConfigError, match=r"layer_group.count must be an integer in 1..10,000"):
        LayerGroup(layer, MAX_LAYERS + 1)


def test_the_cli_refuses_a_billion_layers_in_one_line(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(_config("llama", 10**9)))
    assert main(["analyze", str(path), H100]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'num_hidden_layers' must be in 1..10,000" in err


@pytest.mark.parametrize(("model_type", "field", "extra"), [
    ("qwen2_moe", "mlp_only_layers", {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32}),
    ("qwen3_moe", "mlp_only_layers", {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32}),
    ("llama4_text", "moe_layers", {"head_dim": 16, "num_key_value_heads": 2, "num_local_experts": 4}),
])
@pytest.mark.parametrize("index", [4, -1, 100])
def test_a_layer_index_outside_the_model_is_an_error(model_type, field, extra, index):
    # 4 layers: valid indices 0..3.
    cfg = {**BASE, **extra, "model_type": model_type, "num_hidden_layers": 4, field: [0, index]}
    with pytest.raises(ConfigError, match=rf"field '{field}': layer index {index} is outside the model's layers 0..3"):
        spec_from_hf_config(cfg, "x")
    spec = spec_from_hf_config({**cfg, field: [0, 3]}, "x")  # in range: parsed
    assert spec.num_layers == 4


@pytest.mark.parametrize("bundled", [False, True])  # the pure-Python parser (user files) and libyaml's
def test_duplicate_yaml_keys_are_errors_naming_file_key_and_lines(tmp_path, bundled):
    with pytest.raises(ConfigError, match=r"^x.yaml: duplicate key 'b' at line 4 \(first at line 2\)$"):
        load_yaml("a: 1\nb: 2\nc: {d: 1}\nb: 3\n", "x.yaml", bundled=bundled)
    with pytest.raises(ConfigError, match=r"duplicate key 'd' at line 3 \(first at line 2\)"):
        load_yaml("c:\n  d: 1\n  d: 2\n", "x.yaml", bundled=bundled)  # nested mappings too
    # A "<<" merge may be overridden (YAML's own rule): not a duplicate.
    merged = load_yaml("base: &b {x: 1, y: 2}\nitem:\n  <<: *b\n  x: 3\n", "x.yaml", bundled=bundled)
    assert merged["item"] == {"x": 3, "y": 2}


def test_duplicate_keys_in_the_model_catalog_and_in_a_hardware_file(tmp_path):
    text = "families: {llama: {config: {model_type: llama}}}\nmodels:\n  - {id: a/x, family: llama, source: s,"\
           " source: t, config: {}}\n"
    with pytest.raises(ConfigError, match=r"catalog.yaml: duplicate key 'source' at line 3"):
        catalog._parse(text)
    device = Path(tmp_path) / "dev.yaml"
    device.write_text("name: d\nmemory_bandwidth: 1 TB/s\nmemory_capacity: 8 GB\npeak: {fp16: 100 TFLOPS}\n"
                      "memory_bandwidth: 2 TB/s\nsource_url: https://example.org\n")
    with pytest.raises(ConfigError, match=rf"{device}: duplicate key 'memory_bandwidth' at line 5 \(first at line 2\)"):
        load_hardware(str(device))
