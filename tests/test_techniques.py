"""Early exit, contextual sparsity and KV eviction: each formula against a hand-derived value, and the
properties every technique keeps (off = today's numbers; no operator beats its roofline)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llm_roofline as lr
from llm_roofline.errors import ScenarioError, UnknownNameError
from llm_roofline.techniques.early_exit import EarlyExit
from llm_roofline.techniques.options import early_exit_setting, eviction_setting, sparsity_setting
from llm_roofline.techniques.sparsity import coverage

from conftest import gpt_oss_like, llama, op, small_hybrid, small_mla, small_moe

# Llama-2-7B: one layer has 4*4096^2 + 3*4096*11008 + 2*4096 = 202,383,360 parameters (2 bytes each at fp16).
LAYER_BYTES = 2 * 202_383_360
LAYERS = 32


def _layer_weight_bytes(stage) -> float:
    ends = {"embed_tokens", "norm", "lm_head"}
    return sum(o.weight_bytes * o.count for o in stage.ops if o.name not in ends)


# --- early exit ----------------------------------------------------------------------------------------------

def test_layer_skipping_scales_weight_bytes_by_f_exactly(llama2_7b, a6000):
    """Every token runs f = 0.5 of the layers, no K/V for the skipped ones, no classifier: each layer
    operator's FLOPs and bytes are halved exactly; the embedding row, final norm and lm_head are not."""
    plain = lr.analyze(llama2_7b, a6000, prompt_len=512)
    r = lr.analyze(llama2_7b, a6000, prompt_len=512,
                   early_exit={"fraction": 0.5, "kv_fill": "none", "classifier": "none"})
    assert _layer_weight_bytes(r.decode) == 0.5 * LAYERS * LAYER_BYTES
    assert _layer_weight_bytes(plain.decode) == LAYERS * LAYER_BYTES
    for name in ("embed_tokens", "norm", "lm_head"):
        assert op(r.decode, name).bytes == op(plain.decode, name).bytes
    for o, p in zip(r.decode.ops, plain.decode.ops, strict=True):
        if o.name not in ("embed_tokens", "norm", "lm_head"):
            assert o.flops == 0.5 * p.flops and o.bytes == 0.5 * p.bytes
    assert r.prefill.total.time_s == plain.prefill.total.time_s  # prefill runs every layer


def test_kv_propagation_keeps_the_kv_path_whole(llama2_7b, a6000):
    """CALM's state propagation: the input norm, k_proj and v_proj (the path to the KV write) run for every
    token at every layer; q_proj, attention, o_proj and the MLP scale by f."""
    plain = lr.analyze(llama2_7b, a6000)
    r = lr.analyze(llama2_7b, a6000, early_exit={"fraction": 0.25, "classifier": "none"})
    for name in ("input_layernorm", "k_proj", "v_proj"):
        assert op(r.decode, name).flops == op(plain.decode, name).flops
    for name in ("q_proj", "o_proj", "gate_proj", "down_proj", "qk_matmul"):
        assert op(r.decode, name).flops == 0.25 * op(plain.decode, name).flops


def test_exit_distribution_batch_union_by_hand(llama2_7b, a6000):
    """Exits {0.5: 1/2, 1.0: 1/2}: f = 0.75. With M tokens the weights read are w(M) = 0.5 * 1 + 0.5 *
    (1 - (1/2)^M): w(1) = 0.75, w(2) = 0.875, w(8) = 0.998046875."""
    ee = EarlyExit(distribution=((0.5, 0.5), (1.0, 0.5)))
    assert ee.mean_fraction == 0.75
    np.testing.assert_allclose(ee.weight_fraction(np.array([1, 2, 8])), [0.75, 0.875, 0.998046875], rtol=1e-15)
    for batch, w in ((1, 0.75), (2, 0.875)):
        r = lr.analyze(llama2_7b, a6000, batch_size=batch,
                       early_exit={"distribution": {0.5: 0.5, 1.0: 0.5}, "kv_fill": "none", "classifier": "none"})
        assert _layer_weight_bytes(r.decode) == pytest.approx(w * LAYERS * LAYER_BYTES, rel=1e-12)


def test_exit_classifiers_by_hand(llama2_7b, a6000):
    """A linear D -> 1 classifier per layer (4096 parameters, 32 of them) or the lm_head at every layer run
    (CALM's softmax response: 2*4096*32000 FLOPs per token and layer, weights shared)."""
    lin = lr.analyze(llama2_7b, a6000, early_exit={"fraction": 1.0, "classifier": "linear"})
    c = op(lin.decode, "exit_classifier")
    assert (c.count, c.flops, c.weight_bytes) == (32, 2 * 4096, 4096 * 2)
    assert lin.memory.weights_bytes == lr.analyze(llama2_7b, a6000).memory.weights_bytes + 32 * 4096 * 2
    soft = lr.analyze(llama2_7b, a6000, early_exit={"fraction": 0.5, "classifier": "lm_head"})
    c = op(soft.decode, "exit_classifier")
    assert c.flops == 0.5 * 2 * 4096 * 32000
    assert soft.memory.weights_bytes == lr.analyze(llama2_7b, a6000).memory.weights_bytes


def test_early_exit_on_hybrid_keeps_the_ssm_state_path(a6000):
    """A Mamba layer's whole mixer feeds its recurrent state: with state propagation it runs for every token."""
    plain = lr.analyze(small_hybrid(), a6000)
    r = lr.analyze(small_hybrid(), a6000, early_exit={"fraction": 0.5, "classifier": "none"})
    for name in ("in_proj", "conv1d", "selective_scan"):
        assert op(r.decode, name).flops == op(plain.decode, name).flops


# --- contextual sparsity --------------------------------------------------------------------------------------

def test_sparsity_at_batch_one_reads_p_of_the_mlp_rows(llama2_7b, a6000):
    """B = 1, p = 0.25: gate/up/down read and compute a quarter of their rows; the up outputs and down's
    input are a quarter too; the predictor (D -> 1024 -> F per layer) runs dense."""
    plain = lr.analyze(llama2_7b, a6000)
    r = lr.analyze(llama2_7b, a6000, sparsity={"mlp": 0.25})
    for name in ("gate_proj", "up_proj", "down_proj", "act_fn"):
        assert op(r.decode, name).flops == 0.25 * op(plain.decode, name).flops
    for name in ("gate_proj", "up_proj", "down_proj"):
        assert op(r.decode, name).weight_bytes == 0.25 * op(plain.decode, name).weight_bytes
    assert op(r.decode, "gate_proj").act_read_bytes == op(plain.decode, "gate_proj").act_read_bytes
    assert op(r.decode, "down_proj").act_write_bytes == op(plain.decode, "down_proj").act_write_bytes
    down = op(r.decode, "sparsity_predictor.mlp.down")
    up = op(r.decode, "sparsity_predictor.mlp.up")
    assert (down.count, down.flops, up.flops) == (32, 2 * 4096 * 1024, 2 * 1024 * 11008)
    assert r.memory.weights_bytes - plain.memory.weights_bytes == 32 * 2 * (4096 * 1024 + 1024 * 11008)


def test_sparsity_union_over_the_batch(llama2_7b, a6000):
    """B = 4, p = 0.25: 1 - 0.75^4 = 0.68359375 of the rows are read; FLOPs stay p of the dense ones."""
    assert coverage(0.25, 4) == 0.68359375
    plain = lr.analyze(llama2_7b, a6000, batch_size=4)
    r = lr.analyze(llama2_7b, a6000, batch_size=4, sparsity={"mlp": 0.25, "predictor_rank": 0})
    assert op(r.decode, "up_proj").weight_bytes == 0.68359375 * op(plain.decode, "up_proj").weight_bytes
    assert op(r.decode, "up_proj").flops == 0.25 * op(plain.decode, "up_proj").flops
    big = lr.analyze(llama2_7b, a6000, batch_size=64, sparsity={"mlp": 0.25, "predictor_rank": 0})
    assert op(big.decode, "up_proj").weight_bytes == pytest.approx(op(plain.decode, "up_proj").weight_bytes, rel=1e-7)


def test_head_sparsity_by_hand(llama2_7b, a6000):
    """p_heads = 0.5, MHA (N = K): q_proj and o_proj half their rows and FLOPs, the attention core half its
    FLOPs and of the KV cache it reads (1 - 0.5^1), k_proj and v_proj dense."""
    plain = lr.analyze(llama2_7b, a6000)
    r = lr.analyze(llama2_7b, a6000, sparsity={"heads": 0.5, "predictor_rank": 0})
    for name in ("q_proj", "o_proj"):
        assert op(r.decode, name).weight_bytes == 0.5 * op(plain.decode, name).weight_bytes
    assert op(r.decode, "qk_matmul").kv_read_bytes == 0.5 * op(plain.decode, "qk_matmul").kv_read_bytes
    assert op(r.decode, "k_proj").bytes == op(plain.decode, "k_proj").bytes
    # GQA, N/K = 4: a KV head is read when any of its 4 query heads is: 1 - 0.5^4 = 0.9375
    g = llama(name="gqa", D=1024, L=2, N=16, K=4, F=2048, V=1000)
    plain, r = lr.analyze(g, a6000), lr.analyze(g, a6000, sparsity={"heads": 0.5, "predictor_rank": 0})
    assert op(r.decode, "qk_matmul").kv_read_bytes == 0.9375 * op(plain.decode, "qk_matmul").kv_read_bytes


def test_sparsity_leaves_routed_experts_and_prefill_alone(a6000):
    plain = lr.analyze(small_moe(shared=64), a6000)
    r = lr.analyze(small_moe(shared=64), a6000, sparsity={"mlp": 0.5})
    assert op(r.decode, "experts.up_proj").bytes == op(plain.decode, "experts.up_proj").bytes
    assert op(r.decode, "shared_experts.up_proj").flops == 0.5 * op(plain.decode, "shared_experts.up_proj").flops
    assert r.prefill.total.time_s == plain.prefill.total.time_s


# --- KV eviction ------------------------------------------------------------------------------------------

def test_eviction_is_a_window_at_the_budget(llama2_7b, a6000):
    """Budget 512, prompt 2048, 256 generated: the decode step reads 512 keys as a model with a 512-token
    sliding window does; the cache holds 511 tokens per layer (32 layers * 2*32*128 * 2 bytes each)."""
    windowed = llama(window=512)
    r = lr.analyze(llama2_7b, a6000, prompt_len=2048, gen_len=256, kv_eviction=512)
    w = lr.analyze(windowed, a6000, prompt_len=2048, gen_len=256)
    assert r.decode.total.time_s == w.decode.total.time_s
    assert r.generation.tpot_s == w.generation.tpot_s
    assert r.memory.kv_cache_bytes == 511 * 32 * 2 * 32 * 128 * 2
    assert r.memory.max_batch_size > lr.analyze(llama2_7b, a6000, prompt_len=2048, gen_len=256).memory.max_batch_size


def test_h2o_and_snapkv_let_the_prompt_attend_in_full(llama2_7b, a6000):
    plain = lr.analyze(llama2_7b, a6000, prompt_len=2048, flash_attention=True)
    stream = lr.analyze(llama2_7b, a6000, prompt_len=2048, flash_attention=True,
                        kv_eviction={"method": "streaming", "budget": 256})
    h2o = lr.analyze(llama2_7b, a6000, prompt_len=2048, flash_attention=True,
                     kv_eviction={"method": "h2o", "budget": 256})
    snap = lr.analyze(llama2_7b, a6000, prompt_len=2048, kv_eviction={"method": "snapkv", "budget": 256})
    assert stream.prefill.total.flops < plain.prefill.total.flops  # windowed prompt (FlashAttention skips pairs)
    assert h2o.prefill.total.flops == plain.prefill.total.flops
    # H2O's scores: one fp32 per cached token and head, read and written, 256 tokens x 32 heads, per layer
    s = op(h2o.decode, "h2o_scores")
    assert (s.count, s.act_read_bytes, s.flops) == (32, 256 * 32 * 4, 2 * 256 * 32)
    # SnapKV's selection: 32 queries x 2048 keys x 32 heads, 2*128 + 5 FLOPs per pair
    sel = op(snap.prefill, "snapkv_select")
    assert sel.flops == 32 * 2048 * 32 * (2 * 128 + 5)


def test_eviction_combines_with_kv_quantization(llama2_7b, a6000):
    r8 = lr.analyze(llama2_7b, a6000, prompt_len=4096, kv_bits=8, group_size=0, kv_eviction=1024)
    r16 = lr.analyze(llama2_7b, a6000, prompt_len=4096, kv_eviction=1024)
    assert r8.memory.kv_cache_bytes == 0.5 * r16.memory.kv_cache_bytes


def test_eviction_leaves_latent_and_sliding_layers(a6000):
    r = lr.analyze(small_mla(), a6000, kv_eviction=64, prompt_len=256)
    assert any("non-attention layers" in n for n in r.techniques.notes)
    g = lr.analyze(gpt_oss_like(), a6000, kv_eviction=1024, prompt_len=2048)  # its W = 32 layers keep theirs
    assert g.decode.total.time_s > 0


# --- inputs ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, message", [
    ({"fraction": 0}, "above 0"), ({"fraction": 1.5}, "fraction"), ({"distribution": {0.5: 0.4}}, "sum to 1"),
    ({"fraction": 0.5, "kv_fill": "maybe"}, "kv_fill"), ({"fraction": 0.5, "classifier": "oracle"}, "classifier"),
    ({"fraction": 0.5, "distribution": {1: 1}}, "one of"), ({"depth": 0.5}, "unknown setting"),
])
def test_early_exit_errors(value, message):
    with pytest.raises(ScenarioError, match=message):
        early_exit_setting(value)


@pytest.mark.parametrize("value, message", [({"mlp": 0}, "above 0"), ({"heads": 2}, "heads"),
                                            ({"mlp": 0.5, "predictor_rank": -1}, "predictor_rank"),
                                            ({"head": 0.5}, "did you mean 'heads'")])
def test_sparsity_errors(value, message):
    with pytest.raises(ScenarioError, match=message):
        sparsity_setting(value)


def test_eviction_errors():
    with pytest.raises(ScenarioError, match="budget"):
        eviction_setting(1)
    with pytest.raises(ScenarioError, match="sinks"):
        eviction_setting({"budget": 8, "sinks": 8})
    with pytest.raises(UnknownNameError, match="snapkv"):
        eviction_setting("snapk")


def test_speculative_and_early_exit_do_not_combine(llama2_7b, a6000):
    with pytest.raises(ScenarioError, match="do not combine"):
        lr.analyze(llama2_7b, a6000, speculative="eagle2", early_exit=0.5)


# --- properties --------------------------------------------------------------------------------------------

def _plain_numbers(report) -> dict:
    d = report.to_dict()
    d.pop("techniques")
    return d


@pytest.mark.parametrize("model_fn", [llama, small_moe, small_hybrid, small_mla, gpt_oss_like])
def test_neutral_settings_equal_todays_numbers(model_fn, a6000):
    """Each table transform at its neutral setting (run every layer, every neuron and head, a budget beyond
    the sequence) gives today's report exactly (the same floats, not approximately)."""
    m = model_fn()
    kw = dict(batch_size=3, prompt_len=200, gen_len=50)
    plain = _plain_numbers(lr.analyze(m, a6000, **kw))
    for technique in ({"early_exit": {"fraction": 1.0, "kv_fill": "none", "classifier": "none"}},
                      {"sparsity": {"mlp": 1.0, "heads": 1.0, "predictor_rank": 0}},
                      {"kv_eviction": {"method": "streaming", "budget": 1000}}):
        got = _plain_numbers(lr.analyze(m, a6000, **kw, **technique))
        if "kv_eviction" in technique:  # the budget is a window: the attention operators carry the window's name
            # (.sliding) and may be summed in another order (gpt-oss), so the totals agree to the last bits
            for a, b in ((got["generation"], plain["generation"]), (got["memory"], plain["memory"]),
                         (got["prefill"]["total"], plain["prefill"]["total"]),
                         (got["decode"]["total"], plain["decode"]["total"])):
                for key, value in b.items():
                    same = value == pytest.approx(a[key], rel=1e-14) if isinstance(value, float) else value == a[key]
                    assert same, key
            continue
        assert got == plain, technique


TECHNIQUES = st.one_of(
    st.builds(lambda f: {"early_exit": f}, st.floats(0.05, 1.0)),
    st.builds(lambda p, h: {"sparsity": {"mlp": p, "heads": h}}, st.floats(0.05, 1.0), st.floats(0.05, 1.0)),
    st.builds(lambda b: {"kv_eviction": b}, st.integers(16, 4096)),
    st.sampled_from([{"speculative": p} for p in ("eagle3", "eagle2", "medusa2", "mtp", "lookahead", "jacobi")]),
    st.builds(lambda a, k: {"speculative": {"method": "draft", "draft_model": llama(name="d", D=512, L=2, N=8, K=8,
                                                                                   F=1024, V=32000),
                                            "k": k, "alpha": a}}, st.floats(0, 1), st.integers(1, 8)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(technique=TECHNIQUES, batch=st.integers(1, 256), prompt=st.integers(1, 8192), gen=st.integers(1, 2048))
def test_no_operator_beats_its_roofline(llama2_7b, a6000, technique, batch, prompt, gen):
    """Every operator of every stage a technique shows (prefill, decode, verify, draft) takes at least its
    bytes over the bandwidth and its FLOPs over the peak; the generation at least the weights the decode steps
    or iterations must read, over the bandwidth."""
    r = lr.analyze(llama2_7b, a6000, batch_size=batch, prompt_len=prompt, gen_len=gen, **technique)
    stages = [r.prefill, r.decode]
    spec = r.techniques.speculative
    if spec is not None:
        stages += [spec.verify] + ([spec.draft] if spec.draft else [])
    for stage in stages:
        for o in stage.ops:
            assert o.time_s >= o.bytes / 768e9 * (1 - 1e-12)
            assert o.time_s >= o.flops / o.peak_flops_per_s * (1 - 1e-12)
            assert min(o.flops, o.bytes, o.weight_bytes, o.kv_cache_bytes, o.activation_bytes) >= 0
    steps = gen / spec.tokens_per_iteration if spec else gen
    weights = (spec.verify if spec else r.decode).total.weight_bytes
    assert r.generation.tpot_s * gen >= np.floor(steps) * weights / 768e9 * (1 - 1e-9)


def test_early_exit_and_pipelines_stay_on_one_device():
    """Speculative decoding runs on tensor-parallel deployments (test_techniques_parallel.py); early exit
    and pipeline stages are refused there, naming the field."""
    with pytest.raises(ScenarioError, match="pp"):
        lr.analyze("llama-3.1-70b", "dgx-h100", tp=4, pp=2, speculative="eagle3")
    with pytest.raises(ScenarioError, match="early_exit"):
        lr.sweep("llama-3.1-70b", "dgx-h100", tp=[1, 8], early_exit=0.5)


def test_calibrated_efficiency_takes_the_techniques():
    """Under the calibrated curves the iterations are summed by their quadrature (per token, over E)."""
    plain = lr.analyze("llama-3.1-8b", "h100-sxm", batch_size=4, efficiency="calibrated")
    r = lr.analyze("llama-3.1-8b", "h100-sxm", batch_size=4, efficiency="calibrated", speculative="eagle2")
    assert r.techniques.one_token["tpot_s"] == plain.generation.tpot_s
    assert 1.0 < r.techniques.speedup["tpot"] < 4.8
    ee = lr.analyze("llama-3.1-8b", "h100-sxm", batch_size=4, efficiency="calibrated", early_exit=0.5)
    assert ee.generation.tpot_s < plain.generation.tpot_s
