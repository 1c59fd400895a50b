"""The calibrated setting with the newer layer types and with several devices: every operator has a
kernel class, communication operators keep their collective model's time (its fitted curves are the
collectives' calibration: nothing is applied on top), and the decode sums over steps stay exact
against a step-by-step loop for chunked attention and for pipelines."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.api import analyze_many
from llm_roofline.efficiency.features import kernel_classes
from llm_roofline.errors import DeploymentError

from conftest import llama, llama4_like, small_deepseek_v4, small_dsa, small_linear_hybrid, small_nemotron_h

H100, DGX = "h100-sxm", "dgx-h100"
LLAMA = llama("tiny", D=512, L=4, N=8, K=8, F=1024, V=2000)


@pytest.mark.parametrize("make", [small_dsa, small_linear_hybrid, small_nemotron_h, small_deepseek_v4],
                         ids=lambda f: f.__name__)
def test_new_mixers_have_kernel_classes(make):
    """Projections and matmuls (compute role 'weights') are GEMM / BMM / MoE kernels, attention cores
    attention or MLA kernels (DSA's sparse core: MLA); the rest (scans, convs, norms) elementwise."""
    a = analyze_many(make(), H100, efficiency="calibrated", batch_size=2, prompt_len=64, gen_len=8,
                     flash_attention=True)
    for costs in (a.prefill, a.decode):
        t = costs.table
        for name, role, shape in zip(t.names, t.compute, t.shapes, strict=True):
            cls = str(kernel_classes(shape, 1)[0])
            if role == "weights":
                assert cls in ("gemm", "bmm", "moe"), (name, cls)
            elif name.endswith("fused_attention") or name.endswith("_attention"):
                assert cls.split("_")[0] in ("attention", "mla"), (name, cls)
            if name.startswith("indexer.scores"):
                assert cls == "bmm", name
            if name in ("selective_scan", "ssd_scan", "gated_delta_rule", "conv1d"):
                assert cls == "elementwise", name
        assert (costs.time_s >= costs.roofline_time_s * (1 - 1e-12)).all()
    if make is small_dsa:
        core = a.decode.table.names.index("fused_attention")
        assert a.decode.table.shapes[core]["kernel"] == "mla"


def test_collectives_keep_their_model_time():
    fitted = lr.analyze(LLAMA, DGX, tp=8, efficiency="hardware", gen_len=4)
    calibrated = lr.analyze(LLAMA, DGX, tp=8, efficiency="calibrated", gen_len=4)
    assert calibrated.parallelism["collectives"]["mode"] == "fitted"  # calibrated implies the measured curves
    comm = {o.name: o for o in fitted.decode.ops if o.kind == "communication"}
    ops = [o for o in calibrated.decode.ops if o.kind == "communication"]
    assert {o.name for o in ops} == set(comm) and ops
    for op in ops:
        assert op.link_time_s == pytest.approx(comm[op.name].link_time_s)  # the same collective model
        assert op.time_s == pytest.approx(max(op.link_time_s, op.roofline_time_s))
        assert op.efficiency == 1.0 and op.fixed_time_s == 0.0
        assert "collective all_" in op.efficiency_source and "no kernel efficiency" in op.efficiency_source
    assert all("collective" not in o.efficiency_source for o in calibrated.decode.ops if o.kind != "communication")


def test_chunked_attention_sum_matches_a_step_by_step_loop():
    """Llama 4's chunked layers (chunk 16) under calibrated curves: the quadrature over chunk ranges against
    the sum of independently analysed steps, across several chunk boundaries."""
    model = llama4_like(chunk=16)
    for P, G in ((5, 60), (30, 7), (16, 33)):
        total = analyze_many(model, H100, efficiency="calibrated", prompt_len=P, gen_len=G, batch_size=8,
                             flash_attention=True).generation.decode_s[0]
        steps = analyze_many(model, H100, efficiency="calibrated", prompt_len=P, batch_size=8, flash_attention=True,
                             kv_len=np.arange(P + 1, P + G + 1))
        assert total == pytest.approx(steps.decode_total.time_s.sum(), rel=1e-4)


def test_the_step_at_one_kv_length_is_the_engines_decode_step_there():
    """efficiency/steps.decode_step_times (the curves at single steps, which the pipeline's switch search
    evaluates) against the engine's own decode step built at each KV length: a sliding window (300) and
    chunked attention (16), for one step per scenario and for several at once."""
    from llm_roofline.efficiency.steps import decode_step_times

    S = np.arange(1, 700, 7)
    for model, kw in ((llama("windowed", D=512, L=4, N=8, K=2, F=1024, V=2000, window=300), {}),
                      (llama4_like(chunk=16), dict(flash_attention=True))):
        a = analyze_many(model, H100, efficiency="calibrated", kv_len=S, batch_size=8, prompt_len=10, **kw)
        steps = decode_step_times(a.decode_at0, a.decode_at1, a.scenario, a.efficiency, S)
        np.testing.assert_allclose(steps, a.decode.time_s, rtol=1e-12)
        several = decode_step_times(a.decode_at0, a.decode_at1, a.scenario, a.efficiency, np.stack([S, S + 1]))
        assert several.shape == (2, *a.decode.time_s.shape) and np.array_equal(several[0], steps)
        assert (several[1] != steps).any()


@pytest.mark.parametrize("deployment", [dict(tp=2, pp=2), dict(pp=2, micro_batches=1), dict(pp=3),
                                        dict(pp=3, micro_batches=2)])
def test_pipeline_sum_matches_a_step_by_step_loop(deployment):
    """pp = 2 or 3 (4 layers: 2 + 2 or 2 + 1 + 1) with one micro-batch, as many as stages or fewer under
    calibrated curves: the deployment's decode time against its reported step at every KV length, summed
    (the period's winner fixed over the generation, so the quadrature's sums add up exactly)."""
    P, G = 100, 40
    total = analyze_many(LLAMA, DGX, efficiency="calibrated", prompt_len=P, gen_len=G, batch_size=8, **deployment)
    steps = analyze_many(LLAMA, DGX, efficiency="calibrated", prompt_len=P, batch_size=8,
                         kv_len=np.arange(P + 1, P + G + 1), **deployment)
    assert total.parallel.decode_s[0] == pytest.approx(steps.parallel.decode_step_s.sum(), rel=1e-4)


def test_overlap_under_calibrated_is_a_clear_error():
    with pytest.raises(DeploymentError, match="calibrated with overlap"):
        lr.analyze(LLAMA, DGX, tp=2, pp=2, overlap=True, efficiency="calibrated", gen_len=4)


@pytest.mark.parametrize("model", ["llama-3.1-8b", "mixtral-8x7b", "deepseek-v2-lite", "gemma-2-9b"])
def test_no_calibrated_decode_step_falls_as_the_kv_length_grows(model):
    """What the pipeline's search for a switching step relies on (parallel/steps.py, Curves): with the
    shipped curves every operator's calibrated decode step at KV lengths 1 .. 32,768 is at least the
    one before (A100 / H100 / B200, three engines, flash attention on and off, batch 1 .. 512), and
    at batch 512 the operators that read the KV cache take more than twice as long at the longest KV length as at
    the shortest (the check sees steps that change)."""
    from llm_roofline.efficiency.steps import decode_step_times, kv_constant_rows

    S = np.unique(np.geomspace(1, 32768, 300).round())
    for device, engine, flash in itertools.product(("a100-sxm", "h100-sxm", "b200-sxm"),
                                                   ("generic", "trtllm", "hf-eager"), (True, False)):
        a = analyze_many(model, device, efficiency="calibrated", engine=engine, batch_size=[1, 2, 8, 32, 128, 512],
                         prompt_len=1, gen_len=1, flash_attention=flash)
        t = decode_step_times(a.decode_at0, a.decode_at1, a.scenario, a.efficiency,
                              np.repeat(S[:, None], a.scenario.size, axis=1))   # [steps, ops, scenarios]
        assert (t[1:] >= t[:-1]).all(), (device, engine, flash)
        grows = ~kv_constant_rows(a.decode_at0, a.decode_at1)
        assert t[-1, grows, -1].sum() > 2 * t[0, grows, -1].sum(), (device, engine, flash)  # batch 512
