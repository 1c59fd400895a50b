"""Invariants, checked by Hypothesis over models, devices and scenarios."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from llm_roofline import analyze, analyze_many
from llm_roofline.hardware.spec import Efficiency, Hardware

from conftest import SAWTOOTH_MODELS, VARIED_MODELS

DEVICE = Hardware(name="dev", memory_bandwidth_bytes_per_s=1e12, memory_capacity_bytes=80e9,
                  peak_flops_per_s={"fp32": 20e12, "fp16": 300e12, "int8": 600e12, "int4": 1200e12})
models = st.sampled_from(sorted(VARIED_MODELS))
ALL_MODELS = {**VARIED_MODELS, **SAWTOOTH_MODELS}
any_models = st.sampled_from(sorted(ALL_MODELS))  # for invariants that hold under chunked attention too
bits = st.integers(1, 32)
common = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _scenario(draw):
    return dict(batch_size=draw(st.integers(1, 64)), prompt_len=draw(st.integers(1, 300)),
                gen_len=draw(st.integers(0, 200)), w_bits=draw(bits), a_bits=draw(bits), kv_bits=draw(bits),
                flash_attention=draw(st.booleans()))


scenarios = st.composite(lambda draw: _scenario(draw))()


def _metrics(r):
    return np.array([r.prefill.total.time_s, r.decode.total.time_s, r.generation.e2e_s,
                     r.memory.total_bytes, r.memory.kv_cache_bytes, r.memory.activations_bytes])


@common
@given(kind=models, sc=scenarios, axis=st.sampled_from(["batch_size", "prompt_len", "gen_len"]),
       step=st.integers(1, 50))
def test_time_and_memory_never_decrease_with_batch_or_length(kind, sc, axis, step):
    model = VARIED_MODELS[kind]()
    before = analyze(model, DEVICE, **sc)
    after = analyze(model, DEVICE, **{**sc, axis: sc[axis] + step})
    assert np.all(_metrics(after) >= _metrics(before) * (1 - 1e-12))


@common
@given(kind=any_models, sc=scenarios, role=st.sampled_from(["w_bits", "a_bits", "kv_bits"]), drop=st.integers(1, 31))
def test_fewer_bits_never_mean_more_bytes(kind, sc, role, drop):
    model = ALL_MODELS[kind]()
    fewer = max(1, sc[role] - drop)
    wide = analyze(model, DEVICE, **sc)
    narrow = analyze(model, DEVICE, **{**sc, role: fewer})
    for a, b in ((narrow.prefill.total.bytes, wide.prefill.total.bytes),
                 (narrow.decode.total.bytes, wide.decode.total.bytes),
                 (narrow.memory.total_bytes, wide.memory.total_bytes)):
        assert a <= b * (1 + 1e-12)


@common
@given(kind=any_models, sc=scenarios, cf=st.floats(0.1, 1.0), bf=st.floats(0.1, 1.0), overhead=st.floats(0, 1e-4))
def test_operator_time_never_below_either_roofline_bound(kind, sc, cf, bf, overhead):
    eff = Efficiency(compute_fraction=cf, bandwidth_fraction=bf, kernel_overhead_s=overhead)
    r = analyze(ALL_MODELS[kind](), DEVICE, efficiency=eff, **sc)
    for stage in (r.prefill, r.decode):
        for op in stage.ops:
            assert op.time_s >= op.flops / op.peak_flops_per_s * (1 - 1e-12)
            assert op.time_s >= op.bytes / (1e12 * bf) * (1 - 1e-12)
            assert op.peak_flops_per_s <= 1200e12 * cf * (1 + 1e-12)
            # The roofline at the operator's intensity, from the device's numbers; attained never above it.
            roof = min(op.peak_flops_per_s, 1e12 * bf * op.arithmetic_intensity)
            assert np.isclose(op.attainable_flops_per_s, roof, rtol=1e-12)
            assert op.performance_flops_per_s <= roof * (1 + 1e-9)


@common
@given(kind=any_models, sc=scenarios)
def test_totals_are_the_sum_of_operators_times_counts(kind, sc):
    r = analyze(ALL_MODELS[kind](), DEVICE, **sc)
    for stage in (r.prefill, r.decode):
        for field in ("flops", "bytes", "weight_bytes", "activation_bytes", "kv_cache_bytes", "time_s"):
            expected = sum(getattr(op, field) * op.count for op in stage.ops)
            assert np.isclose(getattr(stage.total, field), expected, rtol=1e-12, atol=0)
        assert np.isclose(sum(op.time_share for op in stage.ops), 1.0)


@common
@given(kind=any_models, sc=scenarios)
def test_vectorized_evaluation_equals_one_at_a_time(kind, sc):
    model = ALL_MODELS[kind]()
    batches = [1, 3, sc["batch_size"]]
    many = analyze_many(model, DEVICE, **{**sc, "batch_size": batches})
    for i, b in enumerate(batches):
        one = analyze(model, DEVICE, **{**sc, "batch_size": b})
        assert np.isclose(many.generation.e2e_s[i], one.generation.e2e_s, rtol=1e-12)
        assert np.isclose(many.memory.total_bytes[i], one.memory.total_bytes, rtol=1e-12)


@common
@given(kind=any_models, sc=scenarios)
def test_the_largest_batch_that_fits_fits_and_one_more_does_not(kind, sc):
    model = ALL_MODELS[kind]()
    small = Hardware(name="small", memory_bandwidth_bytes_per_s=1e12, memory_capacity_bytes=2e8,
                     peak_flops_per_s={"fp16": 100e12})
    largest = analyze(model, small, **sc).memory.max_batch_size
    assume(largest < 1_000_000)  # the largest batch the scenario accepts
    if largest >= 1:
        assert analyze(model, small, **{**sc, "batch_size": largest}).memory.fits
    assert not analyze(model, small, **{**sc, "batch_size": largest + 1}).memory.fits
