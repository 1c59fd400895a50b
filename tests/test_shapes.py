"""Kernel shapes recorded by the primitives (OpTable.shapes), checked against the operators' own
FLOPs: a GEMM's 2*M*N*K, an attention kernel's heads and lengths, an MoE layer's routed tokens."""

from __future__ import annotations

import numpy as np

from llm_roofline.graph import build_ops
from llm_roofline.scenario import Scenario

from conftest import llama, small_mla, small_moe


def _table(model, stage="prefill", flash=True, **kw):
    sc = Scenario.build(batch_size=[1, 3], prompt_len=[16, 40], flash_attention=flash, **kw)
    T = sc.prompt_len if stage == "prefill" else np.ones(2)
    return build_ops(model, sc, stage, T=T, S=sc.prompt_len), sc


def test_gemm_shapes_give_the_flops():
    table, sc = _table(llama())
    for name, shape, flops in zip(table.names, table.shapes, table.flops, strict=True):
        if shape is not None and shape["kernel"] == "gemm":
            assert np.allclose(2 * shape["m"] * shape["n"] * shape["k"], flops), name
    q = table.shapes[table.names.index("q_proj")]
    assert np.array_equal(q["m"], sc.batch_size * sc.prompt_len) and q["n"] == q["k"] == 4096


def test_attention_and_bmm_shapes():
    table, sc = _table(llama(N=32, K=8))
    fused = table.shapes[table.names.index("fused_attention")]
    assert fused["kernel"] == "attention" and fused["heads"] == 32 and fused["kv_heads"] == 8
    assert np.array_equal(fused["B"], sc.batch_size) and np.array_equal(fused["S"], sc.prompt_len)
    naive, _ = _table(llama(), flash=False)
    qk = naive.shapes[naive.names.index("qk_matmul")]
    assert qk["kernel"] == "bmm"
    assert np.allclose(2 * qk["batch"] * qk["m"] * qk["n"] * qk["k"], naive.flops[naive.names.index("qk_matmul")])
    assert naive.shapes[naive.names.index("softmax")] is None  # elementwise


def test_mla_and_moe_shapes():
    table, _ = _table(small_mla(), "decode")
    assert table.shapes[table.names.index("fused_attention")]["kernel"] == "mla"
    absorb = table.shapes[table.names.index("q_absorb")]
    assert absorb["kernel"] == "bmm" and absorb["batch"] == 4
    moe, sc = _table(small_moe())
    gate = moe.shapes[moe.names.index("experts.gate_proj")]
    routed = 2 * gate["m"] * gate["top_k"] * gate["n"] * gate["k"]
    assert gate["kernel"] == "moe" and np.allclose(routed, moe.flops[moe.names.index("experts.gate_proj")])
    assert (gate["distinct"] <= gate["experts"]).all()
