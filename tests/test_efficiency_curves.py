"""The kernel-time curve (efficiency/curves.py): bounds, monotonicity, and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_roofline.efficiency.curves import BOUNDS, Curve, Features, kernel_time, p_norm
from llm_roofline.efficiency.features import features
from llm_roofline.errors import ConfigError

BW = 3.35e12


def curves():
    """Curves with every parameter drawn inside its bounds (log-uniform for the scales)."""
    def param(name):
        low, high = BOUNDS[name]
        if name in ("compute_eff", "memory_eff"):
            return st.floats(low, high)
        if name == "knee":
            return st.floats(1.0, 64.0)
        return st.one_of(st.just(0.0), st.floats(max(low, 1e-12), high)) if low == 0 else st.floats(low, high)

    return st.builds(Curve, **{name: param(name) for name in BOUNDS})


times = st.floats(1e-9, 1e-1)
units = st.floats(1e-4, 1e4)


@settings(max_examples=200, deadline=None)
@given(curves(), times, times, units, units, st.floats(0, 1e6), st.sampled_from([1.0, 2.0, 8.0, 32.0, 33.0, 128.0]))
def test_never_below_the_roofline(curve, tc, tm, x, y, depth, group):
    """Either kernel (grouped or per-head, by the group size) stays above the roofline time."""
    t = kernel_time(curve, tc, tm, Features(depth=depth, x=x, y=y, items=x, extra=0.0, group=group), BW)
    assert t >= curve.t0_s + max(tc, tm) * (1 - 1e-12)


@settings(max_examples=200, deadline=None)
@given(curves(), times, times, units, units, st.floats(1.0, 10.0))
def test_monotone_in_work_and_parallelism(curve, tc, tm, x, y, factor):
    """More FLOPs or bytes never take less time; more parallel work never lowers the efficiency
    (so the same work over more parallel units never takes longer); a deeper serial loop never
    takes less time."""
    f = Features(depth=100.0, x=x, y=y, items=0.0)
    base = kernel_time(curve, tc, tm, f, BW)
    assert kernel_time(curve, tc * factor, tm, f, BW) >= base * (1 - 1e-12)
    assert kernel_time(curve, tc, tm * factor, f, BW) >= base * (1 - 1e-12)
    assert kernel_time(curve, tc, tm, Features(depth=100.0, x=x * factor, y=y * factor, items=0.0), BW) \
        <= base * (1 + 1e-12)
    assert kernel_time(curve, tc, tm, Features(depth=100.0 * factor, x=x, y=y, items=0.0), BW) >= base * (1 - 1e-12)


def test_hand_computed_value():
    """t0 + (lat^p + (tc/eta_c)^p + (tm/eta_m)^p)^(1/p) + c_item*items + q*extra/BW, by hand:
    lat = 4e-6 * 1000 / (1000 + 1000) = 2e-6; eta_c = 0.5 * 1 / (1 + 1) = 0.25 -> 4e-6 / 0.25 = 16e-6;
    eta_m = 0.8 -> 8e-6 / 0.8 = 10e-6; p = 2: sqrt(2^2 + 16^2 + 10^2) us = sqrt(360) us;
    items 2 x 1e-6; extra 3.35e6 elements x 2 bytes / 3.35e12 B/s = 2e-6."""
    curve = Curve(t0_s=3e-6, t1_s=4e-6, depth_half=1000, compute_eff=0.5, compute_half=1.0, memory_eff=0.8,
                  knee=2.0, item_s=1e-6, extra_bytes=2.0)
    f = Features(depth=1000.0, x=1.0, y=5.0, items=2.0, extra=3.35e6)
    expected = 3e-6 + np.sqrt(360.0) * 1e-6 + 2e-6 + 2e-6
    assert kernel_time(curve, 4e-6, 8e-6, f, BW) == pytest.approx(expected, rel=1e-12)


def test_grouped_and_per_head_kernels_by_hand():
    """Decode attention with an engine rule group_limit = 32 (TensorRT-LLM: XQA for 2..32 query
    heads per KV head, masked MHA otherwise). tc = 1 us, tm = 8 us, 2 CTAs per SM, p = 2,
    compute_eff 1, memory_eff 0.8, t0 2 us, item_s 1 us (serial), item_overlap_s 3 us, per-head CTA 1 us,
    reread 0.5, head_memory_eff 0.5:
    - g = 4 (grouped): 2 + sqrt(1^2 + (8/0.8)^2 + (3*2)^2) + 1*2 us;
    - g = 64 (per head): 128 CTAs per SM; tm -> 8 * (1 + 0.5*63) / 0.5 = 520 us, / 0.8 = 650 us;
      2 + sqrt(1 + 650^2 + (1*128)^2) us, no serial item cost;
    - g = 1 (MHA, per head): tm -> 8 / 0.5 = 16 us, / 0.8 = 20; 2 CTAs: 2 + sqrt(1 + 20^2 + 2^2) us;
    - without the rule (group_limit 0) g = 64 is the grouped kernel: the g = 4 value."""
    us = 1e-6
    curve = Curve(t0_s=2 * us, memory_eff=0.8, knee=2.0, item_s=1 * us, item_overlap_s=3 * us, group_limit=32.0,
                  head_item_s=1 * us, reread=0.5, head_memory_eff=0.5)

    def t(group, c=curve):
        return float(kernel_time(c, 1 * us, 8 * us, Features(x=1.0, y=1.0, items=2.0, group=group), BW))

    assert t(4) == pytest.approx((2 + np.sqrt(1 + 10**2 + 6**2) + 2) * us, rel=1e-12)
    assert t(32) == pytest.approx(t(4), rel=1e-12)
    assert t(64) == pytest.approx((2 + np.sqrt(1 + 650**2 + 128**2)) * us, rel=1e-12)
    assert t(1) == pytest.approx((2 + np.sqrt(1 + 20**2 + 2**2)) * us, rel=1e-12)
    no_rule = Curve(**{**curve.to_dict(), "group_limit": 0.0})
    assert t(64, no_rule) == pytest.approx(t(4), rel=1e-12)


def test_decode_attention_features_by_hand():
    """B = 2 sequences, 32 heads / 8 KV heads, 4096 keys, 132 SMs: 16 CTAs (one per sequence and KV
    head) = 16/132 per SM; group 4; the split-KV CTAs 16 * 4096 / 512 = 128 per 132 SMs (below one
    wave); at B = 64 the 512 CTAs fill the SMs without a split (512/132). MLA decode does not split.
    A sliding window of 1000 keys: 16 * 1000 / 512 = 31.25 CTAs."""
    def shape(B, window=np.inf):
        return {"kernel": "attention", "B": B, "T": 1.0, "S": 4096.0, "heads": 32.0, "kv_heads": 8.0,
                "qk_dim": 128.0, "v_dim": 128.0, "window": window}

    f = features("attention_decode", shape(2.0), 0.0, 132)
    assert float(f.items) == pytest.approx(16 / 132) and float(f.group) == 4.0
    assert float(f.x) == pytest.approx(64 / 132) and float(f.depth) == 4096.0
    assert float(f.y) == pytest.approx(128 / 132)
    assert float(features("attention_decode", shape(64.0), 0.0, 132).y) == pytest.approx(512 / 132)
    assert float(features("attention_decode", shape(2.0, 1000.0), 0.0, 132).y) == pytest.approx(31.25 / 132)
    assert float(features("mla_decode", shape(2.0), 0.0, 132).y) == pytest.approx(16 / 132)
    assert float(features("attention_decode", {**shape(8.0), "S": 1e6}, 0.0, 132).y) == 1.0  # one wave


def test_knee_one_adds_and_large_knee_is_the_max():
    assert p_norm([1.0, 2.0, 3.0], 1.0) == pytest.approx(6.0)
    assert p_norm([1.0, 2.0, 3.0], 64.0) == pytest.approx(3.0, rel=0.02)
    assert p_norm([0.0, 0.0], 3.0) == 0.0


def test_out_of_bounds_parameters_are_rejected():
    with pytest.raises(ConfigError, match="compute_eff"):
        Curve(compute_eff=1.5)
    with pytest.raises(ConfigError, match="knee"):
        Curve(knee=0.5)
    with pytest.raises(ConfigError, match="t0_s"):
        Curve(t0_s=float("nan"))
