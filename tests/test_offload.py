"""Offloading (techniques/offload.py, placement.py): the second memory slope, overlap, the host CPU,
the exact generation sum and memory by place, by hand."""

from __future__ import annotations

import pytest

from llm_roofline import analyze
from llm_roofline.errors import ScenarioError
from llm_roofline.hardware.spec import Hardware

from conftest import llama, op

GPU = Hardware(name="gpu", memory_bandwidth_bytes_per_s=2e12, memory_capacity_bytes=40e9,
               peak_flops_per_s={"fp16": 300e12}, host_bandwidth_bytes_per_s=64e9)  # PCIe Gen4 x16, both ways
CPU = Hardware(name="cpu", kind="cpu", memory_bandwidth_bytes_per_s=300e9, memory_capacity_bytes=1e12,
               peak_flops_per_s={"fp16": 100e12, "fp32": 7e12})
LINK = 32e9  # per direction


def _llama(**kw):
    return analyze(llama(), GPU, batch_size=1, prompt_len=1024, gen_len=0, flash_attention=True, host=CPU, **kw)


def test_fully_offloaded_weights_stream_over_the_link():
    # Decode, batch 1: q_proj reads D*D fp16 weights (33.6 MB) over the link at 32 GB/s, 1.05 ms; its
    # activations (16 kB) from device memory. Its roofline is min(peak, 32e9 * I): the second slope.
    plain, off = _llama(), _llama(offload_weights=1.0)
    q, q0 = op(off.decode, "q_proj"), op(plain.decode, "q_proj")
    weights = 4096 * 4096 * 2
    assert q.host_bytes == weights
    assert q.host_time_s == pytest.approx(weights / LINK)
    assert q.time_s == pytest.approx(weights / LINK) and q.bound == "host"
    assert q.flops == q0.flops and q.bytes == q0.bytes
    assert off.decode.total.bound == "host"


def test_a_fraction_overlaps_and_serial_adds():
    # Half the weights offloaded: q_proj's time is the larger of the link's half and device memory's
    # traffic (the kernel's, plus the half landing from the link); without overlap the transfer comes
    # first and the kernel after it.
    weights, act = 4096 * 4096 * 2, 2 * 4096 * 2
    overlap = op(_llama(offload_weights=0.5).decode, "q_proj")
    serial = op(_llama(offload_weights=0.5, offload_overlap=False).decode, "q_proj")
    on_device = (weights + act + weights / 2) / 2e12  # the kernel's reads and the landing copy
    assert overlap.time_s == pytest.approx(max(weights / 2 / LINK, on_device))
    assert serial.time_s == pytest.approx(weights / 2 / LINK + on_device)


def test_offloaded_kv_cache_goes_both_ways():
    # The attention core reads f_kv of K, V over the link (host to device); k_proj / v_proj write f_kv
    # of the new token's K, V back (device to host), each direction at 32 GB/s.
    S, K, H = 1024, 32, 128
    r = _llama(offload_kv=0.25)
    core = op(r.decode, "fused_attention")
    assert core.host_bytes == pytest.approx(0.25 * S * K * 2 * H * 2)
    assert core.host_time_s == pytest.approx(0.25 * S * K * 2 * H * 2 / LINK)
    assert op(r.decode, "k_proj").host_bytes == pytest.approx(0.25 * K * H * 2)


def test_compute_on_the_host_cpu():
    # FlexGen's CPU attention: with the whole KV cache in host memory and compute on the CPU, the core's
    # work runs on the CPU: max(FLOPs / CPU peak, cache bytes / host memory bandwidth); its activations
    # cross the link (both directions, 64 GB/s together).
    r = _llama(offload_kv=1.0, offload_compute="cpu")
    core = op(r.decode, "fused_attention")
    cache = 1024 * 32 * 2 * 128 * 2
    act = core.activation_bytes
    assert core.time_s == pytest.approx(max(core.flops / 100e12, cache / 300e9, act / 64e9))


def test_generation_sum_is_exact_with_the_host_resources():
    # windows of 1100 (crossed during the generation) and 500 (the prompt already beyond it)
    for kw, window in ((dict(offload_kv=0.5), 1100), (dict(offload_weights=0.3, offload_overlap=False), 1100),
                       (dict(offload_kv=0.7, offload_weights=0.2, offload_compute="cpu"), 1100),
                       (dict(offload_kv=0.7, offload_weights=0.2, offload_compute="cpu"), 500),
                       (dict(offload_kv=0.5), 500)):
        model = llama(L=2, window=window)
        whole = analyze(model, GPU, batch_size=2, prompt_len=1080, gen_len=50, host=CPU, **kw)
        steps = sum(analyze(model, GPU, batch_size=2, prompt_len=1080, kv_len=1080 + j, gen_len=0, host=CPU,
                            **kw).decode.total.time_s for j in range(1, 51))
        assert whole.generation.e2e_s - whole.generation.ttft_s == pytest.approx(steps, rel=1e-12)


def test_memory_by_place_and_largest_batch():
    # Llama-2-7B weights 13.48 GB; 40% offloaded; half the KV cache (524,288 bytes per token) on the host
    # of 1 TB. Device: 60% of the weights + half the cache + activations; the largest batch is set by
    # the device's 40 GB.
    B, P, G = 4, 1000, 24
    r = analyze(llama(), GPU, batch_size=B, prompt_len=P, gen_len=G, host=CPU, offload_weights=0.4, offload_kv=0.5)
    m = r.memory
    kv = B * (P + G) * 32 * 2 * 4096 * 2
    assert m.kv_cache_bytes == kv
    assert m.host_bytes == pytest.approx(0.4 * m.weights_bytes + 0.5 * kv)
    assert m.device_bytes == pytest.approx(0.6 * m.weights_bytes + 0.5 * kv + m.activations_bytes)
    assert m.host_capacity_bytes == 1e12 and m.fits
    per_sequence = 0.5 * kv / B + m.activations_bytes / B
    assert m.max_batch_size == int((40e9 - 0.6 * m.weights_bytes) // per_sequence)
    small_host = analyze(llama(), GPU, batch_size=B, prompt_len=P, gen_len=G, host=CPU, offload_weights=0.4,
                         offload_kv=0.5, host_memory="6GB")
    assert not small_host.memory.fits
    assert small_host.memory.max_batch_size == int((6e9 - 0.4 * m.weights_bytes) // (0.5 * kv / B))


def test_offloading_only_the_experts():
    from conftest import small_moe

    r = analyze(small_moe(), GPU, batch_size=4, prompt_len=64, gen_len=0, host=CPU, offload_weights=1.0,
                offload_modules="experts")
    assert all(o.host_bytes == 0 for o in r.decode.ops if not o.name.startswith("experts."))
    assert any(o.host_bytes > 0 for o in r.decode.ops if o.name.startswith("experts."))


def test_disk_needs_a_bandwidth_and_is_the_slower_link():
    with pytest.raises(ScenarioError, match="disk_bandwidth"):
        _llama(offload_weights=0.5, offload_to="disk")
    r = _llama(offload_weights=1.0, offload_to="disk", disk_bandwidth="7GB/s")
    assert op(r.decode, "q_proj").time_s == pytest.approx(4096 * 4096 * 2 / 7e9)
    assert r.memory.host_capacity_bytes is None  # a disk: no limit here


def test_a_device_without_a_host_link_needs_one():
    bare = Hardware(name="bare", memory_bandwidth_bytes_per_s=1e12, memory_capacity_bytes=8e10,
                    peak_flops_per_s={"fp16": 1e14})
    with pytest.raises(ScenarioError, match="host_bandwidth"):
        analyze(llama(), bare, offload_weights=0.5, host=CPU)
    r = analyze(llama(), bare, offload_weights=1.0, host=CPU, host_bandwidth="100GB/s", gen_len=0)
    assert op(r.decode, "q_proj").time_s == pytest.approx(4096 * 4096 * 2 / 50e9)


def test_the_upper_envelope_of_many_lines_is_summed_exactly():
    # generation.sum_max_lines against a loop over the integers, for random lines (any number of them).
    import numpy as np

    from llm_roofline.generation import sum_max_lines

    rng = np.random.default_rng(7)
    for trial in range(60):
        k = 1 + trial % 5
        lines = [(rng.normal(0, 5, 3), rng.normal(0, 1, 3)) for _ in range(k)]
        lo, hi = rng.integers(-20, 20, 3).astype(float), rng.integers(-20, 40, 3).astype(float)
        got = sum_max_lines(lo, hi, lines)
        for j in range(3):
            xs = np.arange(lo[j], hi[j] + 1)
            want = sum(max(a[j] + b[j] * x for a, b in lines) for x in xs)
            assert got[j] == pytest.approx(want, rel=1e-9, abs=1e-9)
