"""llm-roofline measure: timing, the measured peaks and curves, the device YAML, the calibrated
analysis on a measured device. A simulated device (conftest.FakeDevice, a fake clock driven by
known physics) is the oracle for the numbers; this machine's CPU (NumPy, and PyTorch when
installed) is measured with tiny sizes to check the real path end to end."""

from __future__ import annotations

import datetime
import math
from dataclasses import replace

import numpy as np
import pytest

from llm_roofline.api import analyze_many
from llm_roofline.efficiency.calibrate import errors
from llm_roofline.efficiency.curves import Curve, Features, kernel_time
from llm_roofline.efficiency.measure_backends import backend_for
from llm_roofline.efficiency.measure_device import MeasuredCalibration, MeasuredCurve
from llm_roofline.efficiency.measure_fit import fit_set, gemm_rows, measured_device, stream_rows
from llm_roofline.efficiency.measure_run import Measurements, Plan, run, time_per_call
from llm_roofline.efficiency.measure_yaml import device_yaml
from llm_roofline.errors import ConfigError
from llm_roofline.hardware.catalog import load_hardware

from conftest import FakeDevice, llama, small_mla, small_moe

STREAM = tuple(4096 * 4**i for i in range(8))  # 4 KiB .. 64 MiB per array
SHAPES = tuple((m, n, k) for m in (1, 4, 16, 64, 256, 1024) for n, k in ((1024, 1024), (4096, 1024)))
PLAN = Plan(STREAM, SHAPES, (4096, 2**20, 2**26), seconds_per_point=0.01, trials=2)
TINY = Plan((4096, 65536, 2**20), ((1, 64, 64), (8, 64, 64), (64, 128, 128), (16, 128, 64)),
            seconds_per_point=0.003, trials=2, cap_s=0.05)


def _fake_device(**kw):
    fake = FakeDevice(peaks={"fp32": 100e9, "bf16": 400e9}, **kw)
    return fake, measured_device(run(fake, PLAN), "fake-device")


@pytest.fixture(scope="module")
def fake():
    return _fake_device()


@pytest.fixture(scope="module")
def fake_file(fake, tmp_path_factory):
    path = tmp_path_factory.mktemp("measure") / "fake.yaml"
    path.write_text(device_yaml(fake[1]))
    return path


def test_time_per_call_on_a_fake_clock():
    """A call that advances the clock by 1 ms takes 1 ms; one above the cap is timed once more only."""
    clock = {"t": 0.0, "calls": 0}

    def call(seconds):
        def fn():
            clock["t"] += seconds
            clock["calls"] += 1
        return fn

    t, slow = time_per_call(call(1e-3), lambda: None, lambda: clock["t"], budget_s=0.05, trials=3)
    assert t == pytest.approx(1e-3, rel=1e-12) and not slow
    assert 50 <= clock["calls"] <= 60  # 2 warm-ups + batches until the 50 ms budget is spent
    clock["calls"] = 0
    t, slow = time_per_call(call(0.2), lambda: None, lambda: clock["t"], budget_s=0.05, trials=3, cap_s=0.1)
    assert slow and t == pytest.approx(0.2) and clock["calls"] == 2


def test_a_simulated_device_gives_back_its_physics(fake):
    """Bandwidth and peaks are the best achieved rates, computed here by hand from the fake's
    physics; the fitted curves reproduce the points and find the launch cost."""
    device, hw = fake
    bw, launch = device.bandwidth, device.launch_s
    n = STREAM[-1] // 4
    copy, triad = 8.0 * n / (launch + 8.0 * n / bw), 12.0 * n / (launch + 12.0 * n / bw)
    assert hw.memory_bandwidth_bytes_per_s == pytest.approx(max(copy, triad), rel=1e-9)
    for fmt, width in (("fp32", 4), ("bf16", 2)):
        best = max(2.0 * m * n * k / (launch + max(2.0 * m * n * k / device.peaks[fmt], (m * k + k * n + m * n) * width
                                                   / bw)) for m, n, k in SHAPES)
        assert hw.peak_flops_per_s[fmt] == pytest.approx(best, rel=1e-9)
    assert device.closed and hw.sm_count == 4 and hw.kind == "cpu" and hw.vendor == "Test"
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    assert hw.calibration.provenance.startswith(f"measured on this machine {today} (llm-roofline measure, fake 1.0")
    curves = hw.calibration.curves
    assert set(curves) == {("gemm", "fp32"), ("gemm", "bf16"), ("elementwise", "fp32")}
    for c in curves.values():
        assert c.median_error < 0.01 and c.p90_error < 0.02
    assert curves[("elementwise", "fp32")].curve.t0_s == pytest.approx(launch, rel=0.05)
    assert hw.calibration.launch_overhead_s == pytest.approx(launch + 12.0 / bw, rel=1e-12)  # one-element add
    assert hw.interconnect_bandwidth_bytes_per_s is None  # one device: no all-reduce


def test_the_device_yaml_round_trips(fake, fake_file):
    hw, loaded = fake[1], load_hardware(fake_file)
    assert loaded.name == "fake-device" and loaded.kind == "cpu" and loaded.sm_count == 4
    assert loaded.memory_bandwidth_bytes_per_s == pytest.approx(hw.memory_bandwidth_bytes_per_s, rel=1e-8)
    assert loaded.memory_capacity_bytes == pytest.approx(8e9, rel=1e-8)
    assert dict(loaded.peak_flops_per_s) == pytest.approx(dict(hw.peak_flops_per_s), rel=1e-8)
    a, b = hw.calibration, loaded.calibration
    assert b.provenance == a.provenance and b.launch_overhead_s == pytest.approx(a.launch_overhead_s, rel=1e-5)
    assert set(b.curves) == set(a.curves)
    for key, c in a.curves.items():
        assert b.curves[key].curve == c.curve  # the fit is stored as written (6 significant digits)
        assert b.curves[key].rows == c.rows
        assert b.curves[key].median_error == pytest.approx(c.median_error, abs=5e-5)
    again = Measurements.from_dict(b.measurements)
    assert again.gemm == a.measurements["gemm"] and again.stream == a.measurements["stream"]


def _recomputed_errors(hw, cls, fmt):
    m = Measurements.from_dict(hw.calibration.measurements)
    rows = gemm_rows(m.gemm, fmt) if cls == "gemm" else stream_rows(m.stream, m.tiny_s)
    return errors(fit_set(rows, hw, cls, fmt, m.library), hw.calibration.curves[(cls, fmt)].curve)


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_this_cpu_measured_with_tiny_sizes(library, tmp_path):
    """The real path: positive bandwidth and peaks below sane bounds for any CPU, and the curves
    read back from the YAML reproduce the measured points with their stated error."""
    if library == "torch":
        pytest.importorskip("torch")
    backend = backend_for("cpu", library)
    hw = measured_device(run(backend, replace(TINY, formats=("fp32", "bf16"))), f"this-cpu-{library}")
    path = tmp_path / "cpu.yaml"
    path.write_text(device_yaml(hw))
    loaded = load_hardware(path)
    assert 1e6 < loaded.memory_bandwidth_bytes_per_s < 5e12  # no CPU streams 5 TB/s
    assert "fp32" in loaded.peak_flops_per_s
    assert all(1e6 < p < 1e15 for p in loaded.peak_flops_per_s.values())
    assert 0 < loaded.calibration.launch_overhead_s < 1e-2
    for (cls, fmt), stated in loaded.calibration.curves.items():
        e = _recomputed_errors(loaded, cls, fmt)
        assert len(e) == stated.rows
        assert np.median(e) == pytest.approx(stated.median_error, abs=1e-3)
        assert np.quantile(e, 0.9) == pytest.approx(stated.p90_error, abs=1e-3)


MODELS = {"llama": llama(L=2), "moe": small_moe(), "mla": small_mla(), "window": llama(L=2, window=64)}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("engine", ["generic", "hf-eager"])
def test_an_analysis_on_the_measured_device_is_never_faster_than_its_roofline(fake_file, name, engine):
    kw = dict(batch_size=[1, 8, 64], prompt_len=[16, 512, 2048], gen_len=[1, 50, 200], w_bits=[16, 8, 4])
    a = analyze_many(MODELS[name], str(fake_file), efficiency="calibrated", engine=engine, **kw)
    ideal = analyze_many(MODELS[name], str(fake_file), **kw)
    for costs in (a.prefill, a.decode, a.decode_at0, a.decode_at1):
        assert (costs.time_s >= costs.roofline_time_s * (1 - 1e-12)).all()
        assert ((costs.efficiency > 0) & (costs.efficiency <= 1 + 1e-12)).all()
    assert (a.generation.ttft_s >= ideal.generation.ttft_s).all()
    assert (a.generation.e2e_s >= ideal.generation.e2e_s).all()
    assert (a.decode.time_s > a.decode.roofline_time_s).any()  # the curves do act


def test_curves_and_their_provenance_on_a_measured_device(fake, fake_file):
    """16-bit GEMMs take the measured bf16 curve; an fp8 GEMM the 16-bit one (noted); decode
    attention streams its bytes through the elementwise curve; prefill attention pays the
    per-call overhead on its roofline time."""
    hw = load_hardware(fake_file)
    a = analyze_many(llama(L=2), hw, efficiency="calibrated", batch_size=4, prompt_len=256, flash_attention=True)
    assert a.efficiency.summary()["curves_from"] == "measured"
    assert a.efficiency.summary()["curves"] == hw.calibration.provenance
    names = a.decode.table.names
    src = dict(zip(names, a.decode.sources, strict=True))
    assert "gemm bf16 (" in src["q_proj"] and "[" not in src["q_proj"]
    attn = names.index("fused_attention")
    assert "elementwise fp32" in src["fused_attention"] and "no attention_decode measurement" in src["fused_attention"]
    curve = hw.calibration.curves[("elementwise", "fp32")].curve
    bw = hw.memory_bandwidth_bytes_per_s
    expected = kernel_time(curve, a.decode.compute_time_s[attn], a.decode.memory_time_s[attn],
                           Features(y=a.decode.table.bytes[attn] / hw.sm_count), bw)
    assert a.decode.time_s[attn] == pytest.approx(expected, rel=1e-12)
    pre = a.prefill.table.names.index("fused_attention")
    roof, launch = a.prefill.roofline_time_s[pre], hw.calibration.launch_overhead_s
    assert (a.prefill.time_s[pre] >= roof + launch).all() and (a.prefill.time_s[pre] <= roof * 2 ** (1 / 64)
                                                                + launch).all()
    assert "per-call overhead" in a.prefill.sources[pre]
    fp8 = analyze_many(llama(L=2), hw, efficiency="calibrated", w_bits="fp8", a_bits="fp8", batch_size=4)
    assert "no gemm fp8 measurement: the 16-bit curve" in fp8.decode.sources[names.index("q_proj")]


def test_the_16bit_key_prefers_bf16_then_fp16_then_tf32_then_fp32():
    def entry(t0):
        return MeasuredCurve(Curve(t0_s=t0), 5, 0.01, 0.02)

    cal = MeasuredCalibration("measured here", 1e-6, {("gemm", "fp32"): entry(4e-6), ("gemm", "fp16"): entry(2e-6),
                                                      ("gemm", "tf32"): entry(3e-6)})
    curve, source, features_of = cal.resolve("gemm", "bf16")
    assert curve.t0_s == 2e-6 and "gemm fp16" in source and features_of == "gemm"
    curve, source, features_of = cal.resolve("bmm", "bf16")
    assert curve.t0_s == 2e-6 and "[no bmm measurement]" in source and features_of == "bmm"
    curve, source, _ = cal.resolve("moe", "bf16")  # MoE borrows no GEMM curve: its features differ
    assert curve == Curve(t0_s=1e-6) and "per-call overhead 1 us" in source


def test_several_gpus_measure_the_all_reduce():
    """Bus bandwidth 2 (d - 1) / d x bytes / time (nccl-tests), by hand from the fake's physics;
    the file's interconnect is twice the best of it (a bidirectional aggregate)."""
    device, hw = _fake_device(devices=4, link=100e9)
    rows = hw.calibration.measurements["allreduce"]
    assert rows["devices"] == 4 and rows["bytes"] == [4096, 2**20, 2**26]
    b = 2**26
    bus = 2 * 3 / 4 * b / (10e-6 + 2 * 3 / 4 * b / 100e9)
    assert hw.interconnect_bandwidth_bytes_per_s == pytest.approx(2 * bus, rel=1e-9)
    assert "interconnect_bandwidth" in device_yaml(hw)


BAD_SECTIONS = {
    "calibration: [1, 2]": "calibration must be a mapping",
    "calibration: {provenance: x, colour: red}": "unknown key(s) colour",
    "calibration: {curves: {}}": "calibration.provenance must say where",
    "calibration: {provenance: x, curves: {conv: {fp32: {params: {}}}}}": "unknown kernel class 'conv'",
    "calibration: {provenance: x, curves: {gemm: {fp64: {params: {}}}}}": "gemm.fp64: unknown format",
    "calibration: {provenance: x, curves: {gemm: {fp32: {params: {knee: 0.5}}}}}": "knee must be in [1, 64]",
    "calibration: {provenance: x, curves: {gemm: {fp32: {params: {speed: 1}}}}}": "unknown parameter(s) speed",
    "calibration: {provenance: x, launch_overhead_s: -1}": "launch_overhead_s (s) must be a number >= 0",
}


@pytest.mark.parametrize("section", BAD_SECTIONS)
def test_a_malformed_calibration_section_is_a_clear_error(section, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nmemory_bandwidth: 50 GB/s\nmemory_capacity: 16 GB\npeak: {fp32: 1 TFLOPS}\n"
                    + section + "\n")
    with pytest.raises(ConfigError) as info:
        load_hardware(path)
    assert BAD_SECTIONS[section] in str(info.value)


def test_backend_choice_errors():
    with pytest.raises(ConfigError, match="numpy runs on the cpu only"):
        backend_for("cuda:0", "numpy")
    with pytest.raises(ConfigError, match="library must be auto, torch or numpy"):
        backend_for("cpu", "jax")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="sees no CUDA device"):
            backend_for("cuda:0")
    with pytest.raises(ConfigError):
        backend_for("tpu")


def test_a_format_that_cannot_run_a_shape_is_skipped_and_listed():
    class Picky(FakeDevice):
        def gemm(self, fmt, m, n, k):
            if m % 16:
                raise RuntimeError("m must be a multiple of 16\nmore text")
            return super().gemm(fmt, m, n, k)

    m = run(Picky(), TINY)
    assert sorted(m.gemm["m"]) == [16, 64]
    assert any("gemm fp32 1x64x64: m must be a multiple of 16" == s for s in m.skipped)
    assert not math.isnan(m.tiny_s)


def test_a_stream_size_that_does_not_fit_is_skipped_and_listed():
    class Small(FakeDevice):
        def stream(self, kernel, n_bytes):
            if n_bytes > 65536:
                raise MemoryError()
            return super().stream(kernel, n_bytes)

    m = run(Small(), TINY)
    assert m.stream["elements"] == [1024, 16384] * 2
    assert "copy 1048576 bytes: MemoryError" in m.skipped and "triad 1048576 bytes: MemoryError" in m.skipped
    hw = measured_device(m, "small")
    assert hw.memory_bandwidth_bytes_per_s > 0

    class Nothing(FakeDevice):
        def stream(self, kernel, n_bytes):
            raise RuntimeError("CUDA out of memory")

    with pytest.raises(ConfigError, match="no memory copy could be measured"):
        measured_device(run(Nothing(), TINY), "nothing")


def test_the_python_api_measures_and_writes_a_device(tmp_path):
    from llm_roofline.efficiency.measure import measure, write_device

    seen = []
    hw = measure("cpu", library="numpy", plan=TINY, name="api-cpu", memory_capacity_bytes=16e9,
                 progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(seen), TINY.points(1, 2, 1)) == (11, 11)
    write_device(hw, tmp_path / "api.yaml")
    loaded = load_hardware(tmp_path / "api.yaml")
    assert loaded.name == "api-cpu" and loaded.memory_capacity_bytes == 16e9
    assert loaded.calibration.measurements["library"].startswith("numpy ")
