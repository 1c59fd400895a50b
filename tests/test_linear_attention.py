"""Gated delta-net linear attention and the Qwen3-Next / Qwen3.5 hybrids: parsing, the recurrence's
FLOPs, the fixed state instead of a KV cache, and the gated full attention; each value derived by hand
from the published sizes and HF's modeling code (transformers/models/qwen3_next/modeling_qwen3_next.py)."""

from __future__ import annotations

import math

import pytest

from llm_roofline import analyze
from llm_roofline.errors import ConfigError
from llm_roofline.models.hf_config import spec_from_hf_config
from llm_roofline.models.spec import MLP, Attention, GatedDeltaNet, MoE

from conftest import op
from conftest import shared_config as config

H100 = "h100-sxm"
QWEN3_NEXT = dict(model_type="qwen3_next", hidden_size=2048, num_hidden_layers=48, num_attention_heads=16,
                  num_key_value_heads=2, head_dim=256, vocab_size=151936, intermediate_size=5120, num_experts=512,
                  num_experts_per_tok=10, moe_intermediate_size=512, shared_expert_intermediate_size=512,
                  linear_num_key_heads=16, linear_num_value_heads=32, linear_key_head_dim=128,
                  linear_value_head_dim=128, max_position_embeddings=262144)


def qwen35_27b():
    return spec_from_hf_config(config("Qwen--Qwen3.5-27B"), "Qwen/Qwen3.5-27B")


def test_qwen35_27b_layers():
    spec = qwen35_27b()
    # 64 layers: full attention every 4th (layer_types), 24 heads / 4 KV heads x 256 with the output gate,
    # q/k norms and rotary on 25 % of each head; gated delta-net 16 key heads, 48 value heads of 128.
    by_mixer = {type(g.layer.mixer).__name__: g for g in spec.layer_groups}
    assert by_mixer["GatedDeltaNet"].count == 48 and by_mixer["Attention"].count == 16
    assert by_mixer["GatedDeltaNet"].layer.mixer == GatedDeltaNet(16, 48, 128, 128, 4, fused_projections=False)
    assert by_mixer["Attention"].layer.mixer == Attention(24, 4, 256, rope_dim=64, qk_norm=True, output_gate=True)
    assert by_mixer["Attention"].layer.ffn == MLP(17408, gated=True)
    assert spec.model_type == "qwen3_5" and "text_config" in spec.notes[0]


def test_qwen35_moe_layers():
    spec = spec_from_hf_config(config("Qwen--Qwen3.5-397B-A17B"), "Qwen/Qwen3.5-397B-A17B")
    assert {g.layer.ffn for g in spec.layer_groups} == {
        MoE(512, 10, 1024, shared_intermediate_size=1024, shared_expert_gate=True)}
    assert sum(g.count for g in spec.layer_groups) == 60


def test_the_state_replaces_the_kv_cache():
    B, P, G = 2, 10_000, 500
    r = analyze(qwen35_27b(), H100, batch_size=B, prompt_len=P, gen_len=G)
    attention = 16 * (P + G) * 2 * 4 * 256 * 2  # 16 full-attention layers: K and V, 4 heads x 256, bf16
    state = 48 * 48 * 128 * 128 * 4  # 48 linear layers: [48 value heads, 128, 128] in float32
    conv = 48 * (2 * 16 * 128 + 48 * 128) * 4 * 2  # conv state: q, k, v channels x 4 taps, bf16
    assert r.memory.kv_cache_bytes == B * (attention + state + conv)
    r16 = analyze(qwen35_27b(), H100, batch_size=B, prompt_len=P, gen_len=G, state_bits=16)
    assert r.memory.kv_cache_bytes - r16.memory.kv_cache_bytes == B * 48 * 48 * 128 * 128 * 2


def test_decode_recurrence():
    B = 8
    r = analyze(qwen35_27b(), H100, batch_size=B, prompt_len=4096)
    rule = op(r.decode, "gated_delta_rule")
    # per value head: 7*dk*dv + 2*dv for the recurrence, 10 for the gates, 3 per element for l2-normalising q and k.
    assert rule.flops == B * 48 * (7 * 128 * 128 + 2 * 128 + 10 + 3 * 2 * 128)
    assert rule.kv_read_bytes == rule.kv_write_bytes == B * 48 * 128 * 128 * 4
    conv = op(r.decode, "conv1d")
    channels = 2 * 16 * 128 + 48 * 128
    assert conv.flops == B * channels * (2 * 4 + 4)  # 4 taps, SiLU
    assert conv.kv_read_bytes == conv.kv_write_bytes == B * channels * 4 * 2
    # The linear layers' cost does not depend on the KV length.
    far = analyze(qwen35_27b(), H100, batch_size=B, prompt_len=200_000)
    for name in ("gated_delta_rule", "conv1d", "in_proj_qkv", "linear_attn.norm"):
        assert op(far.decode, name).time_s == op(r.decode, name).time_s


@pytest.mark.parametrize("P", [1, 64, 100, 1000])
def test_prefill_chunked_recurrence(P):
    B, Hv, dk, dv, C = 3, 48, 128, 128, 64
    r = analyze(qwen35_27b(), H100, batch_size=B, prompt_len=P)
    chunks = math.ceil(P / C)  # the prompt is padded to whole chunks of 64
    per_chunk = C * C * (5 * dk + 3 * dv) + 6 * C * dk * dv + 2 * dk * dv
    per_token = 10 + 3 * 2 * dk
    assert op(r.prefill, "gated_delta_rule").flops == B * Hv * (chunks * per_chunk + P * per_token)
    assert op(r.prefill, "gated_delta_rule").kv_write_bytes == B * Hv * dk * dv * 4  # the final state


def test_projections_and_the_output_gate():
    B, P = 2, 128
    M = B * P
    r = analyze(qwen35_27b(), H100, batch_size=B, prompt_len=P)
    assert op(r.prefill, "in_proj_qkv").flops == 2 * M * 5120 * (2 * 16 * 128 + 48 * 128)
    assert op(r.prefill, "in_proj_z").flops == 2 * M * 5120 * 48 * 128
    assert op(r.prefill, "in_proj_b").flops == op(r.prefill, "in_proj_a").flops == 2 * M * 5120 * 48
    assert op(r.prefill, "q_proj").flops == 2 * M * 5120 * 2 * 24 * 256  # queries and the gate
    assert op(r.prefill, "attn_output_gate").flops == M * 24 * 256 * 5  # sigmoid + multiply


def test_qwen3_next_fused_projections_and_parameters():
    spec = spec_from_hf_config(QWEN3_NEXT, "qwen3-next")
    r = analyze(spec, H100, prompt_len=16)
    names = {o.name for o in r.prefill.ops}
    assert {"in_proj_qkvz", "in_proj_ba"} <= names and "in_proj_qkv" not in names
    D, kd, vd, Hv = 2048, 16 * 128, 32 * 128, 32
    linear = (D * (2 * kd + 2 * vd) + D * 2 * Hv + (2 * kd + vd) * 4 + 2 * Hv + 128 + vd * D)
    attn = D * 2 * 16 * 256 + 2 * D * 2 * 256 + 16 * 256 * D + 2 * 256
    moe = D * 512 + 512 * 3 * D * 512 + 3 * D * 512 + D  # router, experts, shared expert, shared gate
    per_layer_norms = 2 * D
    total = 151936 * D * 2 + D + 36 * (linear + moe + per_layer_norms) + 12 * (attn + moe + per_layer_norms)
    assert r.model["params_total"] == total


def test_qwen3_next_mlp_only_layers_and_bad_layer_types():
    spec = spec_from_hf_config({**QWEN3_NEXT, "mlp_only_layers": [0, 47]}, "q")
    assert sum(g.count for g in spec.layer_groups if isinstance(g.layer.ffn, MLP)) == 2
    with pytest.raises(ConfigError, match="mlp_only_layers"):
        spec_from_hf_config({**QWEN3_NEXT, "mlp_only_layers": [48]}, "q")
    with pytest.raises(ConfigError, match="layer_types"):
        spec_from_hf_config({**QWEN3_NEXT, "num_hidden_layers": 2, "layer_types": ["linear_attention", "mamba"]}, "q")
    with pytest.raises(ConfigError, match="multiple of key heads"):
        spec_from_hf_config({**QWEN3_NEXT, "linear_num_value_heads": 24, "linear_num_key_heads": 16}, "q")
