"""Speculative decoding and its relatives: every formula against a value derived by hand or from the
papers, and the engine's sums against step-by-step references built independently."""

from __future__ import annotations

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.engine import evaluate
from llm_roofline.errors import ScenarioError, UnknownNameError
from llm_roofline.graph import build_ops
from llm_roofline.hardware.spec import IDEAL
from llm_roofline.models.spec import Attention, Layer, LayerGroup, ModelSpec
from llm_roofline.roofline import roofline
from llm_roofline.scenario import Scenario
from llm_roofline.techniques.drafters import Drafter
from llm_roofline.techniques.iteration import AffineStep, iteration_sum
from llm_roofline.techniques.options import speculative_setting
from llm_roofline.techniques.settings import Techniques
from llm_roofline.techniques.speculative import Speculative, expected_tokens, leviathan_speedup

from conftest import gemma2_like, llama, sliding_llama, small_mla


def spec_of(**kw) -> Techniques:
    return Techniques(speculative=speculative_setting(kw))


# --- expected tokens per iteration: Leviathan et al. eq. (1) -----------------------------------------------

def test_expected_tokens_limits_and_a_hand_value():
    assert expected_tokens(0.0, 4) == 1.0  # nothing accepted: the target's own token only
    assert expected_tokens(1.0, 4) == 5.0  # everything accepted: k + 1
    assert expected_tokens(0.999999, 4) == pytest.approx(5.0, rel=1e-5)  # continuous at alpha -> 1
    # alpha = 1/2, k = 3: 1 + 1/2 + 1/4 + 1/8 = 1.875 (the geometric series of eq. 1)
    assert expected_tokens(0.5, 3) == pytest.approx(1.875, rel=1e-15)


def test_leviathan_theorem_3_8_by_hand():
    # Theorem 3.8: improvement = (1 - alpha^(gamma+1)) / ((1 - alpha)(gamma c + 1)).
    # alpha 0.8, gamma 5, c 0.05: (1 - 0.8^6) / 0.2 = 3.68928; / (0.25 + 1) = 2.951424.
    assert leviathan_speedup(0.8, 5, 0.05) == pytest.approx(2.951424, rel=1e-12)
    # c = 0 (a free draft): the speed-up is E itself; alpha = 0: 1 / (gamma c + 1), pure overhead.
    assert leviathan_speedup(0.6, 3, 0.0) == pytest.approx(expected_tokens(0.6, 3))
    assert leviathan_speedup(0.0, 4, 0.1) == pytest.approx(1 / 1.4)


def _tiny_draft() -> ModelSpec:
    """A 2-layer Llama-style draft with Llama-2-7B's vocabulary (D 512, 8 heads, F 1376)."""
    return llama(name="tiny-draft", D=512, L=2, N=8, K=8, F=1376, V=32000)


def test_engine_reproduces_theorem_3_8(llama2_7b, a6000):
    """Memory-bound case (batch 1, short context, A6000): the verify step of k + 1 tokens costs one target step
    to within the extra tokens' activations and KV writes, so the engine's speed-up must match the theorem
    with c = (one draft step) / (one target step), both measured by the engine itself."""
    draft = _tiny_draft()
    sc = Scenario.build(batch_size=1, prompt_len=64, gen_len=256)
    plain = evaluate(llama2_7b, a6000, sc, IDEAL)
    small = evaluate(draft, a6000, sc, IDEAL)
    c = small.generation.tpot_s[0] / plain.generation.tpot_s[0]
    for alpha, k in ((0.6, 3), (0.8, 5), (0.9, 8)):
        a = evaluate(llama2_7b, a6000, sc, IDEAL,
                     spec_of(method="draft", draft_model=draft, k=k, alpha=alpha))
        theorem = leviathan_speedup(alpha, k, c)
        assert a.techniques.speculative.speedup[0] == pytest.approx(theorem, rel=0.01)


def test_alpha_zero_is_pure_overhead(llama2_7b, a6000):
    """alpha = 0: one token per iteration, so the iteration's draft passes are pure overhead."""
    sc = Scenario.build(batch_size=1, prompt_len=128, gen_len=64)
    a = evaluate(llama2_7b, a6000, sc, IDEAL, spec_of(method="draft", draft_model=_tiny_draft(), k=4, alpha=0.0))
    s = a.techniques.speculative
    assert s.tokens_per_iteration == 1.0
    assert s.speedup[0] < 1.0
    assert s.time_per_token_s[0] == pytest.approx(s.iteration_time_s[0])
    assert s.iteration_time_s[0] == pytest.approx(s.draft_time_s[0] + s.verify_time_s[0])


def test_alpha_one_keeps_k_plus_one_tokens(llama2_7b, a6000):
    sc = Scenario.build(batch_size=1, prompt_len=128, gen_len=60)
    a = evaluate(llama2_7b, a6000, sc, IDEAL, spec_of(method="draft", draft_model=_tiny_draft(), k=4, alpha=1.0))
    assert a.techniques.speculative.tokens_per_iteration == 5.0


def test_verify_step_is_a_decode_step_plus_k_tokens(llama2_7b, a6000):
    """Batch 1, KV length S, k = 4: the verify step reads the weights of a decode step and the embedding rows of
    4 more tokens (4 * 4096 * 2 B), writes K and V for k + 1 tokens instead of 1 (2*K*H*2 bytes per token and
    layer, Llama-2-7B: 2*32*128*2 = 16,384 B), reads the same S cached keys (naive attention), and computes
    lm_head for k + 1 tokens."""
    sc = Scenario.build(batch_size=1, prompt_len=512, gen_len=16)
    r = lr.analyze(llama2_7b, a6000, prompt_len=512, gen_len=16,
                   speculative={"method": "draft", "draft_model": _tiny_draft(), "k": 4, "alpha": 0.7})
    verify, decode = r.techniques.speculative.verify.total, r.decode.total
    assert verify.weight_bytes - decode.weight_bytes == 4 * 4096 * 2
    per_token_kv = 32 * 2 * 32 * 128 * 2.0
    kv_write = sum(o.kv_write_bytes * o.count for o in r.techniques.speculative.verify.ops)
    assert kv_write == pytest.approx(5 * per_token_kv)
    assert verify.kv_cache_bytes - decode.kv_cache_bytes == pytest.approx(4 * per_token_kv)
    lm = next(o for o in r.techniques.speculative.verify.ops if o.name == "lm_head")
    assert lm.flops == pytest.approx(5 * 2 * 4096 * 32000)
    # memory-bound: the step takes its bytes over the bandwidth, a few per mille more than a decode step
    assert verify.bound == "memory"
    assert 1.0 < r.techniques.speculative.verify_time_s / decode.time_s < 1.01
    assert sc.size == 1


# --- the sums over iterations are exact --------------------------------------------------------------------

def _step_time(model, device, T: int, S: float, B: int = 2) -> float:
    """One T-token step at KV length S, built and placed on the roofline on its own (windows applied)."""
    sc = Scenario.build(batch_size=B, prompt_len=16, gen_len=1)
    table = build_ops(model, sc, "decode", T=np.array([float(T)]), S=np.array([S]), all_logits=True)
    costs = roofline(table, sc, device, IDEAL)
    return float((costs.time_s[:, 0] * table.counts).sum())


@pytest.mark.parametrize("E, G", [(2.5, 12), (1.0, 9), (3.0, 10), (1.7, 13)])
def test_iteration_sum_equals_step_by_step_without_window(a6000, E, G):
    """No window: each operator is exactly affine in S, so the closed form over iterations j = 0 .. G/E - 1 at
    S = s0 + j*E (the last one weighted by its fraction) must equal independent builds at those S."""
    model = llama(name="tiny", D=256, L=2, N=4, K=2, F=512, V=1000)
    T, P, B = 4, 100, 2
    sc = Scenario.build(batch_size=B, prompt_len=P, gen_len=G)
    tech = spec_of(method="jacobi", k=T - 1, tau=min(E, T))
    a = evaluate(model, a6000, sc, IDEAL, tech)
    iterations = G / E
    whole = int(np.floor(iterations))
    s0 = P + T
    reference = sum(_step_time(model, a6000, T, s0 + j * E, B) for j in range(whole))
    reference += (iterations - whole) * _step_time(model, a6000, T, s0 + whole * E, B)
    assert a.generation.decode_s[0] == pytest.approx(reference, rel=1e-12)


def test_iteration_sum_with_windows_matches_its_step_model(a6000):
    """With a sliding window the per-operator model is min(affine, value past the window); the closed form
    must equal the Python loop over iterations of that same model (AffineStep.time_at), window crossed."""
    model = sliding_llama()  # W = 64
    sc = Scenario.build(batch_size=[1, 3], prompt_len=[20, 50], gen_len=[90, 40])
    a = evaluate(model, a6000, sc, IDEAL, spec_of(method="jacobi", k=3, tau=2.3))
    # rebuild the verify step's AffineStep the way the engine does and sum it in a loop
    from llm_roofline.techniques.columns import Columns
    from llm_roofline.techniques.engine import _add_step, _affine

    cols = Columns(sc)
    _add_step(cols, "verify", 4, sc.kv_len, 64.0, logits=True)
    table = build_ops(model, cols.scenario, "decode", T=cols.T, S=cols.S, apply_window=cols.apply,
                      all_logits=cols.logits)
    costs = roofline(table, cols.scenario, a6000, IDEAL)
    step = _affine(cols, costs, "verify")
    E = 2.3
    for i in range(sc.size):
        iterations = sc.gen_len[i] / E
        whole = int(np.floor(iterations))
        s0 = sc.prompt_len[i] + 4
        one = AffineStep(*(getattr(step, f)[:, i:i + 1] if getattr(step, f).ndim == 2 and getattr(step, f).shape[1] > 1
                           else getattr(step, f) for f in ("c0", "c1", "m0", "m1", "cW", "mW", "chunk", "works",
                                                          "counts")))
        loop = sum((one.time_at(np.array([s0 + j * E]))[:, 0] * one.counts).sum() for j in range(whole))
        loop += (iterations - whole) * (one.time_at(np.array([s0 + whole * E]))[:, 0] * one.counts).sum()
        assert a.generation.decode_s[i] == pytest.approx(loop, rel=1e-12)
        closed = iteration_sum(one, np.array([s0]), E, np.array([iterations]))
        assert (closed[:, 0] * one.counts).sum() == pytest.approx(loop, rel=1e-12)


def test_window_step_model_is_exact_outside_the_transition(a6000):
    """The min(affine, past-window) model of a T-token step equals a real build for S <= W and S >= W + T - 1."""
    model = sliding_llama()  # W = 64
    sc = Scenario.build(batch_size=2, prompt_len=16, gen_len=1)
    from llm_roofline.techniques.columns import Columns
    from llm_roofline.techniques.engine import _add_step, _affine

    for flash in (False, True):
        sc_f = Scenario.build(batch_size=2, prompt_len=16, gen_len=1, flash_attention=flash)
        cols = Columns(sc_f)
        _add_step(cols, "v", 5, sc.kv_len, 64.0, logits=True)
        table = build_ops(model, cols.scenario, "decode", T=cols.T, S=cols.S, apply_window=cols.apply,
                          all_logits=cols.logits)
        step = _affine(cols, roofline(table, cols.scenario, a6000, IDEAL), "v")
        for S in (10.0, 40.0, 64.0, 68.0, 90.0, 500.0):
            built = build_ops(model, sc_f, "decode", T=np.array([5.0]), S=np.array([S]), all_logits=True)
            exact = float((roofline(built, sc_f, a6000, IDEAL).time_s[:, 0] * built.counts).sum())
            assert float((step.time_at(np.array([S]))[:, 0] * step.counts).sum()) == pytest.approx(exact, rel=1e-12)


def test_k_zero_equivalent_equals_the_decode_sum(a6000):
    """tau = 1 with one verified token (Jacobi k = 0 is not allowed, so E = 1 with T = 1 is built by hand):
    the iteration sum at E = 1, T = 1 must equal the engine's decode sum (generation.py), window included."""
    model = sliding_llama()
    sc = Scenario.build(batch_size=[1, 4], prompt_len=[30, 100], gen_len=[80, 7])
    plain = evaluate(model, a6000, sc, IDEAL)
    from llm_roofline.techniques.columns import Columns
    from llm_roofline.techniques.engine import _add_step, _affine

    cols = Columns(sc)
    _add_step(cols, "d", 1, sc.kv_len, 64.0)
    table = build_ops(model, cols.scenario, "decode", T=cols.T, S=cols.S, apply_window=cols.apply)
    step = _affine(cols, roofline(table, cols.scenario, a6000, IDEAL), "d")
    total = (iteration_sum(step, sc.prompt_len + 1.0, 1.0, sc.gen_len) * step.counts[:, None]).sum(0)
    np.testing.assert_allclose(total, plain.generation.decode_s, rtol=1e-12)


# --- draft networks ------------------------------------------------------------------------------------------

def test_folded_prefill_equals_the_prefill_build(llama2_7b, a6000):
    """An attention-only model's prompt as a decode-stage step of T = S = P has the prefill's operators."""
    sc = Scenario.build(batch_size=[1, 4], prompt_len=[300, 2048], flash_attention=True)
    plain = evaluate(llama2_7b, a6000, sc, IDEAL)
    spec = evaluate(llama2_7b, a6000, sc, IDEAL, Techniques(speculative=speculative_setting("eagle2")))
    assert spec.prefill.table.names == plain.prefill.table.names
    np.testing.assert_array_equal(spec.prefill_total.time_s, plain.prefill_total.time_s)
    np.testing.assert_array_equal(spec.prefill_total.bytes, plain.prefill_total.bytes)


@pytest.mark.parametrize("preset", ["eagle2", "eagle3", "mtp"])
def test_derived_draft_head_equals_its_own_build(llama2_7b, a6000, preset):
    """A draft head cut out of the target's table (one layer, shared embedding and lm_head) equals the same head
    built from its own one-layer ModelSpec."""
    s = speculative_setting(preset)
    d = Drafter(s, llama2_7b)
    sc = Scenario.build(batch_size=[1, 8], prompt_len=[256, 512])
    T, S = np.full(2, float(s.width)), np.array([300.0, 700.0])
    own = d.table(sc, "decode", T, S)
    derived = d.derived(build_ops(llama2_7b, sc, "decode", T=T, S=S), sc, T, S)
    assert set(own.names) == set(derived.names)
    for field in ("flops", "weight_bytes", "act_read_bytes", "act_write_bytes", "kv_read_bytes", "param_bytes"):
        a = (getattr(own, field) * own.counts[:, None]).sum(0)
        b = (getattr(derived, field) * derived.counts[:, None]).sum(0)
        np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=field)


def test_eagle3_head_sizes_by_hand(llama2_7b):
    """EAGLE-3 on Llama-2-7B: fc 3*4096 -> 4096 with bias, one decoder layer (202,383,360 parameters: 4*4096^2
    + 3*4096*11008 + 2*4096), a final norm (4096) and its own 32,000-row lm_head (131,072,000)."""
    d = Drafter(speculative_setting("eagle3"), llama2_7b)
    sc = Scenario.build(batch_size=1, prompt_len=16)
    t = d.table(sc, "prefill", sc.prompt_len, sc.prompt_len)
    own = float((t.params * t.counts).sum())
    assert own == 3 * 4096 * 4096 + 4096 + 202_383_360 + 4096 + 32000 * 4096


def test_medusa_heads_by_hand(llama2_7b, a6000):
    """4 Medusa heads on Llama-2-7B: each a 4096 x 4096 linear with bias and a 4096 x 32000 lm_head:
    4 * (4096^2 + 4096 + 4096*32000) parameters, no KV cache, one pass per iteration."""
    r = lr.analyze(llama2_7b, a6000, speculative="medusa2")
    s = r.techniques.speculative
    assert s.draft_weights_bytes == 2 * 4 * (4096 ** 2 + 4096 + 4096 * 32000)
    assert s.draft_kv_cache_bytes == 0.0
    assert r.techniques.settings["speculative"]["draft_passes"] == [1]
    assert r.memory.weights_bytes == pytest.approx(
        lr.analyze(llama2_7b, a6000).memory.weights_bytes + s.draft_weights_bytes)


def test_draft_model_adds_its_weights_kv_and_prefill(llama2_7b, a6000):
    draft = _tiny_draft()
    plain = lr.analyze(llama2_7b, a6000, prompt_len=1000, gen_len=100)
    alone = lr.analyze(draft, a6000, prompt_len=1000, gen_len=100)
    r = lr.analyze(llama2_7b, a6000, prompt_len=1000, gen_len=100,
                   speculative={"method": "draft", "draft_model": draft, "k": 3, "alpha": 0.5})
    s = r.techniques.speculative
    assert s.draft_weights_bytes == alone.memory.weights_bytes
    assert s.draft_kv_cache_bytes == alone.memory.kv_cache_bytes
    assert r.generation.ttft_s == pytest.approx(plain.generation.ttft_s + alone.generation.ttft_s)
    # + the draft's weights and cache, and the 4 tokens being verified: 32 layers * 2*32*128 * 2 bytes each
    extra = s.draft_weights_bytes + s.draft_kv_cache_bytes + 4 * 32 * 2 * 32 * 128 * 2
    assert r.memory.weights_bytes + r.memory.kv_cache_bytes == pytest.approx(
        plain.memory.weights_bytes + plain.memory.kv_cache_bytes + extra)


def test_mla_target_mtp_runs(a6000):
    """MTP on an MLA + MoE model (DeepSeek-V3's case): a draft layer of the last group, whose prefill is built
    as a prefill (MLA costs the stages differently)."""
    r = lr.analyze(small_mla(), a6000, speculative="mtp", batch_size=2)
    s = r.techniques.speculative
    assert s.tokens_per_iteration == pytest.approx(1.85)
    assert s.draft_prefill_s > 0 and s.draft_weights_bytes > 0
    assert r.generation.tpot_s < r.techniques.one_token["tpot_s"]


def test_windows_and_multi_group_targets(a6000):
    """Windowed and multi-group targets: the draft head is one layer of the last group, its own lm_head has
    at most the target's vocabulary (EAGLE-3's 32k on a 900-token model: 900 rows)."""
    for model in (gemma2_like(), sliding_llama()):
        r = lr.analyze(model, a6000, speculative="eagle3", prompt_len=100, gen_len=200, batch_size=2)
        draft = r.techniques.speculative.draft
        assert {o.count for o in draft.ops} == {1}
        lm = next(o for o in draft.ops if o.name == "draft.lm_head")
        assert lm.weight_bytes == model.vocab_size * model.hidden_size * 2
        assert 0 < r.generation.tpot_s < float("inf")


# --- tree, lookahead, crossover ------------------------------------------------------------------------------

def test_lookahead_verifies_its_branches(a6000):
    s = speculative_setting({"method": "lookahead", "window": 7, "ngram": 4, "guesses": 5, "tau": 2})
    assert s.verify_tokens == 1 + (7 + 5) * 3
    assert s.draft_passes() == ()
    assert s.max_tokens == 4


def test_speedup_collapses_with_batch_and_crosses_one(a6000):
    """A 60-node tree multiplies the verify step's intensity by about 60: once the step turns compute-bound the
    gain falls with the batch and drops below 1 (the crossover plot speculative marks)."""
    m = llama()
    r = lr.sweep(m, a6000, batch_size=[1, 4, 16, 64, 256], prompt_len=512, gen_len=128, speculative="eagle3")
    speedup = r.columns["speedup"]
    assert np.all(np.diff(speedup) < 0)
    assert speedup[0] > 2 and speedup[-1] < 1


# --- settings and errors -------------------------------------------------------------------------------------

def test_presets_name_their_sources():
    from llm_roofline.techniques.presets import PRESETS

    for name in PRESETS:
        s = speculative_setting(name)
        assert s.source.startswith(("EAGLE", "Medusa", "DeepSeek", "assumed")), name
        assert 1.0 <= s.tokens_per_iteration <= s.max_tokens


@pytest.mark.parametrize("given, message", [
    ({"method": "draft", "alpha": 0.5}, "needs a draft model"),
    ({"method": "eagle", "k": 3}, "one of alpha"),
    ({"method": "eagle", "k": 3, "alpha": 0.5, "tau": 2}, "not both"),
    ({"method": "eagle", "k": 3, "alpha": 1.5}, "alpha"),
    ({"method": "eagle", "k": 3, "tau": 5}, "tau"),
    ({"preset": "eagle3", "alpha": 0.5}, "tree"),
    ({"method": "eagle", "k": 0, "tau": 1}, "k"),
    ({"method": "lookahead", "alpha": 0.5}, "tau"),
    ({"preset": "eagle3", "tree_nodes": 3}, "cannot hold"),
    ({"method": "eagle", "k": 2, "tau": 1.5, "bogus": 1}, "unknown setting"),
])
def test_bad_settings_name_the_problem(given, message):
    with pytest.raises(ScenarioError, match=message):
        speculative_setting(given)


def test_unknown_preset_suggests_close_names():
    with pytest.raises(UnknownNameError, match="eagle3"):
        speculative_setting("eagel3")


def test_draft_model_by_catalog_name():
    s = speculative_setting({"method": "draft", "draft_model": "llama-3.2-1b", "k": 4, "alpha": 0.7})
    assert isinstance(s.draft_model, ModelSpec) and s.draft_model.num_layers == 16
    assert isinstance(Speculative(method="mtp", k=1, alpha=0.85).draft_passes(), tuple)


def test_speculative_is_exact_without_it(llama2_7b, a6000):
    """No technique: the report is the plain engine's, bit for bit (techniques = None in JSON)."""
    a = lr.analyze(llama2_7b, a6000, batch_size=3).to_dict()
    assert a["techniques"] is None
    assert isinstance(Attention(4, 4, 8), Attention) and isinstance(Layer, type) and LayerGroup


def _bisect_tau(target: float, speedup_at) -> float:
    lo, hi = 1.0, 6.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if speedup_at(mid) < target else (lo, mid)
    return lo


def test_published_batch_collapse_of_eagle3_on_h100():
    """EAGLE-3 in SGLang, LLaMA-Instruct 3.1 8B on one H100 (Li et al. 2025, https://arxiv.org/abs/2503.01840):
    about 1.8x throughput at batch 2 falling to 1.38x at batch 64 (the abstract: "a 1.38x throughput improvement
    at a batch size of 64"). Modelled with SGLang's default EAGLE shape (speculative_num_steps 5, eagle_topk 4,
    num_draft_tokens 8: depth 5, width 4, 8 verified tokens) and EAGLE-3's 32k draft vocabulary; tau, which the
    paper does not give for these runs, is the one free number, set so that batch 2 gives 1.81x. The model
    then predicts batch 64 within the stated tolerance of 25 % (it gives ~1.13x: the ideal roofline lets the
    8-token verify step at batch 64, 512 tokens, turn compute-bound sooner than a real H100's memory-bound
    decode, which reaches well under its peak bandwidth), and a gain that falls with the batch but stays above
    1x."""
    batches = [2, 4, 8, 16, 32, 64]

    def speedups(tau: float) -> np.ndarray:
        spec = {"method": "eagle3", "k": 5, "width": 4, "tree_nodes": 8, "tau": tau, "draft_vocab": 32000}
        return lr.sweep("llama-3.1-8b", "h100-sxm", batch_size=batches, prompt_len=256, gen_len=256,
                        speculative=spec).columns["speedup"]

    tau = _bisect_tau(1.81, lambda t: speedups(t)[0])
    assert 1.5 < tau < 4.0  # a plausible mean acceptance for 8 drafted tokens
    s = speedups(tau)
    assert s[0] == pytest.approx(1.81, rel=1e-6)
    assert s[-1] == pytest.approx(1.38, rel=0.25)
    assert np.all(np.diff(s) < 0) and s[-1] > 1.0
