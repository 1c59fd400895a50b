"""Operator fusion (techniques/fusion.py): traffic saved, FLOPs kept, kernels merged, by hand for
Llama-2-7B, and the paper's Fig. 15 (a fused memory-bound pair gains, a compute-bound one does not)."""

from __future__ import annotations

import pytest

from llm_roofline import analyze
from llm_roofline.hardware.spec import Hardware

from conftest import llama, op, small_moe

D, F, L, V = 4096, 11008, 32, 32000
AB = 2  # bytes per 16-bit activation
DEVICE = Hardware(name="dev", memory_bandwidth_bytes_per_s=1e12, memory_capacity_bytes=80e9,
                  peak_flops_per_s={"fp16": 300e12, "int8": 600e12}, sram_per_sm_bytes=192 * 1024, sm_count=108)


def _decode(level, **kw):
    return analyze(llama(), DEVICE, batch_size=1, prompt_len=512, gen_len=0, fusion=level, flash_attention=True,
                   **kw)


def test_elementwise_fusion_saves_the_intermediate_traffic_by_hand():
    # Decode, M = 1 token. Per layer, activation traffic that disappears (x ab):
    # input_layernorm into q/k/v (prologue): its read and write, 2MD; rope into q/k (epilogue): its read
    # and write of q and k, 2 * 2MD (N = K, NH = D); attn_residual into o_proj: o's write and the
    # residual's read of it, 2MD; post_attention_layernorm into gate/up: 2MD; act_fn into up_proj: up's
    # write and the activation's read of it, 2MF; mlp_residual into down_proj: 2MD; added: the norm
    # weights read by the extra consumers (k, v for the first norm, up for the second): 3D. Once: the
    # final norm into lm_head: 2MD.
    M = 1
    per_layer = (2 * M * D + 4 * M * D + 2 * M * D + 2 * M * D + 2 * M * F + 2 * M * D - 3 * D) * AB
    expected = L * per_layer + 2 * M * D * AB
    none, fused = _decode("none"), _decode("elementwise")
    assert none.decode.total.bytes - fused.decode.total.bytes == pytest.approx(expected, abs=0.5)
    # FLOPs stay, plus the recomputed norms: 4 FLOPs per element (RMSNorm), 2 extra consumers of the
    # first norm and 1 of the second: 3 * 4MD per layer.
    assert fused.decode.total.flops - none.decode.total.flops == pytest.approx(L * 3 * 4 * M * D)


def test_aggressive_fusion_also_merges_sibling_gemms_by_hand():
    # On top of the elementwise savings: q, k, v as one GEMM read x once (2MD saved), gate and up as
    # one (MD), and the activation then fuses with both halves (gate's write and read too: 2MF); the
    # norms have one consumer each, so no extra weight reads and no recomputed FLOPs.
    M = 1
    per_layer = (12 * M * D + 4 * M * F + 3 * M * D) * AB
    expected = L * per_layer + 2 * M * D * AB
    none, fused = _decode("none"), _decode("aggressive")
    assert none.decode.total.bytes - fused.decode.total.bytes == pytest.approx(expected, abs=0.5)
    assert fused.decode.total.flops == pytest.approx(none.decode.total.flops, rel=1e-12)
    names = [o.name for o in fused.decode.ops]
    assert "input_layernorm+q_proj+k_proj+v_proj+rope" in names
    assert "post_attention_layernorm+gate_proj+up_proj+act_fn" in names
    assert "o_proj+attn_residual" in names and "down_proj+mlp_residual" in names


def test_parameters_and_weights_are_unchanged_by_fusion():
    none, fused = _decode("none"), _decode("aggressive")
    assert fused.model["params_total"] == none.model["params_total"] == 6_738_415_616
    assert fused.memory.weights_bytes == none.memory.weights_bytes
    assert fused.decode.total.weight_bytes == pytest.approx(none.decode.total.weight_bytes, rel=1e-12)


def test_per_kernel_fixed_cost_drops_with_the_kernel_count():
    # 14 operators per layer + embedding, final norm, lm_head = 451 kernels; elementwise fusion leaves
    # q, k, v, attention, o, gate, up, down per layer + embedding and norm+lm_head = 258. Decode at
    # batch 1 is memory-bound throughout, so the step time falls by the bytes saved over the bandwidth
    # plus 193 launches.
    overhead = 5e-6
    none = _decode("none", efficiency={"kernel_overhead_s": overhead})
    fused = _decode("elementwise", efficiency={"kernel_overhead_s": overhead})
    assert sum(o.count for o in none.decode.ops) == 451
    assert sum(o.count for o in fused.decode.ops) == 258
    saved = (none.decode.total.bytes - fused.decode.total.bytes) / DEVICE.memory_bandwidth_bytes_per_s
    assert none.decode.total.time_s - fused.decode.total.time_s == pytest.approx(saved + 193 * overhead, rel=1e-9)


def test_fig15_memory_bound_pair_gains_compute_bound_pair_does_not():
    # q, k and v fused into one GEMM (aggressive). Decode (M = 1, memory-bound): the fused kernel reads x
    # once instead of three times and is faster than the three apart. Prefill of 4096 tokens
    # (compute-bound): each projection takes its FLOPs / peak, and the fused kernel takes exactly the
    # sum (plus the norm's and rope's FLOPs it now computes): merging the GEMMs gains nothing.
    kw = dict(batch_size=1, prompt_len=4096, gen_len=0, flash_attention=True)
    none = analyze(llama(), DEVICE, **kw)
    fused = analyze(llama(), DEVICE, fusion="aggressive", **kw)
    qkv, peak = ("q_proj", "k_proj", "v_proj"), 300e12
    together = op(fused.decode, "input_layernorm+q_proj+k_proj+v_proj+rope")
    assert together.bound == "memory"
    assert together.time_s < sum(op(none.decode, n).time_s for n in qkv)
    together = op(fused.prefill, "input_layernorm+q_proj+k_proj+v_proj+rope")
    assert all(op(none.prefill, n).bound == "compute" for n in qkv)
    apart = sum(op(none.prefill, n).time_s for n in qkv)
    assert apart == pytest.approx(sum(op(none.prefill, n).flops for n in qkv) / peak, rel=1e-12)
    elementwise = op(none.prefill, "input_layernorm").flops + op(none.prefill, "rope").flops
    assert together.bound == "compute"
    assert together.time_s == pytest.approx(apart + elementwise / peak, rel=1e-12)


def test_operators_of_different_counts_are_not_fused():
    # A MoE's routing (count 3) and the experts fuse among themselves; nothing crosses layers.
    model = small_moe()
    fused = analyze(model, DEVICE, batch_size=4, prompt_len=64, gen_len=0, fusion="aggressive")
    assert all(o.count in (1, 3) for o in fused.decode.ops)
    assert any("experts.act_fn" in o.name and "+" in o.name for o in fused.decode.ops)
    assert fused.model["params_total"] == analyze(model, DEVICE, gen_len=0).model["params_total"]


def test_graph_edges_follow_the_fused_operators():
    from llm_roofline.api import analyze_many

    a = analyze_many(llama(L=2), DEVICE, batch_size=1, prompt_len=16, gen_len=0, fusion="elementwise",
                     flash_attention=True)
    t = a.decode.table
    names = set(t.names)
    assert all(src in names or src == "layer_input" for inputs in t.inputs for src in inputs)
    attention = t.names.index("fused_attention")
    assert set(t.inputs[attention]) == {"input_layernorm+q_proj+rope", "input_layernorm+k_proj+rope",
                                        "input_layernorm+v_proj"}


def test_calibrated_fixed_cost_is_paid_once_per_fused_kernel():
    # Under the calibrated efficiency model each kernel has a fitted fixed cost: a fused group pays its
    # host product's, and the absorbed elementwise kernels' fixed costs disappear.
    plain = analyze("llama-2-7b", "h100", efficiency="calibrated", gen_len=0)
    fused = analyze("llama-2-7b", "h100", efficiency="calibrated", gen_len=0, fusion="elementwise")
    absorbed: set[str] = set()
    for o in fused.decode.ops:
        members = o.name.split("+")
        if len(members) == 1:
            continue
        host = next(m for m in members if op(plain.decode, m).kind == "matmul")
        assert o.fixed_time_s == op(plain.decode, host).fixed_time_s
        absorbed |= {m for m in members if op(plain.decode, m).kind != "matmul"}  # a shared norm once
    fixed = lambda r: sum(o.fixed_time_s * o.count for o in r.decode.ops)  # noqa: E731
    saved = sum(op(plain.decode, m).fixed_time_s * op(plain.decode, m).count for m in absorbed)
    assert saved > 0 and fixed(plain) - fixed(fused) == pytest.approx(saved, rel=1e-9)
