"""DeepSeek-V4: layer types, the parameter count by hand, the compressed cache, the window / compressed
attention split, the indexer and the hyper-connections; each value derived by hand from the published
config and HF's modeling code (transformers/models/deepseek_v4/modeling_deepseek_v4.py)."""

from __future__ import annotations

import math

import pytest

from llm_roofline import analyze
from llm_roofline.errors import ConfigError
from llm_roofline.models.hf_config import spec_from_hf_config

from conftest import op, shared_config

H100 = "h100-sxm"
# V4-Flash: D 4096, 43 layers, 64 heads x 512 (one K = V head), q_lora 1024, rope 64, 8 output groups of
# 1024, window 128; CSA m 4 with an indexer of 64 heads x 128 (top 512), HCA m 128; 256 experts of 2048,
# top 6, one shared; 4 streams; V 129280.
D, N, H, QL, R, G, OL, W, V = 4096, 64, 512, 1024, 64, 8, 1024, 128, 129280
HI, DI, TOPK, E, K, F, NS = 64, 128, 512, 256, 6, 2048, 4


def raw():
    return shared_config("deepseek-ai--DeepSeek-V4-Flash")


def v4():
    return spec_from_hf_config(raw(), "deepseek-ai/DeepSeek-V4-Flash")


def test_layer_types_from_compress_ratios():
    spec = v4()
    kinds = {g.layer.mixer.kind: g.count for g in spec.layer_groups}
    # compress_ratios [0, 0, 4, 128, 4, ..., 4, 0] has 44 entries; HF keeps the first 43: 2 window-only
    # layers, then 21 CSA (m 4) and 20 HCA (m 128) alternating.
    assert kinds == {"sliding": 2, "csa": 21, "hca": 20}
    assert spec.hc_mult == 4 and any("S/m" in note for note in spec.notes)


def test_parameters_by_hand():
    attention = D * QL + QL + QL * N * H + D * H + H + N + N * H * OL + G * OL * D
    csa = 2 * D * 2 * H + 4 * 2 * H + H + 2 * D * 2 * DI + 4 * 2 * DI + DI + QL * HI * DI + D * HI
    hca = 2 * D * H + 128 * H + H
    moe = D * E + E * 3 * D * F + 3 * D * F
    hyper = 2 * ((2 + NS) * NS * NS * D + (2 + NS) * NS + 3)
    layer = attention + moe + hyper + 2 * D
    ends = 2 * V * D + D + NS * NS * D + NS + 1
    total = 43 * layer + 21 * csa + 20 * hca + ends
    assert total == 284_332_230_231  # transformers 5.23, DeepseekV4ForCausalLM on the meta device
    assert analyze(v4(), H100, prompt_len=8).model["params_total"] == total


def test_compressed_cache():
    B, P, Gen = 2, 100_000, 1000
    r = analyze(v4(), H100, batch_size=B, prompt_len=P, gen_len=Gen)
    t = P + Gen
    # The window keeps W - 1 tokens (DeepseekV4HCACache / CSACache subclass DynamicSlidingWindowLayer).
    kv = 43 * (W - 1) * H + 21 * (t // 4) * (H + DI) + 20 * (t // 128) * H  # bf16 entries
    pending = 21 * (2 * 3 * 2 * H + 2 * H + 2 * 3 * 2 * DI + 2 * DI) + 20 * 2 * 127 * H  # buffers, bf16
    assert r.memory.kv_cache_bytes == B * (kv + pending) * 2


@pytest.mark.parametrize("S", [100, 1000, 4096, 100_000])
def test_decode_attention_split(S):
    B = 4
    r = analyze(v4(), H100, batch_size=B, prompt_len=S, kv_len=S, flash_attention=True)
    window = op(r.decode, "fused_attention")  # every layer: the last 128 tokens
    assert window.flops == B * N * min(S, W) * (4 * H + 5)
    assert window.kv_read_bytes == B * min(S, W) * H * 2  # K = V read once
    csa = op(r.decode, "csa_attention")  # the top 512 of the S/4 entries
    assert csa.flops == pytest.approx(B * N * min(S / 4, TOPK) * (4 * H + 5), rel=1e-12)
    hca = op(r.decode, "hca_attention")  # all S/128 entries
    assert hca.flops == pytest.approx(B * N * S / 128 * (4 * H + 5), rel=1e-12)
    scores = op(r.decode, "indexer.scores")  # every query against all S/4 compressed index keys
    assert scores.flops == pytest.approx(B * S / 4 * HI * (2 * DI + 4), rel=1e-12)
    assert scores.kv_read_bytes == pytest.approx(B * S / 4 * DI * 2, rel=1e-12)


def test_prefill_pieces():
    B, P = 1, 1024
    M = B * P
    r = analyze(v4(), H100, batch_size=B, prompt_len=P, flash_attention=True)
    assert op(r.prefill, "o_a_proj").flops == 2 * M * N * H * OL  # 8 groups of 4096 -> 1024
    assert op(r.prefill, "attn_hc.fn").flops == 2 * M * NS * D * (2 + NS) * NS
    assert op(r.prefill, "attn_hc.expand").flops == M * (2 * NS + 2 * NS * NS) * D
    assert op(r.prefill, "compressor.pool.csa").kv_write_bytes == M / 4 * H * 2  # CSA: one 512-wide entry per 4 tokens
    # A query at position p sees min(p/4, 512) CSA entries: sum over p of min(p, 2048) / 4.
    pairs = (2048 * 2049 / 2 if P >= 2048 else P * (P + 1) / 2) / 4
    assert op(r.prefill, "csa_attention").flops == pytest.approx(B * N * pairs * (4 * H + 5), rel=1e-12)
    assert math.isclose(op(r.prefill, "hca_attention").flops, B * N * P * (P + 1) / 2 / 128 * (4 * H + 5))


def test_layer_types_and_rates_fields():
    cfg = {**raw(), "num_hidden_layers": 4}
    del cfg["compress_ratios"]
    default = spec_from_hf_config(cfg, "v4")  # HF default: 2 HCA, then CSA / HCA alternating
    assert sorted((g.layer.mixer.kind, g.count) for g in default.layer_groups) == [("csa", 1), ("hca", 3)]
    custom = spec_from_hf_config({**cfg, "layer_types": ["sliding_attention"] * 2 + ["compressed_sparse_attention"] * 2,
                                  "compress_rates": {"compressed_sparse_attention": 8}}, "v4")
    assert {g.layer.mixer.compress_ratio for g in custom.layer_groups if g.layer.mixer.kind == "csa"} == {8}
    with pytest.raises(ConfigError, match="compress_ratios"):
        spec_from_hf_config({**cfg, "compress_ratios": [0, 0, 4, 64]}, "v4")
    with pytest.raises(ConfigError, match="layer_types"):
        spec_from_hf_config({**cfg, "layer_types": ["sliding_attention"] * 3 + ["full_attention"]}, "v4")
    with pytest.raises(ConfigError, match="intermediate_size"):
        spec_from_hf_config({**cfg, "intermediate_size": 4096}, "v4")
