"""Architecture variants against values derived by hand from each model's published facts:
MoE routing, GQA, sliding windows, MLA latent cache, Mamba state, quantized KV, fused decode."""

from __future__ import annotations

import json

import pytest

from llm_roofline import analyze, load_model
from llm_roofline.models.hf_config import spec_from_hf_config

from conftest import SHARED_CONFIGS


def op(stage, name):
    return next(o for o in stage.ops if o.name == name)


H100 = "h100-sxm"


def test_mixtral_total_and_active_parameters():
    # Mixtral-8x7B: D 4096, L 32, 32 query / 8 KV heads of 128, 8 experts of F 14336, top-2, V 32000.
    D, L, N, K, H, E, k, F, V = 4096, 32, 32, 8, 128, 8, 2, 14336, 32000
    attention = D * N * H + 2 * D * K * H + N * H * D
    per_layer_shared = attention + D * E + 2 * D  # router and two RMSNorms
    expert = 3 * D * F
    total = 2 * V * D + L * (per_layer_shared + E * expert) + D
    active = 2 * V * D + L * (per_layer_shared + k * expert) + D
    r = analyze("mistralai/Mixtral-8x7B-v0.1", H100)
    assert r.model["params_total"] == total  # 46.7 B
    assert r.model["params_active"] == active  # 12.9 B


@pytest.mark.parametrize("batch", [1, 4, 64])
def test_moe_decode_reads_the_expected_distinct_experts(batch):
    D, E, k, F = 4096, 8, 2, 14336
    r = analyze("mistralai/Mixtral-8x7B-v0.1", H100, batch_size=batch, prompt_len=512)
    up = op(r.decode, "experts.w3")
    distinct = E * (1 - (1 - k / E) ** batch)  # batch = 1 gives exactly k experts
    assert up.weight_bytes == pytest.approx(distinct * D * F * 2)
    assert up.flops == 2 * batch * k * D * F
    if batch == 1:
        assert up.weight_bytes == k * D * F * 2


def test_gqa_decode_reads_kv_of_the_kv_heads_only():
    # Llama-3.1-8B: 32 layers, 8 KV heads of 128.
    B, S = 4, 1000
    r = analyze("meta-llama/Llama-3.1-8B", H100, batch_size=B, prompt_len=S)
    assert op(r.decode, "qk_matmul").kv_read_bytes == B * S * 8 * 128 * 2
    assert r.decode.total.kv_cache_bytes == 32 * (2 * B * S * 8 * 128 * 2 + 2 * B * 8 * 128 * 2)


def test_flash_attention_in_decode():
    B, S, N, H = 2, 700, 32, 128
    r = analyze("meta-llama/Llama-2-7b-hf", H100, batch_size=B, prompt_len=S, flash_attention=True)
    fa = op(r.decode, "fused_attention")
    assert fa.flops == B * N * S * (4 * H + 5)
    assert fa.kv_read_bytes == 2 * B * S * N * H * 2


def test_sliding_window_caps_the_kv_cache_and_the_keys():
    # Mistral-7B: 32 layers, 8 KV heads of 128, sliding window W = 4096. transformers' sliding cache
    # keeps the last W - 1 = 4095 tokens after P + G = 7000 (DynamicSlidingWindowLayer: [-W+1:]);
    # a decode step reads those 4095 plus the current token: W = 4096 keys.
    B, P, G = 2, 6000, 1000
    r = analyze("mistralai/Mistral-7B-v0.1", H100, batch_size=B, prompt_len=P, gen_len=G)
    assert r.memory.kv_cache_bytes == B * 4095 * 32 * 2 * 8 * 128 * 2
    assert op(r.decode, "qk_matmul.sliding").kv_read_bytes == B * 4096 * 8 * 128 * 2


def test_gemma2_caches_window_tokens_in_sliding_layers_only():
    # Gemma-2-9B: 42 layers alternating sliding (W 4096) and global; 8 KV heads of 256. After the
    # prompt a sliding layer holds its last W - 1 = 4095 tokens (transformers), a global one all T.
    B, T = 1, 8192
    r = analyze("google/gemma-2-9b", H100, batch_size=B, prompt_len=T, gen_len=0)  # the prompt's cache alone
    per_token = 2 * 8 * 256 * 2
    assert r.memory.kv_cache_bytes == B * (21 * 4095 + 21 * T) * per_token


def test_mla_caches_the_latent():
    # DeepSeek-V3: 61 layers, latent 512 + rotary key 64 per token.
    B, P, G = 3, 1000, 24
    r = analyze("deepseek-ai/DeepSeek-V3", H100, batch_size=B, prompt_len=P, gen_len=G, w_bits=8)
    assert r.memory.kv_cache_bytes == B * (P + G) * 61 * (512 + 64) * 2
    qk = op(r.decode, "qk_matmul")
    assert qk.kv_read_bytes == B * P * (512 + 64) * 2  # one shared latent head
    assert qk.flops == 2 * B * 128 * P * (512 + 64)  # 128 query heads in latent space
    assert op(r.decode, "q_absorb").flops == 2 * B * 128 * 128 * 512  # q_nope (128 x 128) -> latent 512


def test_mamba_state_does_not_grow_with_length():
    # mamba-2.8b: 64 layers, d_inner 5120, conv 4, state 16.
    per_sequence = 64 * 5120 * (4 + 16) * 2
    for P in (100, 10_000):
        r = analyze("state-spaces/mamba-2.8b-hf", H100, batch_size=2, prompt_len=P, gen_len=50)
        assert r.memory.kv_cache_bytes == 2 * per_sequence


def test_quantized_kv_cache_counts_group_scales():
    B, P = 1, 2048
    r = analyze("meta-llama/Llama-2-7b-hf", H100, batch_size=B, prompt_len=P, gen_len=0, kv_bits=4, group_size=64)
    assert r.memory.kv_cache_bytes == pytest.approx(B * P * 32 * 2 * 4096 * (0.5 + 2 / 64))


def test_tied_embeddings_count_once():
    # Llama-3.2-1B ties lm_head to the embeddings: 1,235,814,400 parameters (HF's count).
    spec = load_model("meta-llama/Llama-3.2-1B")
    D, L, N, K, H, F, V = 2048, 16, 32, 8, 64, 8192, 128256
    expected = V * D + L * (D * N * H + 2 * D * K * H + N * H * D + 3 * D * F + 2 * D) + D
    r = analyze(spec, H100)
    assert r.model["params_total"] == expected == 1_235_814_400
    assert r.memory.weights_bytes == expected * 2
    head = op(r.decode, "lm_head")
    assert head.weight_bytes == V * D * 2  # still read every step


def test_opt_350m_embedding_projections_and_post_norm():
    # V 50272, E 512, D 1024, 24 layers, F 4096, 2050 learned positions, biases everywhere,
    # post-LN (no final norm), lm_head tied to the 512-wide embeddings.
    V, E, D, L, F = 50272, 512, 1024, 24, 4096
    layer = 4 * (D * D + D) + (D * F + F) + (F * D + D) + 2 * 2 * D
    expected = V * E + E * D + D * E + 2050 * D + L * layer
    r = analyze("facebook/opt-350m", H100, batch_size=2, prompt_len=64)
    assert r.model["params_total"] == expected == 331_196_416  # HF's count of facebook/opt-350m
    assert op(r.prefill, "project_in").flops == 2 * 2 * 64 * E * D
    assert op(r.prefill, "project_out").flops == 2 * 2 * D * E  # last token only
    assert op(r.prefill, "lm_head").flops == 2 * 2 * E * V


def test_phi_qk_layernorm_has_weight_and_bias():
    path = SHARED_CONFIGS / "microsoft--phi-2.json"
    if not path.exists():
        pytest.skip("shared/hf-configs is absent")
    cfg = json.loads(path.read_text())
    plain = analyze(spec_from_hf_config(cfg, "phi-2"), H100).model["params_total"]
    normed = analyze(spec_from_hf_config({**cfg, "qk_layernorm": True}, "phi-2-qk"), H100).model["params_total"]
    # q_layernorm and k_layernorm: LayerNorms over head_dim 80 with weight and bias, in 32 layers.
    assert normed - plain == 32 * 2 * (80 + 80)


def test_which_peak_applies_per_format():
    """Datasheet figures: A100 312 TFLOPS fp16/bf16, 156 tf32, 624 int8 and no fp8 path; Gaudi 3 459 fp16 but
    1,835 bf16 (Intel Hot Chips 2024)."""
    def q_proj_peak(device, **bits):
        return op(analyze("meta-llama/Llama-2-7b-hf", device, prompt_len=16, **bits).prefill, "q_proj").peak_flops_per_s

    assert q_proj_peak("a100-80g-sxm", w_bits="int8", a_bits="int8") == 624e12
    assert q_proj_peak("a100-80g-sxm", w_bits="fp8", a_bits="fp8") == 312e12  # fp8 work is not int8 work
    assert q_proj_peak("a100-80g-sxm", w_bits="tf32", a_bits="tf32") == 156e12
    assert q_proj_peak("a100-80g-sxm", w_bits=32, a_bits=32) == 19.5e12
    assert q_proj_peak("gaudi3") == 1835e12  # a plain 16 runs on the faster 16-bit float path
    assert q_proj_peak("gaudi3", w_bits="fp16", a_bits="fp16") == 459e12
    assert q_proj_peak("gaudi3", w_bits="bf16", a_bits="bf16") == 1835e12
