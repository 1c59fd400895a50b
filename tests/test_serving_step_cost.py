"""StepCost: the iteration cost decomposed into features must reproduce the engine exactly for uniform
batches (prefill of B prompts, a decode step of B sequences), and a chunk of T tokens at KV length S must
cost what build_ops + roofline give for that (T, S). Mixed iterations read shared weights once."""

from __future__ import annotations

import numpy as np
import pytest

from llm_roofline.engine import evaluate
from llm_roofline.graph import build_ops
from llm_roofline.hardware.spec import IDEAL, Efficiency
from llm_roofline.roofline import roofline
from llm_roofline.scenario import Scenario
from llm_roofline.serving.probes import probe_scenario
from llm_roofline.serving.step_cost import step_cost

from conftest import VARIED_MODELS, llama

B = np.array([1, 3, 16, 64])
P = np.array([7, 100, 1000, 4000])


@pytest.mark.parametrize("name", sorted(VARIED_MODELS))
@pytest.mark.parametrize("flash", [False, True])
def test_uniform_batches_reproduce_the_engine(name, flash, a6000):
    model = VARIED_MODELS[name]()
    settings = Scenario.build(flash_attention=flash)
    cost = step_cost(model, a6000, IDEAL, settings)
    engine = evaluate(model, a6000, Scenario.build(batch_size=B, prompt_len=P, flash_attention=flash), IDEAL)
    np.testing.assert_allclose(cost.time_s(cost.uniform_decode(B, P)), engine.decode_total.time_s, rtol=1e-12)
    np.testing.assert_allclose(cost.time_s(cost.chunk_features(P, P, count=B)), engine.prefill_total.time_s,
                               rtol=1e-12)


@pytest.mark.parametrize("name", ["llama", "sliding", "mla", "moe", "hybrid"])
def test_a_chunk_costs_what_the_engine_gives_at_that_length(name, a6000):
    """Chunked prefill: T new tokens at KV length S (S > T), priced by build_ops + roofline directly."""
    model = VARIED_MODELS[name]()
    settings = Scenario.build(flash_attention=True, w_bits=8, kv_bits=8)
    cost = step_cost(model, a6000, IDEAL, settings)
    T, S = np.array([1.0, 50.0, 512.0, 64.0]), np.array([9.0, 300.0, 2048.0, 5000.0])
    sc = probe_scenario(settings, np.ones(T.size))
    oracle = roofline(build_ops(model, sc, "prefill", T=T, S=S), sc, a6000, IDEAL)
    expected = (oracle.time_s * oracle.table.counts[:, None]).sum(0)
    np.testing.assert_allclose(cost.time_s(cost.chunk_features(T, S)), expected, rtol=1e-9)


def test_kernel_overhead_counts_once_per_kernel_and_occurrence(a6000):
    model, eff = llama("tiny", D=256, L=2, N=4, K=4, F=512, V=1000), Efficiency(0.8, 0.7, 5e-6)
    cost = step_cost(model, a6000, eff, Scenario.build())
    engine = evaluate(model, a6000, Scenario.build(batch_size=[2, 8], prompt_len=[64, 512]), eff)
    np.testing.assert_allclose(cost.time_s(cost.uniform_decode([2, 8], [64, 512])), engine.decode_total.time_s,
                               rtol=1e-12)


def test_a_mixed_iteration_reads_the_weights_once(a6000):
    """Llama-2-7B: q_proj in an iteration of 5 decode tokens and a 100-token chunk moves its 4096 x 4096
    weights once (2 bytes each) and the activations of all 105 tokens (4096 in, 4096 out, 2 bytes)."""
    cost = step_cost(llama(), a6000, IDEAL, Scenario.build())
    k = cost.kernels.index("q_proj")
    x = cost.uniform_decode(5, 300) + cost.chunk_features(100, 100)
    compute, memory, _ = cost.kernel_parts(x)
    bytes_moved = memory[k, 0] * cost.bandwidth_bytes_per_s
    assert bytes_moved == pytest.approx(4096 * 4096 * 2 + 105 * (4096 + 4096) * 2, rel=1e-12)
    assert compute[k, 0] * cost.peak_flops_per_s[k] == pytest.approx(2 * 105 * 4096 * 4096, rel=1e-12)
    # attention runs per group: decode and prefill kernels are separate
    assert {"decode/qk_matmul", "prefill/qk_matmul"} <= set(cost.kernels)


def test_moe_weights_follow_the_iteration_tokens(a6000):
    """Routed experts read the expected distinct experts of all tokens of the iteration: E(1 - (1 - k/E)^M),
    not the sum over the two groups."""
    model = VARIED_MODELS["moe"]()  # 8 experts, top-2, D 128, expert width 96, 3 layers
    cost = step_cost(model, a6000, IDEAL, Scenario.build())
    k = cost.kernels.index("experts.down_proj")
    x = cost.uniform_decode(3, 10) + cost.chunk_features(4, 4)  # 3 decode tokens and a 4-token chunk
    weights = cost.weight_bytes(cost.kernel_tokens(x))
    distinct = 8 * (1 - (1 - 2 / 8) ** 7)
    assert weights[k, 0] == pytest.approx(distinct * 96 * 128 * 2, rel=1e-12)
    tabulated = cost.tabulate(64)  # the simulation's lookup table gives the same bytes
    np.testing.assert_allclose(tabulated.weight_bytes(tabulated.kernel_tokens(x)), weights, rtol=1e-12)


def test_multi_device_workers_and_calibrated_curves_are_clear_errors(a6000):
    """Neither fits the iteration model's per-kernel lines (step_cost's docstring says why): each is refused
    with a message, on the API and the command line alike."""
    from llm_roofline.efficiency.model import calibrated
    from llm_roofline.errors import DeploymentError, ScenarioError

    with pytest.raises(DeploymentError, match="one device per worker"):
        step_cost(llama(), a6000, IDEAL, Scenario.build(), deployment=object())
    with pytest.raises(ScenarioError, match="calibrated kernel curves"):
        step_cost(llama(), a6000, calibrated(a6000), Scenario.build())


def test_scan_chunks_are_a_feature_of_their_own():
    """Chunked scans (gated delta rule, chunk 64; Mamba-2's SSD, its chunk_size) cost ceil(T / Q) chunks:
    the iteration cost of a prefill chunk that ends mid-scan-chunk equals the engine's prefill exactly."""
    from llm_roofline.api import load_hardware

    from conftest import small_linear_hybrid, small_nemotron_h

    device = load_hardware("h100-sxm")
    for model in (small_linear_hybrid(), small_nemotron_h()):
        cost = step_cost(model, device, IDEAL, Scenario.build(flash_attention=True))
        assert cost.scan_chunks
        for T in (1, 63, 65, 100, 257):
            sc = Scenario.build(batch_size=1, prompt_len=T, flash_attention=True)
            engine = roofline(build_ops(model, sc, "prefill", T=sc.prompt_len, S=sc.prompt_len), sc, device, IDEAL)
            expected = float((engine.time_s[:, 0] * engine.table.counts).sum())
            assert cost.time_s(cost.chunk_features(T, T))[0] == pytest.approx(expected, rel=1e-9)
