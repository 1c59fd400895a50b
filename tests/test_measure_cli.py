"""``llm-roofline measure`` and ``plot roofline --measured`` as a user runs them: the file they
write, the progress bar, one-line errors, and the measured points on the roofline axes."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from llm_roofline.cli import main
from llm_roofline.efficiency import measure as measure_api
from llm_roofline.efficiency.measure_fit import measured_device
from llm_roofline.efficiency.measure_run import Plan, run
from llm_roofline.efficiency.measure_yaml import device_yaml
from llm_roofline.hardware.catalog import load_hardware
from llm_roofline.plots import data as plot_data

from conftest import FakeDevice

TINY = Plan((4096, 65536, 2**20), ((1, 64, 64), (8, 64, 64), (64, 128, 128), (16, 128, 64)),
            seconds_per_point=0.003, trials=2, cap_s=0.05)
SHAPES = ((1, 256, 256), (16, 256, 256), (128, 256, 512), (512, 512, 512))


@pytest.fixture
def tiny_plan(monkeypatch):
    monkeypatch.setattr(measure_api, "default_plan", lambda kind, quick=False: TINY)


@pytest.fixture(scope="module")
def fake_file(tmp_path_factory):
    hw = measured_device(run(FakeDevice(), Plan((4096, 2**16, 2**20, 2**24), SHAPES, seconds_per_point=0.01)),
                         "fake-device")
    path = tmp_path_factory.mktemp("measured") / "fake.yaml"
    path.write_text(device_yaml(hw))
    return path


def test_measure_writes_a_device_file_that_analyze_uses(tiny_plan, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LLM_ROOFLINE_PROGRESS", "1")
    target = tmp_path / "mine.yaml"
    code = main(["measure", "--library", "numpy", "-o", str(target)])
    out, err = capsys.readouterr()
    assert code == 0 and out == ""
    assert "measure [" in err and "memory bandwidth" in err and "curve gemm fp32" in err
    doc = yaml.safe_load(target.read_text())
    assert doc["name"] == "measured-cpu" and doc["kind"] == "cpu"
    assert doc["calibration"]["provenance"].startswith("measured on this machine ")
    code = main(["analyze", "llama-2-7b", str(target), "--efficiency", "calibrated", "-g", "4"])
    out, err = capsys.readouterr()
    assert code == 0 and "curves measured on this machine" in out
    code = main(["hardware", str(target), "-f", "json"])
    assert code == 0 and '"calibration"' in capsys.readouterr().out
    code = main(["hardware", str(target)])
    assert code == 0 and "calibration: measured on this machine" in capsys.readouterr().out


def test_measure_prints_the_yaml_without_output(tiny_plan, capsys):
    code = main(["measure", "--library", "numpy", "--name", "box", "--memory-capacity", "32GB", "--formats", "fp32"])
    out, _ = capsys.readouterr()
    doc = yaml.safe_load(out)
    assert code == 0 and doc["name"] == "box" and doc["memory_capacity"] == "32 GB"


@pytest.mark.parametrize("argv, message", [
    (["--library", "numpy", "--device", "cuda:0"], "numpy runs on the cpu only"),
    (["--memory-capacity", "lots"], "cannot read 'lots'"),
    (["--formats", "fp64"], "--formats: unknown format 'fp64'"),
    (["--library", "numpy", "--formats", "bf16"], "no GEMM could be measured"),
])
def test_measure_errors_are_one_line(tiny_plan, capsys, argv, message):
    code = main(["measure", *argv])
    _, err = capsys.readouterr()
    assert code == 2 and message in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("llm-roofline: error:")


def test_measured_points_sit_where_their_flops_and_bytes_put_them(fake_file):
    """GEMM: intensity 2mnk / ((mk + kn + mn) x 4 bytes), performance 2mnk / time; triad: 2 FLOPs per
    12 bytes; copies have no FLOPs and no point."""
    data = plot_data.roofline("llama-2-7b", "xeon-8480-plus", stages=("decode",), measured=str(fake_file))
    m = data.measured
    hw = load_hardware(fake_file)
    gemm = hw.calibration.measurements["gemm"]
    (series,) = [s for s in m.series if s.label == "GEMM fp32"]
    flops = np.array([2.0 * a * b * c for a, b, c in zip(gemm["m"], gemm["n"], gemm["k"], strict=True)])
    moved = np.array([(a * c + c * b + a * b) * 4.0 for a, b, c in zip(gemm["m"], gemm["n"], gemm["k"], strict=True)])
    assert len(series.intensity) == len(flops)  # grouped by (n, k): compare as sets
    assert np.sort(series.intensity) == pytest.approx(np.sort(flops / moved), rel=1e-12)
    assert np.sort(series.performance_flops_per_s) == pytest.approx(np.sort(flops / np.array(gemm["time_s"])),
                                                                    rel=1e-12)
    (triad,) = [s for s in m.series if s.label == "triad"]
    assert triad.intensity == pytest.approx(np.full(4, 2 / 12), rel=1e-12)
    assert [s.label for s in m.series] == ["GEMM fp32", "triad"]
    assert m.bandwidth_bytes_per_s == hw.memory_bandwidth_bytes_per_s and m.peaks == dict(hw.peak_flops_per_s)


def test_plot_roofline_draws_the_measured_points(fake_file, tmp_path):
    image = tmp_path / "roof.png"
    code = main(["plot", "roofline", "llama-2-7b", "xeon-8480-plus", "--measured", str(fake_file), "-o", str(image),
                 "--stage", "decode", "--dpi", "40"])
    assert code == 0 and image.stat().st_size > 1000


def test_plot_measured_needs_a_measured_file(tmp_path, capsys):
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: plain\nmemory_bandwidth: 50 GB/s\nmemory_capacity: 16 GB\npeak: {fp32: 1 TFLOPS}\n")
    code = main(["plot", "roofline", "llama-2-7b", "xeon-8480-plus", "--measured", str(plain), "-o",
                 str(tmp_path / "x.png")])
    _, err = capsys.readouterr()
    assert code == 2 and "plain holds no measurements: write the file with `llm-roofline measure`" in err
