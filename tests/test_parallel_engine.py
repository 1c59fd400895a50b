"""The multi-device engine against hand derivations and published references, and its invariants."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llm_roofline as lr
from llm_roofline.api import analyze_many
from llm_roofline.engine import evaluate
from llm_roofline.hardware.spec import IDEAL, Efficiency
from llm_roofline.hardware.system import Link
from llm_roofline.hardware.systems import load_system
from llm_roofline.parallel.analysis import evaluate_deployment
from llm_roofline.parallel.collectives import CommSettings
from llm_roofline.parallel.deployment import Deployment
from llm_roofline.scenario import Scenario

from conftest import VARIED_MODELS, llama, llama4_like, sliding_llama, small_moe

H100 = load_system("dgx-h100")
ALPHA, BW = H100.scale_up.latency_s, H100.scale_up.device_bandwidth_bytes_per_s  # 0.79 us, 450 GB/s
LLAMA70 = llama("llama-3.1-70b", D=8192, L=80, N=64, K=8, F=28672, V=128256)


def ring_all_reduce_s(size: float, p: int = 8) -> float:
    return 2 * (p - 1) * ALPHA + 2 * (p - 1) / p * size / BW


# ---------------------------------------------------------------------------------------------------
# one device: today's numbers, exactly
# ---------------------------------------------------------------------------------------------------

@settings(deadline=None, max_examples=25)
@given(st.sampled_from(sorted(VARIED_MODELS)), st.integers(1, 64), st.integers(1, 300), st.integers(0, 200),
       st.booleans(), st.sampled_from([IDEAL, Efficiency(0.8, 0.9, 4e-6)]))
def test_tp1_equals_the_single_device_engine_exactly(name, batch, prompt, gen, flash, efficiency):
    model = VARIED_MODELS[name]()
    device = H100.device
    sc = Scenario.build(batch_size=batch, prompt_len=prompt, gen_len=gen, flash_attention=flash)
    direct = evaluate(model, device, sc, efficiency)
    via = analyze_many(model, device, batch_size=batch, prompt_len=prompt, gen_len=gen, flash_attention=flash,
                       efficiency=efficiency, tp=1, pp=1, ep=1, dp=1, attention_dp=1)
    for stage in ("prefill", "decode", "decode_at0", "decode_at1"):
        a, b = getattr(direct, stage), getattr(via, stage)
        assert np.array_equal(a.time_s, b.time_s) and a.table.names == b.table.names
        assert not b.table.link_bytes.any() and not b.link_time_s.any() and not b.link_bound.any()
    g, p = direct.generation, via.parallel
    for mine, today in ((p.ttft_s, g.ttft_s), (p.e2e_s, g.e2e_s), (p.decode_s, g.decode_s),
                        (p.weights_bytes, direct.memory.weights_bytes), (p.total_bytes, direct.memory.total_bytes),
                        (p.max_batch_size, direct.memory.max_batch_size)):
        assert np.array_equal(mine, today, equal_nan=True)
    assert np.array_equal(p.throughput_tokens_per_s, g.throughput_tokens_per_s, equal_nan=True)


def test_a_system_name_alone_is_its_device():
    alone = lr.analyze("llama-2-7b", "h100-sxm", gen_len=16).to_dict()
    system = lr.analyze("llama-2-7b", "dgx-h100", gen_len=16).to_dict()
    assert alone == system


# ---------------------------------------------------------------------------------------------------
# hand derivations and published references
# ---------------------------------------------------------------------------------------------------

def test_llama_3_1_70b_tp8_on_h100_batch_1_by_hand():
    # D 8192, N 64, K 8, H 128, F 28672, V 128256, L 80, untied (Llama 3.1 70B config.json).
    r = lr.analyze(LLAMA70, "dgx-h100", tp=8, prompt_len=1024, gen_len=1)
    per_layer = (8192 * 8192 + 2 * 8192 * 1024 + 8192 * 8192 + 3 * 8192 * 28672) // 8 + 2 * 8192  # shards + 2 norms
    params = 80 * per_layer + 2 * (128256 // 8) * 8192 + 8192  # vocabulary-parallel embedding and lm_head, final norm
    assert r.memory.weights_bytes == 2 * params
    assert r.memory.kv_cache_bytes == 1025 * 80 * 2 * (8 // 8) * 128 * 2  # one KV head per device, 1025 tokens
    ops = {op.name: op for op in r.decode.ops}
    for name in ("attn_all_reduce", "mlp_all_reduce"):  # two all-reduces per layer (Megatron-LM, fig. 3)
        op = ops[name]
        assert op.count == 80 and op.act_read_bytes == 1 * 1 * 8192 * 2  # B x T x D x 2 bytes
        assert op.link_bytes == pytest.approx(2 * 7 / 8 * 16384)
        assert op.time_s == pytest.approx(ring_all_reduce_s(16384)) and op.bound == "link"
    comm = 161 * ring_all_reduce_s(16384) + (7 * ALPHA + 7 / 8 * 128256 * 2 / BW)  # + embedding AR, logits AG
    assert r.communication["decode_time_s"] == pytest.approx(comm)
    # Prefill: the same rows with B x T x D x 2 = 1024 x 8192 x 2 bytes.
    pre = {op.name: op for op in r.prefill.ops}["mlp_all_reduce"]
    assert pre.time_s == pytest.approx(ring_all_reduce_s(1024 * 8192 * 2))


def test_megatron_per_layer_communication_volume():
    # Narayanan et al. 2021 (Megatron-LM on GPU clusters, sec. 3.2): tensor parallelism all-reduces b*s*h
    # twice per layer in the forward pass, each ring all-reduce moving 2(t-1)/t of it per device: 4bsh(t-1)/t
    # elements per layer per device.
    b, s, h, t = 2, 512, 4096, 4
    r = lr.analyze(llama("7b"), "dgx-h100", tp=t, batch_size=b, prompt_len=s)
    per_layer = sum(op.link_bytes for op in r.prefill.ops if op.name in ("attn_all_reduce", "mlp_all_reduce"))
    assert per_layer == pytest.approx(4 * b * s * h * (t - 1) / t * 2)  # x 2 bytes (16-bit)


def test_scaling_book_kv_cache_sizes_and_sharding():
    # JAX scaling book, "Serving LLaMA 3-70B" (applied-inference): KV per token in int8 = 2*K*H*L = 160 KiB,
    # 324 kB in bf16. Sharded over tp <= K devices the KV heads split (1/tp each); beyond K they repeat.
    int8 = dict(kv_bits=8, group_size=0, prompt_len=1, gen_len=0)  # int8 without scales, one cached token
    one = lr.analyze(LLAMA70, "tpu-v5e-256", **int8)
    assert one.memory.kv_cache_bytes == 2 * 8 * 128 * 80
    bf16 = lr.analyze(LLAMA70, "tpu-v5e-256", prompt_len=1, gen_len=0)
    assert bf16.memory.kv_cache_bytes == 2 * 2 * 8 * 128 * 80
    tp8 = lr.analyze(LLAMA70, "tpu-v5e-256", tp=8, **int8)
    assert tp8.memory.kv_cache_bytes * 8 == 2 * 8 * 128 * 80
    tp16 = lr.analyze(LLAMA70, "tpu-v5e-256", tp=16, **int8)
    assert tp16.memory.kv_cache_bytes * 16 == 2 * (2 * 8 * 128 * 80)  # each KV head on two chips


def test_scaling_book_decode_step_is_bounded_by_loading_weights_and_kv():
    # Same chapter: at batch 43, 8k context, bf16 on a v5e 4x4 (16 chips) a step is at least the time to read
    # every chip's parameters and KV caches from HBM; "within 1.5x" when communication is small.
    r = lr.analyze(LLAMA70, "tpu-v5e-256", tp=16, batch_size=43, prompt_len=8192, kv_len=8192)
    bw = load_system("tpu-v5e-256").device.memory_bandwidth_bytes_per_s
    kv_read = 43 * 8192 * 2 * 1 * 128 * 80 * 2  # one KV head per chip at tp 16
    bound = (r.memory.weights_bytes + kv_read) / bw
    step = r.parallelism["decode_step_s"]
    assert bound <= step <= 1.5 * bound


def test_deepseek_v3_dispatch_volume():
    # DeepSeek-V3 technical report (sec. 3.2.2): every token goes to its 8 routed experts, dispatched in FP8,
    # hidden size 7168. With attention DP 8 and EP 8 at batch 64, one decode step: each device dispatches its
    # 8 tokens x 8 experts x 7168 bytes; 7/8 of it leaves the device; the combine returns the same.
    r = lr.analyze("deepseek-ai/DeepSeek-V3", "hgx-h200", attention_dp=8, ep=8, batch_size=64, a_bits=8, w_bits=8)
    ops = {op.name: op for op in r.decode.ops}
    assert ops["moe_dispatch"].act_read_bytes == 8 * 8 * 7168
    assert ops["moe_dispatch"].link_bytes == pytest.approx(7 / 8 * 8 * 8 * 7168)
    assert ops["moe_combine"].link_bytes == ops["moe_dispatch"].link_bytes
    assert ops["moe_dispatch"].count == 58  # the MoE layers (3 dense first)
    assert "experts" in r.parallelism["straggler"] or "expert" in r.parallelism["straggler"]


# ---------------------------------------------------------------------------------------------------
# pipeline parallelism
# ---------------------------------------------------------------------------------------------------

def _part_times(a, stage: str):
    costs = getattr(a, stage)
    per_op = costs.time_s[:, 0] * costs.table.counts
    parts = np.array(costs.table.parts)
    return {p: per_op[parts == p].sum() for p in ("head", "layer", "handoff", "tail")}


def test_pipeline_decode_step_is_every_stage_plus_the_handoffs():
    # pp 2, tp 1, one micro-batch: the single-device operators, layers split 16 / 16; a token passes both
    # stages, each with its model end: head + layers + tail + one hand-off of B x D x 2 bytes.
    model = llama()
    single = lr.analyze(model, "h100-sxm", batch_size=2, prompt_len=256)
    ops = {op.name: op for op in single.decode.ops}
    head = ops["embed_tokens"].time_s
    tail = ops["norm"].time_s + ops["lm_head"].time_s
    layers = single.decode.total.time_s - head - tail
    r = lr.analyze(model, "dgx-h100", pp=2, micro_batches=1, batch_size=2, prompt_len=256)
    handoff = ALPHA + 2 * 4096 * 2 / BW
    assert r.parallelism["decode_step_s"] == pytest.approx(head + layers + tail + handoff)
    # One micro-batch: the fullest stage (the lm_head's) works u of every round trip.
    u = max(head, tail) + layers / 2
    assert r.parallelism["decode_bubble_fraction"] == pytest.approx(1 - u / (head + layers + tail + handoff))


def test_prefill_pipelining_with_micro_batches():
    # m micro-batches through pp stages (a flow shop of identical jobs): the first leaves after its round
    # trip (every stage once + the hand-offs of one micro-batch), the other m - 1 one per fullest stage u;
    # the fullest stage idles 1 - m u / TTFT of it.
    model = llama()
    r = lr.analyze(model, "dgx-h100", pp=4, micro_batches=8, batch_size=16, prompt_len=128, gen_len=4)
    a = lr.analyze_many(model, "dgx-h100", pp=4, micro_batches=8, batch_size=16, prompt_len=128, gen_len=4)
    parts = _part_times(a, "prefill")
    u = max(parts["head"], parts["tail"]) + parts["layer"] * 8 / 32
    ttft = parts["head"] + parts["layer"] + parts["tail"] + parts["handoff"] + 7 * u
    assert r.parallelism["device_batch"] == 2
    assert r.generation.ttft_s == pytest.approx(ttft)
    assert r.parallelism["prefill_bubble_fraction"] == pytest.approx(1 - 8 * u / ttft)
    # the ends differ (the lm_head's stage is the fullest): less than GPipe's (m + pp - 1) u + H
    assert r.generation.ttft_s < (8 + 4 - 1) * u + parts["handoff"]


@pytest.mark.parametrize("deployment", [dict(pp=2), dict(pp=2, micro_batches=1), dict(pp=2, micro_batches=4),
                                        dict(pp=2, micro_batches=3), dict(tp=2, overlap=True),
                                        dict(tp=2, pp=2, micro_batches=4, overlap=True)])
def test_decode_sum_equals_the_step_by_step_sum(deployment):
    # The closed form over KV lengths P+1..P+G against the reported step at each KV length, one by one
    # (a sliding-window model, so the window's kink is crossed).
    model, P, G, B = sliding_llama(), 40, 60, 8
    whole = lr.analyze_many(model, "dgx-h100", batch_size=B, prompt_len=P, gen_len=G, **deployment)
    steps = lr.analyze_many(model, "dgx-h100", batch_size=B, prompt_len=P, kv_len=list(range(P + 1, P + G + 1)),
                            **deployment)
    assert whole.parallel.decode_s[0] == pytest.approx(steps.parallel.decode_step_s.sum(), rel=1e-9)


@pytest.mark.parametrize("deployment", [dict(pp=2), dict(pp=2, micro_batches=3), dict(pp=3, micro_batches=2),
                                        dict(tp=2, overlap=True)])
def test_chunked_attention_pipeline_sum_is_exact_where_the_maximum_is_decided(deployment):
    # Llama-4-like chunked layers: the visible keys restart every chunk, so the step time is not monotone
    # and a maximum whose winner changes cannot be split; where the bounds of the steps decide it (one
    # term wins at every KV length), the sum is exact.
    model, P, G = llama4_like(chunk=16), 10, 50
    whole = lr.analyze_many(model, "dgx-h100", batch_size=4, prompt_len=P, gen_len=G, **deployment)
    steps = lr.analyze_many(model, "dgx-h100", batch_size=4, prompt_len=P, kv_len=list(range(P + 1, P + G + 1)),
                            **deployment)
    assert whole.parallel.decode_s[0] == pytest.approx(steps.parallel.decode_step_s.sum(), rel=1e-9)


def test_chunked_attention_with_an_undecided_maximum_is_refused():
    # 256 sequences from 100 to 3100 keys on tp 2 with overlap: the global layer's attention grows, so the
    # computation starts below the all-reduces and ends above them (checked here on the steps' own
    # tables); with non-monotone steps that maximum has no exact sum and is refused.
    model, kw = llama4_like(chunk=16), dict(tp=2, batch_size=256, prompt_len=100)
    steps = lr.analyze_many(model, "dgx-h100", kv_len=np.arange(101, 3101, 10), **kw).decode
    comm = np.array([kind == "communication" for kind in steps.table.kinds])
    per_op = steps.time_s * steps.table.counts[:, None]
    computation, link = per_op[~comm].sum(0), per_op[comm].sum(0)
    assert (computation > link).any() and (computation < link).any()
    with pytest.raises(lr.ScenarioError, match="chunked-attention"):
        lr.analyze(model, "dgx-h100", overlap=True, gen_len=3000, **kw)


def test_overlap_never_slower_and_is_the_max_of_link_and_the_rest():
    model = llama()
    serial = lr.analyze(model, "dgx-h100", tp=8, batch_size=8, prompt_len=512, gen_len=8)
    overlap = lr.analyze(model, "dgx-h100", tp=8, batch_size=8, prompt_len=512, gen_len=8, overlap=True)
    assert overlap.generation.ttft_s <= serial.generation.ttft_s
    assert overlap.generation.tpot_s <= serial.generation.tpot_s
    comm = serial.communication["prefill_time_s"]
    assert overlap.generation.ttft_s == pytest.approx(max(comm, serial.prefill.total.time_s - comm))
    assert overlap.communication["overlapped"] and not serial.communication["overlapped"]


# ---------------------------------------------------------------------------------------------------
# invariants
# ---------------------------------------------------------------------------------------------------

@settings(deadline=None, max_examples=15)
@given(st.integers(1, 64), st.integers(1, 2048), st.sampled_from([16, 8, 4]))
def test_more_tensor_parallel_devices_never_raise_weight_bytes_per_device(batch, prompt, bits):
    previous = np.inf
    for tp in (1, 2, 4, 8):
        r = lr.analyze(LLAMA70, "dgx-h100", tp=tp, batch_size=batch, prompt_len=prompt, w_bits=bits)
        assert r.memory.weights_bytes <= previous
        previous = r.memory.weights_bytes


@settings(deadline=None, max_examples=15)
@given(st.floats(1.1, 20), st.sampled_from([dict(tp=8), dict(tp=4, pp=2), dict(attention_dp=4, ep=4, tp=2)]),
       st.sampled_from(["ideal", "fitted"]), st.integers(1, 128))
def test_a_faster_link_never_slows_anything(factor, deployment, comm, batch):
    model = small_moe() if "ep" in deployment else LLAMA70
    up = H100.scale_up
    fast = replace(H100, scale_up=Link(up.name, up.bandwidth_bytes_per_s * factor, up.latency_s, fit=up.fit))
    kwargs = dict(batch_size=batch, prompt_len=256, gen_len=16, comm=comm, **deployment)
    slow_r, fast_r = lr.analyze(model, H100, **kwargs), lr.analyze(model, fast, **kwargs)
    assert fast_r.generation.ttft_s <= slow_r.generation.ttft_s * (1 + 1e-12)
    assert fast_r.generation.tpot_s <= slow_r.generation.tpot_s * (1 + 1e-12)


def test_deployment_throughput_counts_replicas_and_devices():
    one = lr.analyze(LLAMA70, "dgx-h100", tp=8, batch_size=4, prompt_len=256, gen_len=32)
    two = lr.analyze(LLAMA70, "dgx-h100", tp=8, dp=2, batch_size=4, prompt_len=256, gen_len=32)
    assert two.generation.throughput_tokens_per_s == pytest.approx(2 * one.generation.throughput_tokens_per_s)
    assert two.generation.throughput_tokens_per_s_per_device == pytest.approx(
        one.generation.throughput_tokens_per_s_per_device)
    assert two.parallelism["nodes"] == 2


def test_a_sweep_over_degrees_groups_by_degree_tuple():
    result = lr.sweep(llama(), "dgx-h100", tp=[1, 2, 4], pp=[1, 2], batch_size=[1, 16], gen_len=8)
    assert len(result) == 12 and len(result.groups) == 6
    cols = result.columns
    i = int(np.flatnonzero((cols["tp"] == 4) & (cols["pp"] == 2) & (cols["batch_size"] == 16))[0])
    alone = lr.analyze(llama(), "dgx-h100", tp=4, pp=2, batch_size=16, gen_len=8)
    assert cols["tpot_s"][i] == pytest.approx(alone.generation.tpot_s)
    assert cols["devices"][i] == 8 and result.report(i).parallelism["tp"] == 4
    with pytest.raises(lr.ScenarioError, match="spans 6 deployments"):
        _ = result.analysis


def test_fitted_collectives_follow_hardware_efficiency():
    ideal = lr.analyze(LLAMA70, "dgx-h100", tp=8)
    hardware = lr.analyze(LLAMA70, "dgx-h100", tp=8, efficiency="hardware")
    assert ideal.parallelism["collectives"]["mode"] == "ideal"
    assert hardware.parallelism["collectives"]["mode"] == "fitted"
    assert lr.analyze(LLAMA70, "dgx-h100", tp=8, comm="fitted").communication["decode_time_s"] > \
        ideal.communication["decode_time_s"]
    custom = lr.analyze(LLAMA70, "dgx-h100", tp=8, comm="fitted", comm_library="trtllm")
    assert custom.parallelism["collectives"] == {"mode": "fitted", "library": "trtllm", "algorithm": "ring"}


def test_comm_settings_are_checked():
    with pytest.raises(lr.ScenarioError, match="library"):
        lr.analyze(LLAMA70, "dgx-h100", tp=8, comm_library="gloo")
    assert CommSettings().mode == "ideal"
    assert Deployment(tp=8).devices == 8
    assert evaluate_deployment  # the engine entry point the faces share
