"""Invariants of the techniques, by Hypothesis: every setting off gives today's numbers; no technique
beats the roofline bound; more sparsity never means more bytes; more offloading never means less time
when the host link is slower than device memory."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_roofline import analyze
from llm_roofline.api import analyze_many
from llm_roofline.hardware.spec import Hardware

from conftest import VARIED_MODELS

CPU = Hardware(name="cpu", kind="cpu", memory_bandwidth_bytes_per_s=300e9, memory_capacity_bytes=1e12,
               peak_flops_per_s={"fp16": 50e12, "fp32": 5e12})
DEVICE = Hardware(name="dev", memory_bandwidth_bytes_per_s=1e12, memory_capacity_bytes=80e9,
                  peak_flops_per_s={"fp32": 20e12, "fp16": 300e12, "fp8": 600e12, "int8": 600e12, "int4": 1200e12},
                  sram_per_sm_bytes=192 * 1024, sm_count=100, host_bandwidth_bytes_per_s=64e9, sparse_2to4=True)
models = st.sampled_from(sorted(VARIED_MODELS))
common = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
fractions = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])


def _scenario(draw):
    return dict(batch_size=draw(st.integers(1, 32)), prompt_len=draw(st.integers(2, 300)),
                gen_len=draw(st.integers(0, 100)), w_bits=draw(st.sampled_from([16, 8, 4])),
                kv_bits=draw(st.sampled_from([16, 8])), flash_attention=draw(st.booleans()))


scenarios = st.composite(lambda draw: _scenario(draw))()


@st.composite
def techniques(draw):
    out = {}
    if draw(st.booleans()):
        out["fusion"] = draw(st.sampled_from(["elementwise", "aggressive"]))
    if draw(st.booleans()):
        out["sparse_format"] = draw(st.sampled_from(["csr", "bitmap", "2:4"]))
        if out["sparse_format"] != "2:4":
            out["weight_sparsity"] = draw(st.sampled_from([0.3, 0.5, 0.9]))
    if draw(st.booleans()):
        out["attention"] = draw(st.sampled_from(["ideal", "fa2"]))
    if draw(st.booleans()):
        out.update(offload_weights=draw(fractions), offload_kv=draw(fractions), host=CPU,
                   offload_compute=draw(st.sampled_from(["device", "cpu"])), offload_overlap=draw(st.booleans()))
    if draw(st.booleans()):
        out["kv_allocation"] = draw(st.sampled_from(["paged", "contiguous"]))
        out["max_seq_len"] = 1000
    if draw(st.booleans()):
        out["low_rank"] = {"layers": 0.25}
    if draw(st.booleans()):
        out["prune_layers"] = 0.5
    return out


@common
@given(kind=models, sc=scenarios)
def test_every_technique_at_its_neutral_setting_changes_nothing(kind, sc):
    # fusion none, dense storage of pruned weights (nothing changes), nothing offloaded, exact KV
    # allocation, no prefix, no pruning, embeddings at the weights' own format: today's numbers exactly.
    model = VARIED_MODELS[kind]()
    plain = analyze(model, DEVICE, **sc).to_dict()
    neutral = analyze(model, DEVICE, fusion="none", weight_sparsity=0.5, sparse_format="dense", offload_weights=0.0,
                      offload_kv=0.0, kv_allocation="exact", prefix_len=0, prune_layers=0.0,
                      embed_bits=sc["w_bits"], **sc).to_dict()
    for key in ("prefill", "decode", "generation", "memory"):
        assert neutral[key] == plain[key]


@common
@given(kind=models, sc=scenarios, tech=techniques())
def test_no_technique_beats_the_roofline_bound(kind, sc, tech):
    # Each operator takes at least its FLOPs at the fastest peak the device has (the 2:4 sparse rate
    # counts as halved FLOPs), its device bytes at the device's bandwidth and its offloaded bytes at the
    # host link's; a stage at least the sum over its operators.
    model = VARIED_MODELS[kind]()
    a = analyze_many(model, DEVICE, **sc, **tech)
    fastest = max(DEVICE.peak_flops_per_s.values())
    for costs in (a.prefill, a.decode):
        t = costs.table
        host = 0.0 if t.host_read_bytes is None else t.host_read_bytes + t.host_write_bytes
        on_cpu = 0.0 if t.host_share is None or tech.get("offload_compute") != "cpu" else t.host_share
        device_flops = (1.0 - on_cpu) * t.flops
        assert np.all(costs.time_s >= device_flops / fastest * (1 - 1e-12))
        assert np.all(costs.time_s >= (t.bytes - host) / DEVICE.memory_bandwidth_bytes_per_s * (1 - 1e-12))
        if tech.get("offload_compute") != "cpu":
            assert np.all(costs.time_s >= np.maximum(t.host_read_bytes if t.host_read_bytes is not None else 0,
                                                     t.host_write_bytes if t.host_write_bytes is not None else 0)
                          / 32e9 * (1 - 1e-12))


@common
@given(kind=models, sc=scenarios, fmt=st.sampled_from(["csr", "bitmap"]), low=st.floats(0, 0.9),
       more=st.floats(0, 0.09))
def test_more_sparsity_never_means_more_bytes(kind, sc, fmt, low, more):
    model = VARIED_MODELS[kind]()
    a = analyze(model, DEVICE, weight_sparsity=low, sparse_format=fmt, **sc)
    b = analyze(model, DEVICE, weight_sparsity=low + more, sparse_format=fmt, **sc)
    for x, y in ((b.prefill.total.bytes, a.prefill.total.bytes), (b.decode.total.bytes, a.decode.total.bytes),
                 (b.memory.total_bytes, a.memory.total_bytes)):
        assert x <= y * (1 + 1e-12)


@common
@given(kind=models, sc=scenarios, w=fractions, kv=fractions, dw=fractions, dkv=fractions, overlap=st.booleans())
def test_more_offloading_never_means_less_time_with_a_slower_host_link(kind, sc, w, kv, dw, dkv, overlap):
    # The host link (32 GB/s each way) is slower than device memory (1 TB/s): with the device computing,
    # moving more bytes off the device never makes a stage faster. (With the host CPU computing its
    # share, two processors work at once and a small share can be faster: techniques/offload.py.)
    model = VARIED_MODELS[kind]()
    opts = dict(host=CPU, offload_overlap=overlap, **sc)
    less = analyze(model, DEVICE, offload_weights=w, offload_kv=kv, **opts)
    more = analyze(model, DEVICE, offload_weights=min(1.0, w + dw), offload_kv=min(1.0, kv + dkv), **opts)
    for x, y in ((more.prefill.total.time_s, less.prefill.total.time_s),
                 (more.decode.total.time_s, less.decode.total.time_s),
                 (more.generation.e2e_s, less.generation.e2e_s)):
        assert x >= y * (1 - 1e-12)


@pytest.mark.parametrize("level", ["elementwise", "aggressive"])
def test_fusion_never_adds_bytes_or_kernels(level):
    for kind, make in VARIED_MODELS.items():
        plain = analyze(make(), DEVICE, batch_size=3, prompt_len=40, gen_len=5)
        fused = analyze(make(), DEVICE, batch_size=3, prompt_len=40, gen_len=5, fusion=level)
        assert fused.prefill.total.bytes <= plain.prefill.total.bytes, kind
        assert fused.decode.total.bytes <= plain.decode.total.bytes, kind
        assert len(fused.decode.ops) <= len(plain.decode.ops), kind
        assert fused.generation.e2e_s <= plain.generation.e2e_s * (1 + 1e-12), kind
