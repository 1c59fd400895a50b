"""Unstructured and 2:4 sparsity, structured pruning and low-rank factorization (techniques/
sparsity.py, structured.py, low_rank.py), by hand for Llama-2-7B."""

from __future__ import annotations

import pytest

from llm_roofline import analyze
from llm_roofline.errors import ScenarioError
from llm_roofline.hardware.spec import Hardware

from conftest import llama, op, small_moe

D, F, L, V = 4096, 11008, 32, 32000
SPARSE = Hardware(name="sparse-tc", memory_bandwidth_bytes_per_s=2e12, memory_capacity_bytes=80e9,
                  peak_flops_per_s={"fp16": 300e12}, sparse_2to4=True)
DENSE = Hardware(name="no-sparse-tc", memory_bandwidth_bytes_per_s=2e12, memory_capacity_bytes=80e9,
                 peak_flops_per_s={"fp16": 300e12})


def _q(device=SPARSE, stage="decode", **kw):
    r = analyze(llama(), device, batch_size=1, prompt_len=1024, gen_len=0, **kw)
    return op(getattr(r, stage), "q_proj"), r


def test_dense_storage_changes_nothing():
    a, ra = _q()
    b, rb = _q(weight_sparsity=0.7, sparse_format="dense")
    assert (a.flops, a.bytes, a.time_s) == (b.flops, b.bytes, b.time_s)
    assert ra.memory.total_bytes == rb.memory.total_bytes


def test_csr_and_bitmap_storage_by_hand():
    # s = 0.75: CSR keeps 25% of the values (2 bytes) with a 16-bit column index each: 1 byte per
    # dense element; a bitmap keeps the values and 1 bit per element: 0.5 + 0.125 bytes.
    act = 2 * D * 2  # x read and y written, fp16
    csr, _ = _q(weight_sparsity=0.75, sparse_format="csr")
    bitmap, _ = _q(weight_sparsity=0.75, sparse_format="bitmap")
    assert csr.weight_bytes == D * D * 1.0
    assert bitmap.weight_bytes == D * D * (0.25 * 2 + 1 / 8)
    assert csr.bytes == D * D + act
    # a sparse kernel performs the 25% of the multiply-adds that are not zero
    assert csr.flops == 2 * D * D * 0.25
    eight, _ = _q(weight_sparsity=0.75, sparse_format="csr", sparse_index_bits=8)
    assert eight.weight_bytes == D * D * 0.25 * (2 + 1)


def test_sparse_kernel_efficiency_scales_the_peak():
    q, _ = _q(stage="prefill", weight_sparsity=0.5, sparse_format="csr", sparse_efficiency=0.25)
    assert q.peak_flops_per_s == pytest.approx(0.25 * 300e12)
    assert q.time_s == pytest.approx(max(q.flops / (0.25 * 300e12), q.bytes / 2e12))


def test_2to4_on_sparse_tensor_cores_and_without():
    # Half the values + 2 bits per kept value: 0.5 * 2 + 0.5 * 0.25 = 1.125 bytes per element. Sparse
    # tensor cores do half the multiply-adds at the dense rate (= all of them at the 2x sparse peak);
    # without them the matrix is multiplied densely.
    with_tc, _ = _q(SPARSE, "prefill", sparse_format="2:4")
    without, _ = _q(DENSE, "prefill", sparse_format="2:4")
    dense, _ = _q(DENSE, "prefill")
    assert with_tc.weight_bytes == without.weight_bytes == D * D * 1.125
    assert with_tc.flops == dense.flops / 2 and without.flops == dense.flops
    assert with_tc.time_s == pytest.approx(dense.time_s / 2)
    with pytest.raises(ScenarioError, match="2:4"):
        _q(sparse_format="2:4", weight_sparsity=0.3)


def test_sparsity_spares_embeddings_and_lm_head_by_default():
    _, r = _q(weight_sparsity=0.5, sparse_format="bitmap")
    _, plain = _q()
    for name in ("embed_tokens", "lm_head"):
        assert op(r.decode, name).weight_bytes == op(plain.decode, name).weight_bytes
    only_mlp = analyze(llama(), SPARSE, gen_len=0, weight_sparsity=0.5, sparse_format="bitmap", sparse_modules="mlp")
    assert op(only_mlp.decode, "q_proj").weight_bytes == D * D * 2
    assert op(only_mlp.decode, "down_proj").weight_bytes == D * F * (0.5 * 2 + 1 / 8)
    with pytest.raises(ScenarioError, match="matches no operator"):
        analyze(llama(), SPARSE, weight_sparsity=0.5, sparse_format="csr", sparse_modules="mlpp")


def test_structured_pruning_gives_the_smaller_models_parameter_count():
    # Llama-2-7B has 2*V*D + L*(4D^2 + 3DF + 2D) + D = 6,738,415,616 parameters. A quarter of the layers
    # removed: 24 layers; half the heads: q, k, v, o of 2048 wide; 30% of the MLP: F' = round(0.7 F) = 7706.
    layer = lambda attn, f: 4 * D * attn + 3 * D * f + 2 * D  # noqa: E731
    ends = 2 * V * D + D
    cases = {"prune_layers": (0.25, ends + 24 * layer(D, F)), "prune_heads": (0.5, ends + L * layer(2048, F)),
             "prune_intermediate": (0.3, ends + L * layer(D, 7706))}
    for option, (fraction, params) in cases.items():
        r = analyze(llama(), SPARSE, gen_len=0, **{option: fraction})
        assert r.model["params_total"] == params, option
        assert r.optimizations["params_before_pruning"] == 6_738_415_616
    assert analyze(llama(), SPARSE, gen_len=0, prune_layers=0.25).model["num_layers"] == 24


def test_structured_pruning_keeps_the_mix_of_layer_kinds():
    from llm_roofline.techniques.optimizations import Optimizations
    from llm_roofline.techniques.structured import prune_model

    from conftest import small_mla

    model = small_mla()  # 1 dense + 3 MoE layers
    pruned = prune_model(model, Optimizations(prune_layers=0.5, prune_intermediate=0.5))
    assert [g.count for g in pruned.layer_groups] == [1, 1]  # 2 of 4, largest remainders
    moe = pruned.layer_groups[1].layer.ffn
    assert (moe.expert_intermediate_size, moe.shared_intermediate_size) == (16, 32)


def test_low_rank_factorization_by_hand():
    # o_proj (4096 x 4096) at rank 512: two products x A (4096 -> 512) and (x A) B (512 -> 4096):
    # 2 * M * 512 * (4096 + 4096) FLOPs, 512 * 8192 weights, and the M x 512 intermediate written and read.
    M = 1024
    r = analyze(llama(), SPARSE, batch_size=1, prompt_len=M, gen_len=0, low_rank={"o_proj": 512})
    first, second = op(r.prefill, "o_proj.lr_in"), op(r.prefill, "o_proj")
    assert first.flops + second.flops == 2 * M * 512 * (2 * D)
    assert first.weight_bytes + second.weight_bytes == 512 * 2 * D * 2
    assert first.act_write_bytes == second.act_read_bytes == M * 512 * 2
    assert r.model["params_total"] == 6_738_415_616 - L * (D * D - 512 * 2 * D)
    # a ratio of the full rank: 0.25 * min(4096, 11008) = 1024 for the MLP's matrices
    ratio = analyze(llama(), SPARSE, gen_len=0, low_rank="mlp=0.25")
    assert op(ratio.decode, "down_proj").weight_bytes == 1024 * D * 2
    assert op(ratio.decode, "down_proj.lr_in").weight_bytes == F * 1024 * 2


def test_low_rank_of_experts_and_errors():
    r = analyze(small_moe(), SPARSE, batch_size=2, prompt_len=8, gen_len=0, low_rank={"experts": 16})
    assert r.model["params_total"] < analyze(small_moe(), SPARSE, gen_len=0).model["params_total"]
    assert any(o.name.endswith(".lr_in") and o.name.startswith("experts.") for o in r.decode.ops)
    with pytest.raises(ScenarioError, match="rank"):
        analyze(llama(), SPARSE, low_rank={"mlp": 1.5})
    with pytest.raises(ScenarioError, match="MODULE=RANK"):
        analyze(llama(), SPARSE, low_rank="mlp")
