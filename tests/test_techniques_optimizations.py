"""The fast-decoding techniques combined with the compression and system optimizations: the optimizations act
on the target's builds exactly as on a plain analysis, and each combined number is checked against a table
built independently here, a hand count of weight bytes, or the analysis with one kind alone."""

from __future__ import annotations

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.errors import ScenarioError
from llm_roofline.graph import build_ops
from llm_roofline.scenario import Scenario
from llm_roofline.techniques.fusion import fuse

# Llama-2-7B: D 4096, F 11008, 32 layers; q, k, v, o are D x D (no GQA), gate, up, down D x F.
D, F, L = 4096, 11008, 32
LAYER_LINEAR_ELEMENTS = L * (4 * D * D + 3 * D * F)
LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
EAGLE = {"method": "eagle", "k": 3, "alpha": 0.7}
SC = dict(batch_size=1, prompt_len=128, gen_len=64)


def _spec(**options):
    return lr.analyze_many("llama-2-7b", "a6000", **SC, speculative=EAGLE, **options).techniques.speculative


def test_verify_table_under_fusion_is_the_plain_verify_table_fused():
    s = _spec(fusion="aggressive")
    model = lr.load_model("llama-2-7b")
    sc = Scenario.build(**SC)
    Tv = s.verify_tokens
    assert Tv == 4  # a chain of k = 3 drafts: k + 1 tokens verified
    plain = build_ops(model, sc, "decode", T=np.full(1, float(Tv)), S=sc.kv_len, all_logits=np.ones(1, bool))
    want = fuse(plain, "aggressive", model)
    got = s.verify.table
    assert got.names == want.names and len(got.names) < len(plain.names)
    for field in ("flops", "weight_bytes", "act_read_bytes", "act_write_bytes", "kv_read_bytes", "kv_write_bytes"):
        np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=1e-12, err_msg=field)
    np.testing.assert_array_equal(got.counts, want.counts)


@pytest.mark.parametrize("options, bytes_per_weight", [
    # FP8: one byte per weight + the scenario's group scale (16 bits per group of 128): 1 + 2/128 B
    ({"module_bits": {"layers": "fp8"}}, 1.0 + 2.0 / 128),
    # 2:4: half the values at 2 bytes (fp16) + 2 bits of metadata per kept value: 0.5 * (2 + 2/8) = 1.125 B
    ({"sparse_format": "2:4"}, 1.125),
])
def test_verify_weight_bytes_and_time_follow_a_hand_count(options, bytes_per_weight):
    s = _spec(**options)
    t, v = s.verify.table, s.verify
    rows = np.array([n in LINEARS for n in t.names])
    assert (t.counts[rows] == L).all()
    weights = float((t.weight_bytes[rows, 0] * t.counts[rows]).sum())
    assert weights == pytest.approx(LAYER_LINEAR_ELEMENTS * bytes_per_weight, rel=1e-9)
    # batch 1, 4 tokens: every layer linear is memory-bound on the A6000, so its time is its bytes / bandwidth
    bandwidth = lr.load_hardware("a6000").memory_bandwidth_bytes_per_s
    assert not v.compute_time_s[rows, 0].max() > v.memory_time_s[rows, 0].min()
    np.testing.assert_allclose(v.time_s[rows, 0], t.bytes[rows, 0] / bandwidth, rtol=1e-12)
    # ... and the verify step is cheaper than the fp16 one by exactly the weight bytes saved / bandwidth
    fp16 = _spec().verify
    saved = LAYER_LINEAR_ELEMENTS * (2.0 - bytes_per_weight) / bandwidth
    plain_rows = np.array([n in LINEARS for n in fp16.table.names])
    before = float((fp16.time_s[plain_rows, 0] * fp16.table.counts[plain_rows]).sum())
    after = float((v.time_s[rows, 0] * t.counts[rows]).sum())
    assert before - after == pytest.approx(saved, rel=1e-9)


def test_time_per_token_is_draft_plus_verify_over_E():
    s = _spec(fusion="aggressive", attention="fa2", module_bits={"layers": "fp8"})
    E = 1 + 0.7 + 0.7 ** 2 + 0.7 ** 3  # (1 - alpha^(k+1)) / (1 - alpha), k = 3
    assert s.tokens_per_iteration == pytest.approx(E, rel=1e-12)
    verify = float((s.verify.time_s[:, 0] * s.verify.table.counts).sum())
    assert s.verify_time_s[0] == pytest.approx(verify, rel=1e-12)
    assert s.time_per_token_s[0] == pytest.approx((s.draft_time_s[0] + s.verify_time_s[0]) / E, rel=1e-12)


@pytest.mark.parametrize("options", [{"fusion": "aggressive"}, {"module_bits": {"layers": "fp8"}},
                                     {"sparse_format": "2:4"}, {"attention": "fa2"}, {"prune_layers": 0.25},
                                     {"kv_allocation": "paged"}, {"prefix_len": 64}])
def test_one_token_generation_is_the_optimization_alone(options):
    both = lr.analyze_many("llama-2-7b", "a6000", **SC, speculative=EAGLE, **options)
    alone = lr.analyze_many("llama-2-7b", "a6000", **SC, **options)
    one = both.techniques.one_token_generation
    for field in ("ttft_s", "decode_s", "tpot_s"):
        np.testing.assert_allclose(getattr(one, field), getattr(alone.generation, field), rtol=1e-12)
    assert both.params_total == alone.params_total
    assert both.params_before_pruning == alone.params_before_pruning
    assert both.prefill_total.time_s == pytest.approx(alone.prefill_total.time_s, rel=1e-12)


def test_pruned_target_is_smaller_and_drafted_by_its_own_layer():
    a = lr.analyze_many("llama-2-7b", "a6000", **SC, speculative=EAGLE, prune_layers=0.25)
    assert a.params_before_pruning > a.params_total
    t = a.techniques.speculative.verify.table
    assert t.counts[t.names.index("q_proj")] == 24  # round(32 * 0.75) layers left


def test_prefix_caching_changes_ttft_only():
    plain = lr.analyze_many("llama-2-7b", "a6000", **SC, speculative=EAGLE)
    cached = lr.analyze_many("llama-2-7b", "a6000", **SC, speculative=EAGLE, prefix_len=64)
    p, c = plain.techniques.speculative, cached.techniques.speculative
    for field in ("verify_time_s", "draft_time_s", "time_per_token_s", "speedup", "draft_decode_s"):
        np.testing.assert_allclose(getattr(c, field), getattr(p, field), rtol=1e-12, err_msg=field)
    np.testing.assert_allclose(cached.generation.decode_s, plain.generation.decode_s, rtol=1e-12)
    assert cached.generation.ttft_s[0] < plain.generation.ttft_s[0]
    # the target prefills P - prefix = 64 new tokens; the draft head (its own cache) still its whole prompt
    assert cached.prefill_total.time_s[0] < plain.prefill_total.time_s[0]
    np.testing.assert_allclose(c.draft_prefill_s, p.draft_prefill_s, rtol=1e-12)


def test_paged_kv_adds_the_same_memory_with_and_without_speculation():
    def kv(**kw):
        return lr.analyze_many("llama-2-7b", "a6000", **SC, **kw).memory

    spec_paged, spec = kv(speculative=EAGLE, kv_allocation="paged"), kv(speculative=EAGLE)
    paged, plain = kv(kv_allocation="paged"), kv()
    # the pages round the target's cache up; the draft's cache and the tokens being verified are added as they are
    assert spec_paged.kv_cache_bytes - spec.kv_cache_bytes == pytest.approx(
        paged.kv_cache_bytes - plain.kv_cache_bytes, rel=1e-12)
    # all on the device: device bytes = the total; max batch = floor((capacity - weights) / per sequence)
    m = spec_paged
    assert m.device_bytes == pytest.approx(m.total_bytes, rel=1e-12)
    per_sequence = (m.kv_cache_bytes + m.activations_bytes) / 1.0
    assert m.max_batch_size[0] == np.floor((m.capacity_bytes - m.weights_bytes[0]) / per_sequence[0])


def test_memory_with_a_cached_prefix_keeps_it_once():
    m = lr.analyze_many("llama-2-7b", "a6000", batch_size=4, prompt_len=128, gen_len=64, speculative=EAGLE,
                        prefix_len=64).memory
    shared = m.kv_cache_shared_bytes[0]
    assert shared > 0
    per_sequence = (m.kv_cache_bytes[0] - shared + m.activations_bytes[0]) / 4
    assert m.max_batch_size[0] == np.floor((m.capacity_bytes - m.weights_bytes[0] - shared) / per_sequence)


def test_early_exit_scales_the_fp8_weight_bytes():
    a = lr.analyze_many("llama-2-7b", "a6000", **SC, early_exit=0.5, module_bits={"layers": "fp8"})
    t = a.decode.table
    rows = np.array([n in LINEARS for n in t.names])
    # half the layers run whole; the skipped half still computes K and V for later tokens (state propagation,
    # the default): 0.5 * (q, o, gate, up, down) + all of k, v, each at fp8 plus its group scales
    elements = L * (0.5 * (2 * D * D + 3 * D * F) + 2 * D * D)
    got = float((t.weight_bytes[rows, 0] * t.counts[rows]).sum())
    assert got == pytest.approx(elements * (1.0 + 2.0 / 128), rel=1e-9)


def test_speculative_with_offloading_is_refused_by_name():
    with pytest.raises(ScenarioError, match="offloading"):
        lr.analyze("llama-2-7b", "a6000", speculative=EAGLE, offload_weights=0.5)
    # the one-token techniques do combine with it
    lr.analyze("llama-2-7b", "a6000", sparsity={"mlp": 0.5}, offload_kv=0.5)


def test_cli_and_advisor_take_both(capsys):
    from llm_roofline.cli import main

    code = main(["analyze", "llama-3.1-8b", "h100-sxm", "--fusion", "aggressive", "--speculative", "eagle3"])
    assert code in (0, None)
    assert "VERIFY" in capsys.readouterr().out
    advice = lr.advise("llama-2-7b", "a6000", batch_size=1, prompt_len=128, gen_len=64, fusion="aggressive")
    speculative = [v for v in advice.verdicts if v.family == "speculative"]
    assert speculative and all(v.error is None for v in speculative)
