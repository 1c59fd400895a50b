"""Gemma 4: layer types, global vs sliding attention shapes, K = V, the MLP + MoE block, KV sharing and
per-layer embeddings; each value derived by hand from the published config and HF's modeling code
(transformers/models/gemma4/modeling_gemma4.py)."""

from __future__ import annotations

import pytest

from llm_roofline import analyze
from llm_roofline.errors import ConfigError
from llm_roofline.models.hf_config import spec_from_hf_config
from llm_roofline.models.spec import MLP, Attention, MLPAndMoE, MoE

from conftest import op, shared_config

H100 = "h100-sxm"
D = 2816  # gemma-4-26B-A4B


def gemma4():
    return spec_from_hf_config(shared_config("google--gemma-4-26B-A4B"), "google/gemma-4-26B-A4B")


SLIDING = Attention(16, 8, 256, rope_dim=256, sliding_window=1024, qk_norm=True, v_norm=True)
GLOBAL = Attention(16, 2, 512, rope_dim=128, qk_norm=True, v_norm=True, k_eq_v=True)
BLOCK = MLPAndMoE(MLP(2112, gated=True, activation="gelu_tanh"),
                  MoE(128, 8, 704, activation="gelu_tanh", expert_scale=True))


def test_layers_of_the_26b():
    spec = gemma4()
    # 30 layers, every 6th global: 25 sliding (window 1024, 8 KV heads x 256, full rotary) and 5 global
    # (2 KV heads x 512 with K = V, rotary on 25 %); each with an MLP of 2112 and 128 experts of 704, top 8.
    groups = {g.layer.mixer: g for g in spec.layer_groups}
    assert groups[SLIDING].count == 25 and groups[GLOBAL].count == 5
    assert {g.layer.ffn for g in spec.layer_groups} == {BLOCK}
    assert spec.tie_word_embeddings and spec.per_layer_input_size == 0 and spec.model_type == "gemma4"


def test_parameters_by_hand():
    spec = gemma4()
    mlp = 3 * D * 2112
    moe = D * 128 + D + 128 + 128 * 3 * D * 704  # router.proj, router.scale, per_expert_scale, experts
    norms = 7 * D  # four layer norms and the MoE block's three
    sliding = D * 4096 + 2 * D * 8 * 256 + 4096 * D + 2 * 256
    glob = D * 8192 + D * 2 * 512 + 8192 * D + 2 * 512  # no v_proj
    total = 262144 * D + D + 25 * (sliding + mlp + moe + norms) + 5 * (glob + mlp + moe + norms)
    assert analyze(spec, H100, prompt_len=8).model["params_total"] == total


def test_cache_sliding_and_global():
    B, P, G = 2, 5000, 100
    r = analyze(gemma4(), H100, batch_size=B, prompt_len=P, gen_len=G)
    # A sliding layer (window W = 1024) keeps W - 1 tokens, as transformers' DynamicSlidingWindowLayer does.
    sliding = 25 * min(P + G, 1024 - 1) * 2 * 8 * 256 * 2
    glob = 5 * (P + G) * 2 * 2 * 512 * 2  # K and V cached apart (v_norm makes V differ from K)
    assert r.memory.kv_cache_bytes == B * (sliding + glob)


def test_operators_of_the_two_attention_kinds():
    B, P = 1, 64
    M = B * P
    r = analyze(gemma4(), H100, batch_size=B, prompt_len=P)
    names = {o.name for o in r.prefill.ops}
    assert {"q_proj", "q_proj.sliding", "k_proj", "k_proj.sliding", "v_proj.sliding"} <= names
    assert "v_proj" not in names  # global layers: V is k_proj's output
    assert op(r.prefill, "q_proj").flops == 2 * M * D * 16 * 512
    assert op(r.prefill, "q_proj.sliding").flops == 2 * M * D * 16 * 256
    assert op(r.prefill, "v_norm").kv_write_bytes == M * 2 * 512 * 2  # V of the global layer goes to the cache
    assert op(r.prefill, "rope").flops == 3 * M * (16 + 2) * 128
    assert op(r.prefill, "rope.sliding").flops == 3 * M * (16 + 8) * 256


def test_mlp_and_moe_block():
    B, P = 2, 32
    M = B * P
    r = analyze(gemma4(), H100, batch_size=B, prompt_len=P)
    assert op(r.prefill, "gate_proj").flops == 2 * M * D * 2112
    assert op(r.prefill, "experts.gate_proj").flops == 2 * M * 8 * D * 704
    assert op(r.prefill, "router.proj").flops == 2 * M * D * 128
    assert op(r.prefill, "mlp_moe_add").flops == M * D
    for name in ("post_feedforward_layernorm_1", "pre_feedforward_layernorm_2", "post_feedforward_layernorm_2",
                 "router.norm"):
        assert op(r.prefill, name).count == 30


TEXT = dict(model_type="gemma4_text", hidden_size=256, num_hidden_layers=12, vocab_size=1000,
            vocab_size_per_layer_input=500, num_attention_heads=8, num_key_value_heads=4, head_dim=32,
            global_head_dim=64, intermediate_size=512)


def test_kv_sharing_and_double_wide_mlp():
    spec = spec_from_hf_config({**TEXT, "num_kv_shared_layers": 4, "use_double_wide_mlp": True}, "g")
    shared = [g for g in spec.layer_groups if g.layer.mixer.kv_shared]
    assert sum(g.count for g in shared) == 4
    assert {g.layer.ffn.intermediate_size for g in shared} == {1024}
    B, P = 1, 2000
    r = analyze(spec, H100, batch_size=B, prompt_len=P, gen_len=0)
    # Default types: layers 5 and 11 global, the rest sliding (window 512, so W - 1 = 511 tokens cached, as in
    # transformers' DynamicSlidingWindowLayer); layers 8..11 share: they cache nothing.
    sliding, glob = 7, 1  # caching layers: 0-4, 6, 7 slide; 5 is global
    assert r.memory.kv_cache_bytes == B * (sliding * 511 * 2 * 4 * 32 + glob * P * 2 * 4 * 64) * 2
    assert sum(o.count for o in r.prefill.ops if o.name.startswith("k_proj")) == 8


def test_per_layer_embeddings():
    spec = spec_from_hf_config(TEXT, "g")  # hidden_size_per_layer_input defaults to 256 (HF)
    assert spec.per_layer_input_size == 256 and spec.per_layer_vocab_size == 500
    B, P, L, p = 1, 16, 12, 256
    M = B * P
    r = analyze(spec, H100, batch_size=B, prompt_len=P)
    assert op(r.prefill, "embed_tokens_per_layer").flops == 0
    assert op(r.prefill, "per_layer_model_projection").flops == 2 * M * 256 * L * p
    assert op(r.prefill, "per_layer_input_gate").flops == 2 * M * 256 * p
    assert op(r.prefill, "per_layer_input_gate").count == L
    extra = 500 * L * p + 256 * L * p + p + L * (256 * p + p * 256 + 256)  # tables, projections, norms
    off = analyze(spec_from_hf_config({**TEXT, "hidden_size_per_layer_input": 0}, "g"), H100, prompt_len=8)
    assert r.model["params_total"] - off.model["params_total"] == extra


def test_bad_gemma4_fields():
    with pytest.raises(ConfigError, match="layer_types"):
        spec_from_hf_config({**TEXT, "num_hidden_layers": 2, "layer_types": ["sliding_attention", "chunked"]}, "g")
    with pytest.raises(ConfigError, match="num_kv_shared_layers"):
        spec_from_hf_config({**TEXT, "num_kv_shared_layers": 12}, "g")
    with pytest.raises(ConfigError, match="per_layer_config"):
        spec_from_hf_config({**TEXT, "per_layer_config": {"40": {"head_dim": 64}}}, "g")
