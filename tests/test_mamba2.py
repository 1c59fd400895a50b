"""Mamba-2 and Nemotron-H: parsing of the block pattern, the SSD scan's FLOPs, the fixed state, the relu2
MLP blocks; each value derived by hand from the published config and HF's modeling code
(transformers/models/nemotron_h/modeling_nemotron_h.py, mamba2/modeling_mamba2.py)."""

from __future__ import annotations

import math

import pytest

from llm_roofline import analyze
from llm_roofline.errors import ConfigError
from llm_roofline.models.hf_config import spec_from_hf_config
from llm_roofline.models.spec import MLP, Attention, Mamba2, MoE

from conftest import op, shared_config

H100 = "h100-sxm"
# Nemotron-H-56B: D 8192, 118 blocks "M-M-M-M*-..." (54 Mamba-2, 10 attention, 54 MLP), Mamba-2 256 heads
# x 64 (d_inner 16384), state 256, 8 groups, conv 4, chunk 128; attention 64 / 8 heads x 128; MLP 32768.
D, H, P, N, G = 8192, 256, 64, 256, 8


def nemotron():
    return spec_from_hf_config(shared_config("nvidia--Nemotron-H-56B-Base-8K"), "nvidia/Nemotron-H-56B-Base-8K")


def test_nemotron_h_blocks():
    spec = nemotron()
    kinds = {(type(g.layer.mixer).__name__, type(g.layer.ffn).__name__): g for g in spec.layer_groups}
    assert kinds[("Mamba2", "NoneType")].count == 54
    assert kinds[("Attention", "NoneType")].count == 10
    assert kinds[("NoneType", "MLP")].count == 54
    assert kinds[("Mamba2", "NoneType")].layer.mixer == Mamba2(H, P, N, G, 4, chunk_size=128)
    assert kinds[("Attention", "NoneType")].layer.mixer == Attention(64, 8, 128)  # no rotary embedding
    assert kinds[("NoneType", "MLP")].layer.ffn == MLP(32768, gated=False, activation="relu2")
    assert all(g.layer.norm_names == ("norm",) for g in spec.layer_groups)


def test_nemotron_h_parameters_by_hand():
    spec = nemotron()
    d_inner, conv_dim = H * P, H * P + 2 * G * N
    mamba = D * (d_inner + conv_dim + H) + conv_dim * 4 + conv_dim + 3 * H + d_inner + d_inner * D + D
    attention = D * 64 * 128 + 2 * D * 8 * 128 + 64 * 128 * D + D
    mlp = 2 * D * 32768 + D
    ends = 2 * 131072 * D + D  # untied embeddings and lm_head, final norm_f
    assert analyze(spec, H100, prompt_len=8).model["params_total"] == 54 * mamba + 10 * attention + 54 * mlp + ends


def test_nemotron_h_state_and_cache():
    B, Pr, Gen = 4, 8000, 192
    r = analyze(nemotron(), H100, batch_size=B, prompt_len=Pr, gen_len=Gen)
    state = 54 * H * P * N * 4  # [256 heads, 64, 256] float32 per Mamba-2 layer
    conv = 54 * (H * P + 2 * G * N) * 4 * 2  # conv_dim x 4 taps, bf16
    kv = 10 * (Pr + Gen) * 2 * 8 * 128 * 2  # 10 attention layers
    assert r.memory.kv_cache_bytes == B * (state + conv + kv)


def test_ssd_scan_flops():
    B, T, Q = 2, 300, 128
    r = analyze(nemotron(), H100, batch_size=B, prompt_len=T)
    c = math.ceil(T / Q)  # 3 chunks of the padded sequence
    per_chunk = 2 * Q * Q * (N + P) + Q * Q + 4 * Q * N * P + Q * P + 2 * N * P
    assert op(r.prefill, "ssd_scan").flops == B * H * (c * per_chunk + T * (4 + 3 * P))
    scan = op(r.decode, "ssd_scan")
    assert scan.flops == B * H * (5 * N * P + N + 2 * P + 1 + 4)
    assert scan.kv_read_bytes == scan.kv_write_bytes == B * H * P * N * 4
    assert op(r.decode, "in_proj").flops == 2 * B * D * (2 * H * P + 2 * G * N + H)


def test_relu2_mlp_block():
    B, T = 1, 64
    r = analyze(nemotron(), H100, batch_size=B, prompt_len=T)
    assert op(r.prefill, "up_proj").flops == 2 * T * D * 32768
    assert op(r.prefill, "act_fn").flops == T * 32768 * 2  # relu2: max and square
    assert "gate_proj" not in {o.name for o in r.prefill.ops}


def test_pattern_is_the_layer_count_and_bad_patterns_fail():
    base = {"model_type": "nemotron_h", "hidden_size": 256, "vocab_size": 1000, "num_hidden_layers": 5,
            "hybrid_override_pattern": "M-*E"}
    spec = spec_from_hf_config(base, "n")
    assert spec.num_layers == 4 and "num_hidden_layers (5)" in spec.notes[0]
    moe = next(g.layer.ffn for g in spec.layer_groups if isinstance(g.layer.ffn, MoE))
    assert moe == MoE(8, 2, 7688, gated=False, activation="relu2", shared_intermediate_size=7688)
    with pytest.raises(ConfigError, match="hybrid_override_pattern"):
        spec_from_hf_config({**base, "hybrid_override_pattern": "M-X"}, "n")
    with pytest.raises(ConfigError, match="moe_latent_size"):
        spec_from_hf_config({**base, "moe_latent_size": 64}, "n")


def test_mamba2_model():
    cfg = {"model_type": "mamba2", "hidden_size": 2560, "num_hidden_layers": 64, "num_heads": 80, "head_dim": 64,
           "state_size": 128, "n_groups": 1, "vocab_size": 50288}
    spec = spec_from_hf_config(cfg, "mamba2-2.7b")
    assert spec.layer_groups[0].layer.mixer == Mamba2(80, 64, 128, 1, 4, chunk_size=256)
    r = analyze(spec, H100, batch_size=3, prompt_len=100)
    assert r.memory.kv_cache_bytes == 3 * 64 * (80 * 64 * 128 * 4 + (5120 + 2 * 128) * 4 * 2)
    with pytest.raises(ConfigError, match="num_heads"):
        spec_from_hf_config({**cfg, "num_heads": 64}, "bad")
