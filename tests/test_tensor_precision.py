"""Per-tensor precision (techniques/precision_map.py, tensors.py, models/hf_quantization.py): the
embeddings, lm_head and module groups in formats of their own, and a config.json's
quantization_config read by default."""

from __future__ import annotations

import pytest

from llm_roofline import analyze
from llm_roofline.errors import ScenarioError
from llm_roofline.hardware.spec import Hardware
from llm_roofline.models.hf_config import spec_from_hf_config
from llm_roofline.models.hf_quantization import keep_group

from conftest import llama, op, shared_config, small_moe

D, V = 4096, 32000
H100ISH = Hardware(name="h100ish", memory_bandwidth_bytes_per_s=3.35e12, memory_capacity_bytes=80e9,
                   peak_flops_per_s={"fp16": 989e12, "fp8": 1979e12, "int8": 1979e12})


def test_embedding_and_lm_head_keep_16_bits_under_int4_weights():
    # W4 with a 16-bit scale per 128: 4.125 bits per weight, except the embedding table and lm_head at
    # 16 bits: V*D*2 bytes each.
    r = analyze(llama(), H100ISH, w_bits=4, embed_bits=16, lm_head_bits=16, gen_len=0)
    plain = analyze(llama(), H100ISH, w_bits=4, gen_len=0)
    assert op(r.decode, "lm_head").weight_bytes == V * D * 2
    assert op(plain.decode, "lm_head").weight_bytes == V * D * 4.125 / 8
    assert op(r.decode, "q_proj").weight_bytes == op(plain.decode, "q_proj").weight_bytes == D * D * 4.125 / 8
    assert r.memory.weights_bytes - plain.memory.weights_bytes == pytest.approx(2 * V * D * (2 - 4.125 / 8))
    assert [p["modules"] for p in r.optimizations["precision"]] == ["embed", "lm_head"]


def test_module_bits_pick_the_peak_of_their_format():
    # Attention projections in FP8 with FP8 activations run at the FP8 peak; the MLP stays at 16 bits.
    r = analyze(llama(), H100ISH, w_bits=16, a_bits="fp8", module_bits={"attention": "fp8"}, prompt_len=4096,
                gen_len=0)
    assert op(r.prefill, "q_proj").peak_flops_per_s == 1979e12
    assert op(r.prefill, "q_proj").weight_bytes == D * D * 8.125 / 8  # fp8 + a 16-bit scale per 128
    assert op(r.prefill, "gate_proj").peak_flops_per_s == 989e12  # 16-bit weights: the wider operand
    text = analyze(llama(), H100ISH, module_bits="attention=fp8,mlp=8", gen_len=0)
    assert [(p["modules"], p["bits"]) for p in text.optimizations["precision"]] == [("attention", 8.0), ("mlp", 8.0)]
    with pytest.raises(ScenarioError, match="MODULE=BITS"):
        analyze(llama(), H100ISH, module_bits="attention")


def test_experts_in_fp4_rest_in_fp8():
    # tiny MoE: D = 128, 8 heads of 16, 8 experts of width 96; no group scales (group_size 0)
    r = analyze(small_moe(), H100ISH, w_bits="fp8", module_bits={"experts": "fp4"}, gen_len=0, group_size=0)
    plain = analyze(small_moe(), H100ISH, w_bits="fp8", gen_len=0, group_size=0)
    assert op(r.decode, "q_proj").weight_bytes == 128 * 128 * 1
    assert op(r.decode, "experts.up_proj").weight_bytes == op(plain.decode, "experts.up_proj").weight_bytes / 2
    assert op(r.decode, "router").weight_bytes == 128 * 8 * 1
    assert r.optimizations["precision"] == [{"modules": "experts", "bits": 4.0, "family": "float",
                                          "source": "module_bits"}]


def test_tied_embeddings_are_one_matrix():
    tied = llama()
    from dataclasses import replace

    tied = replace(tied, tie_word_embeddings=True)
    r = analyze(tied, H100ISH, w_bits=4, lm_head_bits=16, gen_len=0)
    assert op(r.decode, "embed_tokens").weight_bytes == D * 2  # one row, at 16 bits like lm_head
    assert r.memory.weights_bytes == pytest.approx(analyze(tied, H100ISH, w_bits=4, gen_len=0).memory.weights_bytes
                                                   + V * D * (2 - 4.125 / 8))
    with pytest.raises(ScenarioError, match="ties lm_head to the embedding"):
        analyze(tied, H100ISH, embed_bits=8, lm_head_bits=16)


@pytest.mark.parametrize("entry,group", [("lm_head", "lm_head"), ("model.layers.*.self_attn", "attention"),
                                         ("model.layers.3.mlp.gate", "router"), ("gate", "router"),
                                         ("re:.*shared_experts.*", "shared_experts"), ("model.embed_tokens", "embed"),
                                         (r"re:.*mlp\.(gate|up|gate_up|down)_proj.*", "mlp"),
                                         ("model.layers.0.input_layernorm", None), ("e_score_correction_bias", None),
                                         ("model.layers.*.mlp.router", "router"), ("something.else", "")])
def test_modules_not_converted_map_to_groups(entry, group):
    assert keep_group(entry) == group


def test_gpt_oss_config_quantization_is_read_by_default():
    # gpt-oss-20b ships its experts in MXFP4 and keeps attention, routers, embeddings and lm_head in BF16.
    spec = spec_from_hf_config(shared_config("openai--gpt-oss-20b"), name="gpt-oss-20b")
    r = analyze(spec, H100ISH, gen_len=0)
    assert r.scenario["w_bits"] == 4.0 and r.optimizations["config_quantization"].startswith("MXFP4")
    kept = {p["modules"] for p in r.optimizations["precision"] if p["bits"] == 16}
    assert kept == {"embed", "lm_head", "attention", "router"}
    assert op(r.decode, "q_proj").weight_bytes == (2880 + 1) * 64 * 64 * 2  # D x N*H and its bias, BF16
    override = analyze(spec, H100ISH, gen_len=0, w_bits=16)
    assert override.optimizations["precision"] == [] and override.memory.weights_bytes > 2.5 * r.memory.weights_bytes
    ignored = analyze(spec, H100ISH, gen_len=0, config_quantization=False)
    assert ignored.memory.weights_bytes == override.memory.weights_bytes


def test_fp8_block_configs_keep_their_routers():
    spec = spec_from_hf_config(shared_config("Qwen--Qwen3-235B-A22B-FP8"), name="qwen3-fp8")
    assert spec.quantization.format == "fp8-block" and set(spec.quantization.keep) == {"lm_head", "router"}
    r = analyze(spec, H100ISH, gen_len=0)
    assert r.scenario["w_bits"] == 8.0 and r.scenario["w_family"] == "float"
    assert op(r.decode, "gate").weight_bytes == 4096 * 128 * 2  # the router in BF16


def test_named_and_own_storage_of_config_formats():
    # gpt-oss: the experts in MXFP4 (4 + 8/32 = 4.25 bits per weight, quant_formats.py); Kimi-K2.5:
    # compressed-tensors int4 with one 16-bit scale per 32 weights = 4.5 bits for the routed experts.
    oss = spec_from_hf_config(shared_config("openai--gpt-oss-20b"), name="gpt-oss-20b")
    r = analyze(oss, H100ISH, gen_len=0)
    experts = 32 * 2880 * 2 * 2880  # per layer: E x D x 2F (gate and up), without biases
    assert r.scenario["w_format"] == "mxfp4"
    bias = 32 * 2 * 2880 * 2  # their biases in BF16
    per_layer = next(o for o in r.prefill.ops if o.name == "experts.gate_up_proj")
    assert per_layer.weight_bytes == pytest.approx(experts * 4.25 / 8 + bias)  # all 32 experts read in prefill
    kimi = spec_from_hf_config(shared_config("moonshotai--Kimi-K2.5"), name="kimi")
    k = analyze(kimi, H100ISH, gen_len=0)
    assert k.optimizations["precision"][0] == {"modules": "layers", "bits": 4.0, "family": "int",
                                            "source": "config.json quantization_config: int4 weights, one 16-bit "
                                                      "scale per 32"}
    down = next(o for o in k.prefill.ops if o.name == "experts.down_proj")
    assert down.weight_bytes == pytest.approx(384 * 2048 * 7168 * 4.5 / 8)


def test_structured_pruning_across_devices_prunes_the_whole_model():
    r = analyze(llama(), "dgx-h100", tp=2, prune_layers=0.25, gen_len=0)
    assert r.model["params_total"] == 2 * 32000 * 4096 + 24 * (4 * 4096**2 + 3 * 4096 * 11008 + 2 * 4096) + 4096
    assert r.optimizations["params_before_pruning"] == 6_738_415_616
