"""Llama-2-7B on the RTX A6000, batch 1, prompt 2048, FP16: the paper's Table 1 setting.
Every expected value is derived here by hand from the architecture (D 4096, N 32 heads of
H 128, F 11008, L 32, V 32000) and the datasheet (768 GB/s, 154.8 TFLOP/s fp16)."""

from __future__ import annotations

import pytest

from llm_roofline import analyze

D, H, N, F, L, V, P = 4096, 128, 32, 11008, 32, 32000, 2048
BYTES = 2  # fp16
BW, PEAK = 768e9, 154.8e12


def op(stage, name):
    return next(o for o in stage.ops if o.name == name)


@pytest.fixture
def report(llama2_7b, a6000):
    return analyze(llama2_7b, a6000, batch_size=1, prompt_len=P)


def test_parameter_count(report):
    # 2*V*D (embeddings + untied lm_head) + L*(4*D^2 + 3*D*F + 2*D) + D (final norm).
    assert report.model["params_total"] == 2 * V * D + L * (4 * D * D + 3 * D * F + 2 * D) + D == 6_738_415_616
    assert report.model["params_active"] == report.model["params_total"]


def test_prefill_q_proj(report):
    q = op(report.prefill, "q_proj")
    assert q.count == L
    assert q.flops == 2 * P * D * D
    # Weights D*D, input P*D and output P*D, all fp16. (The issue text's 3*4096*4096*2 would be
    # the traffic of a 4096-token prompt; at 2048 tokens input and output are half that.)
    assert q.weight_bytes == D * D * BYTES
    assert q.bytes == (D * D + 2 * P * D) * BYTES
    assert q.arithmetic_intensity == pytest.approx(2 * P * D * D / ((D * D + 2 * P * D) * BYTES))
    assert q.bound == "compute"  # intensity 1024 > ridge 154.8e12 / 768e9 = 201.6
    assert q.time_s == pytest.approx(2 * P * D * D / PEAK)
    assert q.attainable_flops_per_s == PEAK  # right of the ridge: the compute roof


def test_prefill_k_proj_writes_the_kv_cache(report):
    k = op(report.prefill, "k_proj")
    assert k.kv_write_bytes == P * D * BYTES and k.act_write_bytes == 0


def test_prefill_naive_attention_stores_the_full_score_matrix(report):
    qk, softmax, sv = (op(report.prefill, n) for n in ("qk_matmul", "softmax", "sv_matmul"))
    assert qk.flops == 2 * N * P * P * H
    assert qk.act_write_bytes == N * P * P * BYTES  # scores
    assert qk.kv_read_bytes == P * D * BYTES  # K of all 32 heads
    assert softmax.act_read_bytes == softmax.act_write_bytes == N * P * P * BYTES
    assert sv.flops == 2 * N * P * P * H
    assert sv.act_write_bytes == P * D * BYTES


def test_flash_attention_fuses_skips_masked_pairs_and_never_writes_scores(llama2_7b, a6000):
    r = analyze(llama2_7b, a6000, prompt_len=P, flash_attention=True)
    names = [o.name for o in r.prefill.ops]
    assert "fused_attention" in names and "qk_matmul" not in names and "softmax" not in names
    fa = op(r.prefill, "fused_attention")
    pairs = P * (P + 1) // 2  # causal: query i sees i keys
    assert fa.flops == N * pairs * (2 * H + 2 * H + 5)
    # reads Q, K, V once and writes O (P x D): not P x P.
    assert fa.act_write_bytes == P * D * BYTES
    assert fa.bytes == 4 * P * D * BYTES


def test_mlp_activation_is_sized_by_the_intermediate_width(report):
    act = op(report.prefill, "act_fn")
    assert act.act_write_bytes == P * F * BYTES
    assert act.act_read_bytes == 2 * P * F * BYTES  # silu(gate) * up


def test_lm_head_prefill_last_token_and_batch(llama2_7b, a6000):
    for batch in (1, 4):
        r = analyze(llama2_7b, a6000, batch_size=batch, prompt_len=P)
        head = op(r.prefill, "lm_head")
        assert head.flops == 2 * batch * D * V
    r = analyze(llama2_7b, a6000, batch_size=2, prompt_len=P, logits_all=True)
    assert op(r.prefill, "lm_head").flops == 2 * 2 * P * D * V


def test_decode_is_memory_bound_with_intensity_near_one(report):
    for name in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"):
        o = op(report.decode, name)
        assert o.bound == "memory"
        assert o.arithmetic_intensity == pytest.approx(1.0, rel=0.01)
        assert o.attainable_flops_per_s == pytest.approx(BW * o.arithmetic_intensity)  # on the bandwidth slope


def test_report_states_the_ceilings(report):
    h = report.hardware
    assert h["effective_bandwidth_bytes_per_s"] == BW
    assert h["effective_peak_flops_per_s"]["fp16"] == PEAK
    assert h["ridge_points"]["fp16"] == pytest.approx(154.8e12 / 768e9)  # 201.6 FLOP/byte


def test_decode_step_bytes_are_the_weights_plus_the_kv_cache(report):
    layer_weights = (4 * D * D + 3 * D * F + 2 * D) * BYTES
    weights = L * layer_weights + V * D * BYTES + D * BYTES + D * BYTES  # lm_head, final norm, one embedding row
    kv_read = L * 2 * P * D * BYTES  # K and V of 2048 cached tokens, every layer
    kv_write = L * 2 * D * BYTES  # the new token's K and V
    total = report.decode.total
    assert total.weight_bytes == weights
    assert total.kv_cache_bytes == kv_read + kv_write
    assert total.activation_bytes < 0.005 * total.bytes
    assert total.time_s == pytest.approx(total.bytes / BW, rel=1e-3)  # everything memory-bound


def test_memory_footprint(llama2_7b, a6000):
    r = analyze(llama2_7b, a6000, batch_size=3, prompt_len=P, gen_len=256)
    mem = r.memory
    assert mem.weights_bytes == 6_738_415_616 * BYTES
    assert mem.kv_cache_bytes == 3 * (P + 256) * L * 2 * D * BYTES
    # Largest working set: softmax reads and writes the 3 x 32 x 2048 x 2048 fp16 scores.
    assert mem.activations_bytes == 2 * 3 * N * P * P * BYTES
    assert mem.total_bytes == mem.weights_bytes + mem.kv_cache_bytes + mem.activations_bytes
    per_sequence = (P + 256) * L * 2 * D * BYTES + 2 * N * P * P * BYTES
    assert mem.max_batch_size == int((48e9 - mem.weights_bytes) // per_sequence)
    assert mem.fits


def test_model_that_does_not_fit_is_reported_not_raised(llama2_7b, a6000):
    r = analyze(llama2_7b, a6000, batch_size=64, prompt_len=4096, gen_len=4096)
    assert not r.memory.fits and r.memory.total_bytes > 48e9


def test_weight_only_quantization_computes_at_activation_precision(llama2_7b, a6000):
    w4 = analyze(llama2_7b, a6000, prompt_len=P, w_bits=4)
    q = op(w4.prefill, "q_proj")
    assert q.peak_flops_per_s == PEAK  # W4A16 runs at the fp16 peak
    # 4-bit weights with one fp16 scale per 128-weight group: 0.5 + 2/128 bytes per weight.
    assert q.weight_bytes == D * D * (0.5 + 2 / 128)
    w8a8 = analyze(llama2_7b, a6000, prompt_len=P, w_bits=8, a_bits=8)
    assert op(w8a8.prefill, "q_proj").peak_flops_per_s == 309.7e12  # all operands int8


def test_zero_flop_operators_have_zero_intensity_not_nan(report):
    emb = op(report.prefill, "embed_tokens")
    assert emb.flops == 0 and emb.arithmetic_intensity == 0 and emb.bound == "memory"


def test_stage_rates(llama2_7b, a6000):
    r = analyze(llama2_7b, a6000, batch_size=4, prompt_len=P)
    for stage, tokens in ((r.prefill, 4 * P), (r.decode, 4)):
        t = stage.total
        assert t.tokens_per_s == pytest.approx(tokens / t.time_s)
        assert t.arithmetic_intensity == pytest.approx(t.flops / t.bytes)
        assert t.performance_flops_per_s == pytest.approx(t.flops / t.time_s)


def test_stage_bound_is_where_most_time_goes(report):
    # Prefill of 2048 tokens: the seven projections per layer are compute-bound (intensity ~1000 and
    # ~1200 FLOP/byte > ridge 201.6); every other operator is memory-bound. Their time is FLOPs / peak:
    projections = L * 2 * P * (4 * D * D + 3 * D * F) / PEAK
    assert report.prefill.total.compute_bound_time_s == pytest.approx(projections, rel=1e-12)
    assert projections > 0.5 * report.prefill.total.time_s and report.prefill.total.bound == "compute"
    assert report.prefill.total.bound_time_share == pytest.approx(projections / report.prefill.total.time_s)
    # A decode step at batch 1 reads every weight for one token: all memory-bound.
    assert report.decode.total.compute_bound_time_s == 0 and report.decode.total.bound == "memory"
    assert report.decode.total.bound_time_share == 1
