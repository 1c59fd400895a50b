"""The families added for issue 7, parsed from HF-style configs: their structure and parameter
counts derived by hand from the model cards (transformers' exact counts: test_torch_crosscheck)."""

from __future__ import annotations

import pytest

from llm_roofline import analyze, analyze_many, load_model
from llm_roofline.models.spec import MLP, Attention, MoE

H100 = "h100-sxm"


def params(name: str) -> tuple[float, float]:
    r = analyze(name, H100, prompt_len=4)
    return r.model["params_total"], r.model["params_active"]


def op_params(name: str, op: str) -> float:
    table = analyze_many(name, H100, prompt_len=4).prefill.table
    return float(table.params[table.names.index(op)])


def groups(name: str) -> list[tuple[object, int]]:
    return [(g.layer, g.count) for g in load_model(name).layer_groups]


def test_olmoe_by_hand():
    # OLMoE-1B-7B (arXiv:2409.02060): D 2048, 16 layers, 16 heads of 128, 64 experts of 1024, top 8,
    # V 50304 untied; q_norm over D, k_norm over K*H. "6.9B total, 1.3B active".
    D, L, E, F, V = 2048, 16, 64, 1024, 50304
    (layer, count), = groups("olmoe")
    assert count == L and layer.mixer.qk_norm_scope == "projection"
    assert layer.ffn == MoE(E, 8, F, fused_gate_up=True)
    attn = 4 * D * D + D + D
    total = L * (attn + E * D + E * 3 * D * F + 2 * D) + 2 * V * D + D
    active = L * (attn + E * D + 8 * 3 * D * F + 2 * D) + 2 * V * D + D
    assert params("olmoe") == (total, active)
    assert total == 6_919_161_856 and round(active / 1e9, 1) == 1.3


def test_olmo2_norms_follow_the_sublayers_and_span_the_projections():
    # OLMo 2 7B: x = x + norm(attn(x)); x = x + norm(mlp(x)); q_norm over N*H = 4096, k_norm over K*H.
    (layer, _), = groups("olmo-2-7b")
    assert layer.output_norms and layer.norm_names == ("post_attention_layernorm", "post_feedforward_layernorm")
    assert op_params("olmo-2-7b", "q_norm") == 4096 and op_params("olmo-2-7b", "k_norm") == 4096
    r = analyze("olmo-2-7b", H100, prompt_len=4)
    names = [o.name for o in r.prefill.ops]
    assert "input_layernorm" not in names
    assert names.index("o_proj") < names.index("post_attention_layernorm") < names.index("attn_residual")


def test_phi_3_5_moe_by_hand():
    # Phi-3.5-MoE: D 4096, 32 layers, 32 heads / 8 KV of 128 with q/k/v/o biases, 16 experts of 6400,
    # top 2, LayerNorms with bias, V 32064, lm_head with bias, untied. "42B total, 6.6B active".
    D, L, E, F, V, KV = 4096, 32, 16, 6400, 32064, 1024
    attn = 2 * (D * D + D) + 2 * (D * KV + KV)
    total = L * (attn + E * D + E * 3 * D * F + 4 * D) + 2 * V * D + V + 2 * D
    active = L * (attn + E * D + 2 * 3 * D * F + 4 * D) + 2 * V * D + V + 2 * D
    assert params("phi-3.5-moe") == (total, active)
    assert round(total / 1e9, 1) == 41.9 and round(active / 1e9, 1) == 6.6


def test_dbrx_by_hand():
    # DBRX: d 6144, 40 layers, 48 heads / 8 KV of 128 (fused Wqkv), 16 experts of 10752, top 4,
    # bias-free LayerNorms, V 100352 untied. "132B total, 36B active".
    D, L, E, F, V = 6144, 40, 16, 10752, 100352
    rest = D * (D + 2 * 1024) + D * D + E * D + 2 * D
    total = L * (rest + E * 3 * D * F) + 2 * V * D + D
    active = L * (rest + 4 * 3 * D * F) + 2 * V * D + D
    assert params("dbrx") == (total, active)
    assert round(total / 1e9) == 132 and round(active / 1e9) == 36


def test_minimax_m2_partial_rotary_and_projection_norms():
    (layer, count), = groups("minimax-m2.5")
    assert count == 62
    assert layer.mixer == Attention(48, 8, 128, rope_dim=64, qk_norm=True, qk_norm_scope="projection")
    assert layer.ffn == MoE(256, 8, 1536, fused_gate_up=True)
    assert any("use_mtp" in note for note in load_model("minimax-m2.5").notes)


def test_gemma3_by_hand():
    # Gemma 3 1B: D 1152, 26 layers, 4 heads / 1 KV of 256, F 6912, V 262144 tied; q/k norms over
    # the head (256 each); four norms per layer; layers 5, 11, 17, 23 global (window 512 elsewhere).
    D, L, F, V = 1152, 26, 6912, 262144
    layer = D * 1024 * 2 + D * 256 * 2 + 2 * 256 + 3 * D * F + 4 * D
    assert params("gemma-3-1b")[0] == L * layer + V * D + D == 999_885_952
    assert {g.layer.mixer.sliding_window: g.count for g in load_model("gemma-3-1b").layer_groups} == {512: 22, None: 4}
    # Gemma 3 27B (nested text_config): 62 layers -> 10 global, 52 sliding (window 1024).
    spec = load_model("gemma-3-27b")
    assert {g.layer.mixer.sliding_window: g.count for g in spec.layer_groups} == {1024: 52, None: 10}
    assert spec.tie_word_embeddings and "text_config" in spec.notes[0]


def test_llama4_layers_by_hand():
    # Scout: 48 layers, all MoE (16 experts of 8192, top 1, shared expert of 8192); every 4th layer
    # (3, 7, ..., 47) NoPE and global, the rest RoPE + chunks of 8192 + weightless q/k norms.
    D, E, F = 5120, 16, 8192
    attn = 2 * D * 5120 + 2 * D * 1024
    layer = attn + E * D + E * 3 * D * F + 3 * D * F + 2 * D
    assert layer == 2_202_101_760
    scout = groups("llama-4-scout")
    assert [(m.mixer.attention_chunk, m.mixer.rope_dim, m.mixer.qk_norm, n) for m, n in scout] == [
        (8192, 128, True, 36), (None, 0, False, 12)]
    # Maverick: MoE on odd layers (interleave step 2), dense MLP (16384) on even ones; no q/k norm.
    maverick = groups("llama-4-maverick")
    assert [(type(m.ffn).__name__, m.mixer.attention_chunk, n) for m, n in maverick] == [
        ("MLP", 8192, 24), ("MoE", 8192, 12), ("MoE", None, 12)]
    assert maverick[0][0].ffn == MLP(16384, gated=True)


def test_starcoder2_and_gpt_bigcode_by_hand():
    (layer, _), = groups("starcoder2-3b")
    assert layer.ffn == MLP(12288, gated=False, activation="gelu_tanh", bias=True)
    assert layer.mixer.sliding_window == 4096 and layer.mixer.qkv_bias and layer.norm_kind == "layernorm"
    assert load_model("starcoder2-3b").tie_word_embeddings
    # StarCoder 15.5B (GPT-BigCode): d 6144, 40 layers, 48 heads of 128 sharing one KV head, F 24576,
    # V 49152, 8192 learned positions, biases everywhere, tied lm_head.
    D, L, F, V, P = 6144, 40, 24576, 49152, 8192
    layer = (D * (D + 256) + D + 256) + (D * D + D) + (D * F + F) + (F * D + D) + 4 * D
    assert params("starcoder")[0] == L * layer + V * D + P * D + 2 * D == 15_517_456_384


def test_stablelm_per_head_norms_and_parallel_residual():
    # Stable LM 2 12B: 32 heads / 8 KV of 160, rotary on 25 % (40 dims), a bias-free LayerNorm of its
    # own for every head (q: 32 x 160, k: 8 x 160), attention and MLP in parallel from one norm.
    (layer, _), = groups("stablelm-2-12b")
    assert layer.parallel and layer.norm_names == ("input_layernorm",)
    assert layer.mixer.rope_dim == 40 and layer.mixer.qk_norm_scope == "per_head"
    assert op_params("stablelm-2-12b", "q_norm") == 32 * 160 and op_params("stablelm-2-12b", "k_norm") == 8 * 160
    (small, _), = groups("stablelm-2-1.6b")
    assert small.mixer.qkv_bias and not small.mixer.o_bias and not small.mixer.qk_norm


def test_falcon_mamba_by_hand():
    # Falcon-Mamba 7B: d 4096, 64 layers, d_inner 8192, state 16, conv 4, dt rank 256, V 65024 untied;
    # weightless RMSNorms on dt, B, C. "7.27B".
    D, Di, N, C, R, L, V = 4096, 8192, 16, 4, 256, 64, 65024
    layer = D * 2 * Di + (Di * C + Di) + Di * (R + 2 * N) + (R * Di + Di) + Di * N + Di + Di * D + D
    assert params("falcon-mamba-7b")[0] == L * layer + 2 * V * D + D == 7_272_665_088
    assert op_params("falcon-mamba-7b", "dt_layernorm") == 0


def test_kimi_k25_is_the_deepseek_v3_layout():
    spec = load_model("kimi-k2.5")
    assert spec.model_type == "deepseek_v3" and [g.count for g in spec.layer_groups] == [1, 60]
    assert spec.layer_groups[1].layer.ffn == MoE(384, 8, 2048, shared_intermediate_size=2048)
    assert "kimi_k25" in spec.notes[0]


@pytest.mark.parametrize(("release", "base"), [("deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-V3"),
                                               ("Qwen/Qwen3-235B-A22B-FP8", "Qwen/Qwen3-235B-A22B"),
                                               ("nvidia/Llama-3.1-70B-Instruct-FP8", "meta-llama/Llama-3.1-70B")])
def test_re_releases_share_their_base_architecture(release, base):
    assert load_model(release).layer_groups == load_model(base).layer_groups
