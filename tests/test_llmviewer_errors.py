"""LLM-Viewer's known errors, one test each: our engine must not repeat them.

LLM-Viewer = hahnyuan/LLM-Viewer (model_analyzer.py @01b269d6 and @df2cba90, op_handlers.py @df2cba90,
configs/*.py post_process, configs/opt.py, roofline_model.py); see docs/paper-table1.md for the
formulas and the numbers. Every expected value below is derived by hand from the published
architecture (HF config.json), never read back from the engine. FP16: 2 bytes per element.
"""

from __future__ import annotations

import math

import pytest

from llm_roofline import analyze, load_model

A6000 = "nvidia_A6000"  # 768 GB/s
BW = 768e9
BYTES = 2
LLAMA2 = "meta-llama/Llama-2-7b-hf"  # D 4096, 32 heads x 128, F 11008, 32 layers, V 32000, untied
D, N, H, F, L, V = 4096, 32, 128, 11008, 32, 32000
P = 2048  # the paper's Table 1 prompt


def op(stage, name):
    return next(o for o in stage.ops if o.name == name)


@pytest.mark.parametrize("batch", [1, 4])
def test_lm_head_counts_two_flops_per_mac_and_every_sequence(batch):
    # LLM-Viewer post_process: OPs = B*D*V*1 (one FLOP per multiply-accumulate), load_act = D*a_byte,
    # store_act = V*a_byte (no B). Correct: the logits of the last token of each of the B sequences,
    # x[B, D] @ W[D, V]: 2*B*D*V FLOPs, reads B*D and writes B*V activations.
    r = analyze(LLAMA2, A6000, batch_size=batch, prompt_len=P)
    expected_flops = 2 * batch * D * V  # batch 4: 1,048,576,000 (LLM-Viewer: 524,288,000)
    for stage in (r.prefill, r.decode):
        head = op(stage, "lm_head")
        assert head.flops == expected_flops
        assert head.act_read_bytes == batch * D * BYTES
        assert head.act_write_bytes == batch * V * BYTES
        assert head.weight_bytes == D * V * BYTES
    assert op(r.prefill, "lm_head").flops != batch * D * V


def test_mlp_activation_is_sized_by_the_intermediate_width():
    # LLM-Viewer act: n = B*D*T (hidden size), reads 2n, writes n. The SwiGLU product silu(gate) * up
    # is T x F: reads gate and up (2*T*F) and writes T*F elements, F = 11008 (not D = 4096).
    r = analyze(LLAMA2, A6000, prompt_len=P)
    act = op(r.prefill, "act_fn")
    assert act.act_write_bytes == P * F * BYTES == 45_088_768  # LLM-Viewer: P*D*2 = 16,777,216
    assert act.act_read_bytes == 2 * P * F * BYTES
    decode_act = op(r.decode, "act_fn")
    assert decode_act.act_write_bytes == F * BYTES and decode_act.act_read_bytes == 2 * F * BYTES


def test_prefill_q_read_uses_every_query_head_under_gqa():
    # Llama-3.1-8B: 32 query heads, 8 KV heads of 128. LLM-Viewer sizes the prefill Q read with the
    # KV heads (T*H*K*a_byte = 4 MiB; kept as "legacy" in op_handlers.qk_matmul @df2cba90). Q is
    # T x N x H: 2048*32*128*2 = 16 MiB; only K is read with the 8 KV heads.
    T, Nq, K, Hd = P, 32, 8, 128
    r = analyze("meta-llama/Llama-3.1-8B", A6000, prompt_len=T)
    qk = op(r.prefill, "qk_matmul")
    assert qk.act_read_bytes == T * Nq * Hd * BYTES == 16_777_216  # Q (LLM-Viewer: 4,194,304)
    assert qk.kv_read_bytes == T * K * Hd * BYTES == 4_194_304  # K
    assert qk.act_write_bytes == Nq * T * T * BYTES  # scores of all 32 query heads
    assert qk.flops == 2 * Nq * T * T * Hd
    sv = op(r.prefill, "sv_matmul")
    assert sv.kv_read_bytes == T * K * Hd * BYTES  # V
    assert sv.act_write_bytes == T * Nq * Hd * BYTES  # the output has all query heads too


def test_flash_attention_writes_tokens_by_heads_not_tokens_by_tokens():
    # LLM-Viewer @01b269d6: o_numel = T*T*B*N*a_byte and store_act = 2*o_numel (537 MB per layer here).
    # The output O of attention is T x N x H: 2048*32*128*2 = 16 MiB, written once. The fused kernel
    # also reads Q once and K and V once each (ideal tiling).
    r = analyze(LLAMA2, A6000, prompt_len=P, flash_attention=True)
    fa = op(r.prefill, "fused_attention")
    assert fa.act_write_bytes == P * N * H * BYTES == 16_777_216
    assert fa.act_write_bytes != P * P * N * BYTES
    assert fa.act_read_bytes == P * N * H * BYTES  # Q
    assert fa.kv_read_bytes == 2 * P * N * H * BYTES  # K and V, 32 KV heads
    decode_fa = op(r.decode, "fused_attention")
    assert decode_fa.act_write_bytes == N * H * BYTES  # one token (LLM-Viewer @01b269d6: 1 x S x N)


def test_opt_has_no_gate_projection():
    # LLM-Viewer configs/opt.py lists gate_proj, up_proj, down_proj with intermediate ffn_dim for OPT.
    # OPT's MLP is fc1 (D -> F, bias), ReLU, fc2 (F -> D, bias): D 4096, F 16384, 32 layers,
    # V 50272, 2050 learned positions, tied lm_head.
    D_, F_, L_, V_, POS = 4096, 16384, 32, 50272, 2050
    model = load_model("facebook/opt-6.7b")
    r = analyze(model, A6000, prompt_len=P)
    names = [o.name for o in r.prefill.ops]
    assert {"fc1", "act_fn", "fc2"} <= set(names)
    assert not {"gate_proj", "up_proj", "down_proj"} & set(names)
    fc1, fc2 = op(r.prefill, "fc1"), op(r.prefill, "fc2")
    assert fc1.flops == 2 * P * D_ * F_ + P * F_  # matmul + bias add
    assert fc1.weight_bytes == (D_ * F_ + F_) * BYTES and fc2.weight_bytes == (F_ * D_ + D_) * BYTES
    act = op(r.prefill, "act_fn")
    assert act.act_read_bytes == P * F_ * BYTES  # ReLU of fc1 only: one input, no gate
    # Parameters: embeddings V*D + positions 2050*D + per layer [4 (D*D + D) attention, fc1 D*F + F,
    # fc2 F*D + D, two LayerNorms 2*2D] + final LayerNorm 2D = 6,658,473,984 (a gate would add 2.1 G).
    layer = 4 * (D_ * D_ + D_) + (D_ * F_ + F_) + (F_ * D_ + D_) + 4 * D_
    assert r.model["params_total"] == V_ * D_ + POS * D_ + L_ * layer + 2 * D_ == 6_658_473_984


def test_memory_footprint_counts_every_weight_once_and_the_largest_working_set():
    # LLM-Viewer: weights = the per-layer projections only (32 * (4 D^2 + 3 D F) * 2 = 12,952,010,752 B:
    # no embeddings, lm_head or norms) and activations = the sum of store_act over a layer's operators
    # (778,043,392 B here), as if every output of a layer were alive at once.
    r = analyze(LLAMA2, A6000, prompt_len=P, gen_len=0)  # the footprint after the prompt, as LLM-Viewer's
    mem = r.memory
    # Untied: embed_tokens V*D + lm_head V*D + 32 layers (4 D^2 + 3 D F + 2 D) + final norm D.
    params = 2 * V * D + L * (4 * D * D + 3 * D * F + 2 * D) + D
    assert params == 6_738_415_616 == r.model["params_total"]
    assert mem.weights_bytes == params * BYTES == 13_476_831_232
    assert mem.weights_bytes - L * (4 * D * D + 3 * D * F) * BYTES == (2 * V * D + (2 * L + 1) * D) * BYTES
    assert mem.kv_cache_bytes == L * 2 * P * D * BYTES  # K and V of 2048 tokens, 32 layers
    # Peak live activations: the largest single working set, softmax reading and writing the
    # 32 x 2048 x 2048 fp16 scores = 536,870,912 B.
    largest = max(o.activation_bytes for stage in (r.prefill, r.decode) for o in stage.ops)
    assert mem.activations_bytes == largest == 2 * N * P * P * BYTES
    layer_writes = sum(o.act_write_bytes for o in r.prefill.ops if o.count == L)
    assert mem.activations_bytes < layer_writes < sum(o.activation_bytes for o in r.prefill.ops)
    assert mem.total_bytes == mem.weights_bytes + mem.kv_cache_bytes + mem.activations_bytes


def _numbers(value, path="report"):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}[{i}]")
    elif isinstance(value, float | int) and not isinstance(value, bool):
        yield path, value


def test_zero_flop_operator_has_zero_intensity_and_finite_numbers():
    # LLM-Viewer roofline_analyze: intensity = OPs / bytes, performance = intensity * BW, time =
    # OPs / performance = 0 / 0 -> ZeroDivisionError for a zero-FLOP operator. The embedding lookup
    # does no arithmetic: intensity 0, memory-bound, time = bytes / bandwidth.
    r = analyze(LLAMA2, A6000, prompt_len=P, gen_len=16)
    emb = op(r.prefill, "embed_tokens")
    assert emb.flops == 0 and emb.arithmetic_intensity == 0 and emb.performance_flops_per_s == 0
    assert emb.bound == "memory"
    assert emb.bytes == 2 * P * D * BYTES  # reads 2048 rows of the table, writes 2048 x D
    assert emb.time_s == pytest.approx(2 * P * D * BYTES / BW)  # 43.7 us
    assert op(r.decode, "embed_tokens").arithmetic_intensity == 0
    bad = [path for path, x in _numbers(r.to_dict()) if not math.isfinite(x)]
    assert not bad, bad
