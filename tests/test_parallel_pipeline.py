"""analyze's pipeline (parallel/pipeline.py, metrics.py): the exact sum of the stages for a round trip,
the period max(stages + H, m x u), the prefill's fill stages + H + (m - 1) u, and the closed-form sum of
the periods over decode steps (steps.py: Larger, AtLeast, Curves).

Oracles: numbers written by hand into the pipeline's parts, a brute-force sum over a table of values, and
the per-operator tables of analyses at every KV length, summed per part of the model by hand (the head,
layer, hand-off and tail rows) into each step's stages, fullest stage and period."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.parallel.pipeline import period_lines, pipeline_fill_s, pipeline_period_s, round_trip_s
from llm_roofline.parallel.steps import GRID, AtLeast, Curves, Larger, UndecidedMaximum

from conftest import llama

# ---------------------------------------------------------------------------------------------------
# the formulas, on parts written by hand
# ---------------------------------------------------------------------------------------------------


def _parts(head, layer, tail, handoff, head_l=0.0, layer_l=0.0, tail_l=0.0):
    """A part-sums dict (pipeline.part_sums' keys) of one scenario: non-link times and link times (s)."""
    return {"head_nl": np.array([head]), "layer_nl": np.array([layer]), "tail_nl": np.array([tail]),
            "handoff_nl": np.array([0.0]), "head_l": np.array([head_l]), "layer_l": np.array([layer_l]),
            "tail_l": np.array([tail_l]), "handoff_l": np.array([handoff])}


def test_period_and_fill_by_hand():
    # head 1, layers 10 (+ 2 of all-reduces), tail 4 (+ 1), hand-offs 0.5; pp 3 of 5 layers: the fullest
    # stage holds 2 layers (share 2/5) and the tail (the larger end: 5 > 1).
    s = _parts(1.0, 10.0, 4.0, 0.5, layer_l=2.0, tail_l=1.0)
    share = 2 / 5
    stages, u = 1 + 12 + 5, 5 + share * 12       # 18, 9.8
    assert round_trip_s(s)[0] == pytest.approx(stages + 0.5)
    assert pipeline_period_s(s, 3, share, 1)[0] == pytest.approx(18.5)           # the round trip
    assert pipeline_period_s(s, 3, share, 2)[0] == pytest.approx(19.6)           # 2 u = 19.6 > 18.5
    assert pipeline_fill_s(s, 3, share, 4)[0] == pytest.approx(18.5 + 3 * u)
    # overlap: u = max(4 + 4, 1 + 0.8) = 8; the round trip max(15, 3) + 0.5
    assert pipeline_period_s(s, 3, share, 1, overlap=True)[0] == pytest.approx(15.5)
    assert pipeline_period_s(s, 3, share, 2, overlap=True)[0] == pytest.approx(16.0)
    assert pipeline_fill_s(s, 3, share, 3, overlap=True)[0] == pytest.approx(15.5 + 2 * 8)


@pytest.mark.parametrize("overlap", [False, True])
def test_period_lines_are_the_period_at_every_layer_time(overlap):
    # the lines of the layers' non-link time x, evaluated at x, give the period of parts holding x
    s = _parts(0.3, 0.0, 2.0, 0.1, head_l=0.2, layer_l=1.5, tail_l=0.4)
    for x in (0.0, 0.5, 3.0, 40.0):
        (first, second), floor = period_lines(s, 4, 3 / 10, 3, overlap)
        value = max(first[0][0] + first[1] * x, second[0][0] + second[1] * x,
                    -np.inf if floor is None else floor[0])
        assert value == pytest.approx(pipeline_period_s({**s, "layer_nl": np.array([x])}, 4, 3 / 10, 3, overlap)[0])


@pytest.mark.parametrize(("pp", "m"), [(2, 2), (4, 4), (4, 8), (3, 1)])
def test_stages_of_equal_time_give_gpipe(pp, m):
    # no ends, pp dividing the layers: every stage takes u = layers / pp, the stages pp u; the prefill
    # takes GPipe's (m + pp - 1) u + H and the fullest stage idles (pp - 1) / (m + pp - 1) of it (H = 0)
    layers, handoff = 12.0, 0.7
    s = _parts(0.0, layers, 0.0, handoff)
    u = layers / pp
    assert pipeline_fill_s(s, pp, 1 / pp, m)[0] == pytest.approx((m + pp - 1) * u + handoff)
    fill = pipeline_fill_s(_parts(0.0, layers, 0.0, 0.0), pp, 1 / pp, m)[0]
    assert 1 - m * u / fill == pytest.approx((pp - 1) / (m + pp - 1))
    assert pipeline_period_s(s, pp, 1 / pp, m)[0] == pytest.approx(max(pp * u + handoff, m * u))


# ---------------------------------------------------------------------------------------------------
# the closed-form sums against a brute-force loop
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    """A series given by its values at S = 1..len(values) ([len, n]), summed and bounded by brute force."""

    values: np.ndarray
    monotone: bool

    def at(self, S):
        S = np.asarray(S, dtype=int)
        return self.values[S - 1, np.arange(self.values.shape[1])]

    def total(self, lo, hi):
        lo, hi = np.broadcast_to(lo, (self.values.shape[1],)), np.broadcast_to(hi, (self.values.shape[1],))
        return np.array([self.values[int(a) - 1:int(b), j].sum() for j, (a, b) in enumerate(zip(lo, hi, strict=True))])

    def span(self, lo, hi):
        lo, hi = np.broadcast_to(lo, (self.values.shape[1],)), np.broadcast_to(hi, (self.values.shape[1],))
        ranges = [self.values[int(a) - 1:int(b), j] for j, (a, b) in enumerate(zip(lo, hi, strict=True))]
        return (np.array([r.min() if r.size else 0.0 for r in ranges]),  # an empty range: any bounds
                np.array([r.max() if r.size else 0.0 for r in ranges]))


def test_larger_and_at_least_sum_exactly_over_a_growing_series():
    # x(S) = S^2 / 100 for three scenarios; max(5 + x, 1 + 3x) switches at x = 2 (S = 14.1), max(2 + 2x, 4)
    # at x = 1 (S = 10), max(0.5 x, 20 + 0.25 x) at x = 80 (S = 89.4); with a floor of 30 on top.
    S = np.arange(1, 201, dtype=float)[:, None]
    x = Listed(np.hstack([S ** 2 / 100] * 3), monotone=True)
    first = (np.array([5.0, 2.0, 0.0]), np.array([1.0, 2.0, 0.5]))
    second = (np.array([1.0, 4.0, 20.0]), np.array([3.0, 0.0, 0.25]))
    values = x.values
    lines = np.maximum(first[0] + first[1] * values, second[0] + second[1] * values)
    # ranges across every switch (bisection), then ranges each on one side of it (no split)
    for lo, hi in ((np.array([1.0, 3.0, 50.0]), np.array([40.0, 200.0, 120.0])),
                   (np.array([20.0, 3.0, 100.0]), np.array([40.0, 8.0, 120.0]))):
        for floor in (None, 30.0):
            series = Larger(x, first, second) if floor is None else AtLeast(Larger(x, first, second), floor)
            expected = lines if floor is None else np.maximum(lines, floor)
            by_hand = [expected[int(a) - 1:int(b), j].sum() for j, (a, b) in enumerate(zip(lo, hi, strict=True))]
            np.testing.assert_allclose(series.total(lo, hi), by_hand, rtol=1e-12)


def test_a_maximum_over_a_non_monotone_series_is_summed_where_decided_else_refused():
    # x(S) = 10 + (S mod 7): between 10 and 16. max(x, 9) is x throughout, max(x, 20) is 20: both exact;
    # max(x, 13) changes winner back and forth, which the closed form refuses.
    S = np.arange(1, 101, dtype=float)
    x = Listed((10 + np.mod(S, 7))[:, None], monotone=False)
    lo, hi = np.array([1.0]), np.array([100.0])
    assert AtLeast(x, 9.0).total(lo, hi)[0] == pytest.approx((10 + np.mod(S, 7)).sum())
    assert AtLeast(x, 20.0).total(lo, hi)[0] == pytest.approx(20 * 100)
    with pytest.raises(UndecidedMaximum):
        AtLeast(x, 13.0).total(lo, hi)


def _curves(values: np.ndarray, chunked: bool = False, low: float = 0.0, evaluated: list | None = None) -> Curves:
    """Calibrated-like curves whose steps S = 1..len(values) are ``values`` ([len, 1]): the per-step value
    and the sums read off the list (recording every S evaluated in ``evaluated``)."""
    listed = Listed(values, monotone=False)

    def step(S):
        if evaluated is None:
            raise AssertionError("a step was evaluated where the floor decides")
        evaluated.append(np.asarray(S).ravel())
        return listed.at(S)

    n = len(values)
    return Curves(np.array([1.0]), np.array([float(n)]), step, listed.total, np.array([low]), chunked)


def test_curves_are_decided_by_their_floor_else_split_by_bisection_on_their_steps():
    lo, hi = np.array([1.0]), np.array([100.0])
    S = np.arange(1, 101, dtype=float)
    x = 10 + S / 10  # from 10.1 to 20: 1 + x against 8 + x / 2 switches at x = 14 (S = 40)
    # steps of at least 10 decide max(1 + x, 0.5 x): no step evaluated (the step function would raise)
    assert Larger(_curves(x[:, None], low=10.0), (1.0, 1.0), (0.0, 0.5)).total(lo, hi)[0] == \
        pytest.approx(100 + x.sum(), rel=1e-12)
    evaluated: list = []
    series = Larger(_curves(x[:, None], low=10.0, evaluated=evaluated), (1.0, 1.0), (8.0, 0.5))
    by_hand = (8 + x[:39] / 2).sum() + (1 + x[39:]).sum()  # S = 1..39: 8 + x / 2 (above 1 + x below x = 14)
    assert 8 + x[38] / 2 > 1 + x[38] and 8 + x[39] / 2 <= 1 + x[39]
    assert series.total(lo, hi)[0] == pytest.approx(by_hand, rel=1e-12)
    # the grid's GRID steps, then rounds of GRID - 2 steps each (100 -> 7 -> 1 candidates): no loop over them
    assert len(evaluated) == 3 and sum(e.size for e in evaluated) == 3 * GRID - 4
    # chunked curves (not monotone) and curves seen to fall at the grid's steps cannot be split: refused
    with pytest.raises(UndecidedMaximum):
        Larger(_curves(x[:, None], chunked=True, evaluated=[]), (1.0, 1.0), (8.0, 0.5)).total(lo, hi)
    dips = 10 + np.abs(S - 50) / 5  # from 19.8 down to 10 and back up to 20
    with pytest.raises(UndecidedMaximum):
        Larger(_curves(dips[:, None], evaluated=[]), (1.0, 1.0), (8.0, 0.5)).total(lo, hi)


# ---------------------------------------------------------------------------------------------------
# a model whose ends differ: the analysis against its own tables summed by hand
# ---------------------------------------------------------------------------------------------------

BIG_VOCAB = llama("big-vocab", D=256, L=5, N=4, K=4, F=512, V=64000)  # lm_head 32.8 MB, 5 layers of 1.6 MB


def _hand_parts(costs):
    """count x time (s) of the head, layer, hand-off and tail rows of each column of a table."""
    per_op = costs.time_s * costs.table.counts[:, None]
    where = np.array(costs.table.parts)
    return {p: per_op[where == p].sum(0) for p in ("head", "layer", "handoff", "tail")}


@pytest.mark.parametrize(("pp", "m", "both"), [(2, 2, False), (2, 1, False), (3, 3, False), (3, 2, True)])
def test_a_large_vocabulary_pipeline_is_its_stages_summed_by_hand(pp, m, both):
    # 5 layers over pp stages: the fullest holds ceil(5 / pp) of them and the tail (lm_head, far larger
    # than the embedding's gather). 64 sequences from 500 to 1500 keys: with pp 3 and 2 micro-batches the
    # period is 2 u at short contexts and the round trip at long ones (both branches of the sum).
    B, P, G = 64, 500, 1000
    kw = dict(pp=pp, micro_batches=m, batch_size=B, prompt_len=P)
    whole = lr.analyze_many(BIG_VOCAB, "dgx-h100", gen_len=G, **kw)
    steps = lr.analyze_many(BIG_VOCAB, "dgx-h100", kv_len=np.arange(P + 1, P + G + 1), **kw)
    share = -(-5 // pp) / 5
    pre = _hand_parts(whole.prefill)
    u_pre = max(pre["head"][0], pre["tail"][0]) + share * pre["layer"][0]
    stages_pre = pre["head"][0] + pre["layer"][0] + pre["tail"][0]
    ttft = stages_pre + pre["handoff"][0] + (m - 1) * u_pre
    assert pre["tail"][0] > 2 * pre["head"][0]
    assert whole.parallel.ttft_s[0] == pytest.approx(ttft, rel=1e-12)
    if m > 1:
        assert ttft < (m + pp - 1) * u_pre + pre["handoff"][0]  # GPipe's count charges pp stages of u
    dec = _hand_parts(steps.decode)
    assert (dec["tail"] > 100 * dec["head"]).all()
    round_trip = dec["head"] + dec["layer"] + dec["tail"] + dec["handoff"]
    u = np.maximum(dec["head"], dec["tail"]) + share * dec["layer"]
    period = np.maximum(round_trip, m * u)
    assert ((round_trip > m * u).any() and (round_trip < m * u).any()) == both
    np.testing.assert_allclose(steps.parallel.decode_step_s, period, rtol=1e-12)
    assert whole.parallel.decode_s[0] == pytest.approx(period.sum(), rel=1e-9)


HUGE_VOCAB_CONFIG = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 5,
                     "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 256000}
HUGE_VOCAB = llama("huge-vocab", D=256, L=5, N=4, K=4, F=512, V=256000)  # the config above
# pp 3 (2 + 2 + 1 layers) with 2 micro-batches, 64 sequences from 700 keys for 128 tokens
SWITCHING = dict(pp=3, micro_batches=2, batch_size=64, efficiency="calibrated")
SWITCH_P, SWITCH_G = 700, 128


def test_calibrated_period_whose_winner_switches_is_summed_exactly():
    # a vocabulary of 256,000 on pp 3 with 2 micro-batches: under calibrated curves the period is 2 u at the
    # start of the generation and the round trip at its end (each step's own tables, summed by hand).
    P, G = SWITCH_P, SWITCH_G
    whole = lr.analyze_many(HUGE_VOCAB, "dgx-h100", prompt_len=P, gen_len=G, **SWITCHING)
    steps = lr.analyze_many(HUGE_VOCAB, "dgx-h100", prompt_len=P, kv_len=np.arange(P + 1, P + G + 1), **SWITCHING)
    dec = _hand_parts(steps.decode)
    round_trip = dec["head"] + dec["layer"] + dec["tail"] + dec["handoff"]
    u = np.maximum(dec["head"], dec["tail"]) + 2 / 5 * dec["layer"]
    period = np.maximum(round_trip, 2 * u) + steps.decode.step_overhead_s
    assert 2 * u[0] > round_trip[0] and 2 * u[-1] < round_trip[-1]
    decode = whole.parallel.tpot_s[0] * G
    # the quadrature integrates each step's curves over [S - 1/2, S + 1/2] (docs/calibration.md): close to
    # the steps' own values, not equal
    assert decode == pytest.approx(period.sum(), rel=1e-7)
    # each step alone (a one-token generation from KV length S - 1: its sum is that step, whose winner it
    # decides by itself): the split generation is their sum, to round-off
    one = lr.analyze_many(HUGE_VOCAB, "dgx-h100", prompt_len=np.arange(P, P + G), gen_len=1, **SWITCHING)
    assert decode == pytest.approx(one.parallel.decode_s.sum(), rel=1e-9)
    # that tolerance sees one step on the wrong side of the switch, and either term summed throughout
    switch = np.flatnonzero(round_trip >= 2 * u)[0]
    assert abs(round_trip[switch] - 2 * u[switch]) > 1e-8 * decode
    assert abs(round_trip[switch - 1] - 2 * u[switch - 1]) > 1e-8 * decode
    assert min(abs(round_trip.sum() - period.sum()), abs(2 * u.sum() - period.sum())) > 1e-5 * decode


def test_calibrated_switching_period_through_the_cli_and_the_web(capsys, tmp_path):
    from llm_roofline.cli import main

    config = tmp_path / "config.json"
    config.write_text(json.dumps(HUGE_VOCAB_CONFIG))
    api = lr.analyze(HUGE_VOCAB, "dgx-h100", prompt_len=SWITCH_P, gen_len=SWITCH_G, **SWITCHING)
    code = main(["analyze", str(config), "dgx-h100", "--pp", "3", "--micro-batches", "2", "-b", "64",
                 "-p", str(SWITCH_P), "-g", str(SWITCH_G), "--efficiency", "calibrated", "-f", "json"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert json.loads(out)["generation"]["tpot_s"] == pytest.approx(api.generation.tpot_s, rel=1e-12)
    pytest.importorskip("pydantic")
    from llm_roofline.web import service
    from llm_roofline.web.schemas import AnalyzeRequest

    report = service.report(AnalyzeRequest(config=HUGE_VOCAB_CONFIG, hardware="dgx-h100", pp=3, micro_batches=2,
                                           batch_size=64, prompt_len=SWITCH_P, gen_len=SWITCH_G,
                                           efficiency="calibrated"))
    assert report["generation"]["tpot_s"] == pytest.approx(api.generation.tpot_s, rel=1e-12)


def test_calibrated_steps_seen_to_fall_are_refused_naming_the_cause(monkeypatch):
    # the layers' calibrated steps as if they fell with the KV length (each step priced at the mirror KV
    # length P + 1 + P + G - S): a switching maximum over them cannot be split at one step
    from llm_roofline.efficiency import steps as calibrated_steps

    P, G = SWITCH_P, SWITCH_G
    real = calibrated_steps.decode_step_times

    def falling(at0, at1, scenario, efficiency, S):
        return real(at0, at1, scenario, efficiency, 2.0 * P + G + 1.0 - np.asarray(S))

    monkeypatch.setattr(calibrated_steps, "decode_step_times", falling)
    with pytest.raises(lr.ScenarioError, match="efficiency calibrated.*falls somewhere as the KV length grows"):
        lr.analyze(HUGE_VOCAB, "dgx-h100", prompt_len=P, gen_len=G, **SWITCHING)
