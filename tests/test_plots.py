"""`llm-roofline plot KIND ...` and the plots API: every kind draws a valid image of the requested format,
and the data behind each figure is the engine's (checked against `analyze` at a few points)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from llm_roofline import analyze, load_hardware, plots
from llm_roofline.cli import main
from llm_roofline.errors import ScenarioError
from llm_roofline.plots.progress import ProgressBar

LLAMA, A6000 = "meta-llama/Llama-2-7b-hf", "nvidia_A6000"
SMALL = ["--size", "7x4", "--dpi", "30"]
# Any warning while drawing (matplotlib's "constrained_layout not applied", a legend that cannot be
# placed...) fails the test.
pytestmark = pytest.mark.filterwarnings("error")


def is_image(path, fmt: str) -> bool:
    data = path.read_bytes()
    if fmt == "png":
        return data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    if fmt == "pdf":
        return data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
    return b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")


CLI_CASES = [
    ("roofline", "png", [A6000, "--stage", "decode", "-p", "512"]),
    ("roofline", "svg", [A6000, "--w-bits", "8", "--a-bits", "8", "--precision", "fp16,int8,int4"]),
    ("batch-sweep", "pdf", [A6000, "-b", "1..64:x4", "-p", "256,1024", "--w-bits", "8", "--a-bits", "8",
                            "--kv-bits", "8"]),
    ("seq-sweep", "png", [A6000, "-p", "128..4096:x4", "-b", "1,8", "--gen-len", "64", "--w-bits", "int4"]),
    ("quantization", "svg", [A6000, "--w-bits", "16,4", "-b", "1..16:x4", "-p", "64..1024:x4",
                             "--memory-scenarios", "1x1024,8x1024"]),
    ("flash-attention", "png", [A6000, "-b", "1", "-p", "512,2048"]),
    ("bandwidth", "pdf", [A6000, "--peak", "200TFLOPS", "--bandwidths", "0.2TB/s..2TB/s", "--points", "4"]),
    ("hardware", "png", ["rtx-a6000,a100-80g,rtx-4090", "-b", "4", "--price", "4500,15000,1800", "-g", "32"]),
    ("breakdown", "svg", [A6000, "-b", "1,16", "--group-by", "op", "--share"]),
]


@pytest.mark.parametrize(("kind", "fmt", "args"), CLI_CASES, ids=[f"{c[0]}-{c[1]}" for c in CLI_CASES])
def test_every_kind_draws_through_the_cli(tmp_path, capsys, kind, fmt, args):
    out = tmp_path / f"figure.{fmt}"
    code = main(["plot", kind, LLAMA, *args, "-o", str(out), *SMALL])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert is_image(out, fmt)


API_CASES = [
    ("plot_roofline", A6000, dict(stages=("prefill",)), "pdf"),
    ("plot_batch_sweep", A6000, dict(batch_size=[1, 4, 16], prompt_len=[512, 2048]), "svg"),
    ("plot_seq_sweep", A6000, dict(prompt_len=[256, 1024], batch_size=[1, 4]), "pdf"),
    ("plot_quantization", A6000, dict(w_bits=[16, 8], batch_size=[1, 8], prompt_len=[64, 512]), "png"),
    ("plot_flash_attention", A6000, dict(batch_size=[1, 4], prompt_len=[256, 1024]), "svg"),
    ("plot_bandwidth", A6000, dict(bandwidths=[5e11, 1e12], batch_size=[1, 8]), "png"),
    ("plot_hardware", ["h100-sxm", "l4"], dict(batch_size=2), "pdf"),
    ("plot_breakdown", A6000, dict(prompt_len=[512, 2048]), "png"),
]


@pytest.mark.parametrize(("function", "target", "options", "fmt"), API_CASES, ids=[c[0] for c in API_CASES])
def test_every_kind_draws_through_the_api(tmp_path, function, target, options, fmt):
    out = tmp_path / f"figure.{fmt}"
    fig = getattr(plots, function)(LLAMA, target, output=out, size=(7, 4), dpi=30, **options)
    assert fig.axes and is_image(out, fmt)


# ------------------------------------------------------------------------------------------------
# layout: nothing clipped, legends off the data, however many curves
# ------------------------------------------------------------------------------------------------

def texts_off_the_figure(fig) -> list[str]:
    """Visible texts (titles, labels, legend entries, annotations) that reach past the figure's edge."""
    from matplotlib.text import Text

    renderer, box = fig.canvas.get_renderer(), fig.bbox  # after a draw

    def outside(b) -> bool:
        return b.x0 < box.x0 - 1 or b.x1 > box.x1 + 1 or b.y0 < box.y0 - 1 or b.y1 > box.y1 + 1

    # Tick labels: matplotlib keeps some beyond the axis limits undrawn; the axis' own extent (what it
    # draws: ticks, their labels, the axis label) is what must stay inside.
    ticks = {id(label) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for label in axis.get_ticklabels(minor=False) + axis.get_ticklabels(minor=True)}
    extents = [(ax, axis.get_tightbbox(renderer)) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)]
    out = [f"axis of {ax.get_title() or ax.get_xlabel()!r}" for ax, b in extents if b is not None and outside(b)]
    for text in fig.findobj(Text):
        if id(text) not in ticks and text.get_visible() and text.get_text().strip():
            if outside(text.get_window_extent(renderer)):
                out.append(text.get_text())
    return out


def data_under_legends(fig) -> list[str]:
    """Legends that cover a plotted point of any panel (display coordinates), after a draw."""
    renderer = fig.canvas.get_renderer()
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    hits = []
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            for line in ax.lines:
                xy = line.get_xydata()
                xy = xy[np.isfinite(xy).all(1)]
                if not len(xy):
                    continue
                x, y = ax.transData.transform(xy).T
                if ((x >= box.x0) & (x <= box.x1) & (y >= box.y0) & (y <= box.y1)).any():
                    hits.append(line.get_label())
    return hits


MANY = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
CROWDED = [
    ("plot_roofline", dict(stages=("decode",)), None),  # one panel: the legend used to be cut ("ridge poir")
    ("plot_roofline", dict(), (7, 4)),
    ("plot_batch_sweep", dict(batch_size=[1, 4, 16, 64], prompt_len=MANY, w_bits=[16, 8, 4]), None),
    ("plot_batch_sweep", dict(batch_size=[1, 4, 16, 64], prompt_len=MANY, w_bits=[16, 8, 4]), (6, 3.5)),
    ("plot_seq_sweep", dict(prompt_len=[128, 1024, 8192], batch_size=MANY), (7, 4)),
    ("plot_bandwidth", dict(bandwidths=[2e11, 1e12, 4e12], batch_size=MANY), None),
    ("plot_flash_attention", dict(batch_size=MANY[:6], prompt_len=[512, 2048]), (7, 5)),
    ("plot_quantization", dict(w_bits=[16, 8, 6, 5, 4, 3, 2, 1], batch_size=[1, 8], prompt_len=[64, 512]), None),
    ("plot_breakdown", dict(batch_size=[1, 64], prompt_len=[512, 4096], group_by="op", top=30), (7, 4)),
]


@pytest.mark.parametrize(("function", "options", "size"), CROWDED,
                         ids=[f"{c[0]}-{c[2] or 'default'}" for c in CROWDED])
def test_crowded_figures_keep_text_inside_and_legends_off_the_data(function, options, size):
    fig = getattr(plots, function)(LLAMA, A6000, size=size, **options)
    fig.canvas.draw()
    assert texts_off_the_figure(fig) == []
    assert data_under_legends(fig) == []


def test_a_long_legend_grows_the_figure_instead_of_squeezing_the_panels():
    few = plots.plot_batch_sweep(LLAMA, A6000, batch_size=[1, 8], prompt_len=[512, 1024], size=(9, 4))
    many = plots.plot_batch_sweep(LLAMA, A6000, batch_size=[1, 8], prompt_len=MANY, w_bits=[16, 8, 4, 2],
                                  size=(9, 4))
    assert tuple(few.get_size_inches()) == (9, 4)
    assert many.get_size_inches()[1] > 4  # 40 entries in 4 or 5 columns need more than 35% of 4 inches


# ------------------------------------------------------------------------------------------------
# the data behind the figures is the engine's
# ------------------------------------------------------------------------------------------------

def test_batch_sweep_points_are_analyze():
    data = plots.batch_sweep(LLAMA, A6000, batch_size=[1, 8, 64], prompt_len=[512, 2048], gen_len=0, w_bits=8,
                             a_bits=8, kv_bits=8)  # gen_len 0: latency is one decode step
    assert [s.label for s in data.series] == ["prompt 512", "prompt 2048"]
    s = data.series[1]
    r = analyze(LLAMA, A6000, batch_size=8, prompt_len=2048, gen_len=0, w_bits=8, a_bits=8, kv_bits=8)
    assert s.x[1] == 8
    # The same engine call; the vectorized sum over operators may differ in the last bit.
    assert s.latency_s[1] == pytest.approx(r.decode.total.time_s, rel=1e-12)
    assert s.throughput_tokens_per_s[1] == pytest.approx(8 / r.decode.total.time_s, rel=1e-12)
    assert s.total_bytes[1] == r.memory.total_bytes
    assert s.ttft_s[1] == pytest.approx(r.generation.ttft_s, rel=1e-12)
    assert s.max_batch_size[1] == r.memory.max_batch_size
    assert data.capacity_bytes == load_hardware(A6000).memory_capacity_bytes


def test_sweep_with_generation_uses_tpot_and_generation_throughput():
    data = plots.seq_sweep(LLAMA, A6000, prompt_len=[256, 1024], batch_size=4, gen_len=128)
    r = analyze(LLAMA, A6000, batch_size=4, prompt_len=1024, gen_len=128)
    s = data.series[0]
    assert s.latency_s[1] == pytest.approx(r.generation.tpot_s, rel=1e-12)
    assert s.throughput_tokens_per_s[1] == pytest.approx(r.generation.throughput_tokens_per_s, rel=1e-12)


def test_roofline_ceilings_are_the_device_peaks_and_bandwidth():
    device = load_hardware(A6000)
    data = plots.roofline(LLAMA, A6000, prompt_len=2048)
    assert data.ceilings == {"fp16": device.peak_for("fp16")}
    assert data.bandwidth_bytes_per_s == device.memory_bandwidth_bytes_per_s
    assert data.ridge_points["fp16"] == pytest.approx(device.ridge_point("fp16"))
    r = analyze(LLAMA, A6000, prompt_len=2048)
    for stage, result in zip(data.stages, (r.prefill, r.decode), strict=True):
        assert stage.names == tuple(o.name for o in result.ops)
        assert list(stage.arithmetic_intensity) == [o.arithmetic_intensity for o in result.ops]
        assert list(stage.performance_flops_per_s) == [o.performance_flops_per_s for o in result.ops]
        assert list(stage.compute_bound) == [o.bound == "compute" for o in result.ops]
        assert stage.total_time_s == result.total.time_s
    assert data.roof("fp16", np.array([1.0, 1e4])).tolist() == [device.memory_bandwidth_bytes_per_s,
                                                               device.peak_for("fp16")]


def test_roofline_ceilings_follow_precisions_and_efficiency():
    device = load_hardware("h100-sxm")
    data = plots.roofline(LLAMA, device, stages=("decode",), precisions=["fp16", "int8", "int4"],
                          efficiency={"compute_fraction": 0.5, "bandwidth_fraction": 0.8})
    assert data.ceilings["fp16"] == device.peak_for("fp16") * 0.5
    assert data.ceilings["int8"] == device.peak_for("int8") * 0.5
    assert "int4 (runs as" in [k for k in data.ceilings if k.startswith("int4")][0]  # H100 has no int4 path
    assert data.bandwidth_bytes_per_s == device.memory_bandwidth_bytes_per_s * 0.8


def test_quantization_times_and_memory_fractions():
    data = plots.quantization(LLAMA, A6000, w_bits=[16, 4], batch_size=[1, 16], prompt_len=[128, 1024])
    w4 = analyze(LLAMA, A6000, batch_size=16, prompt_len=1024, w_bits=4)
    assert data.decode_time_s[1, 1] == pytest.approx(w4.decode.total.time_s, rel=1e-12)
    assert data.prefill_time_s[0, 0] == pytest.approx(analyze(LLAMA, A6000, prompt_len=128).prefill.total.time_s,
                                                      rel=1e-12)
    mem = data.memory
    assert mem.configs == ("FP16", "W4", "W4KV4", "W4A4")
    np.testing.assert_allclose(mem.fractions.sum(-1), 1.0)
    np.testing.assert_allclose(mem.relative[:, 0].sum(-1), 1.0)
    assert (mem.relative[:, 1:].sum(-1) < 1).all()  # every quantized format is smaller than FP16
    r = analyze(LLAMA, A6000, batch_size=16, prompt_len=1024, gen_len=0, w_bits=4, a_bits=16, kv_bits=4)
    assert mem.scenarios[2] == (16, 1024)
    assert mem.kv_cache_bytes[2, 2] == r.memory.kv_cache_bytes and mem.total_bytes[2, 2] == r.memory.total_bytes


def test_flash_attention_data_and_saving():
    data = plots.flash_attention(LLAMA, A6000, batch_size=[1, 4], prompt_len=[512, 4096])
    for fa in (0, 1):
        r = analyze(LLAMA, A6000, batch_size=4, prompt_len=4096, flash_attention=bool(fa))
        assert data.prefill_bytes[fa, 1, 1] == pytest.approx(r.prefill.total.bytes, rel=1e-12)
        assert data.decode_time_s[fa, 1, 1] == pytest.approx(r.decode.total.time_s, rel=1e-12)
    assert (data.prefill_bytes[1] < data.prefill_bytes[0]).all()


def test_bandwidth_sweep_replaces_only_the_bandwidth():
    data = plots.bandwidth(LLAMA, A6000, bandwidths=[2e11, 4e12], batch_size=[1, 8])
    device = load_hardware(A6000, memory_bandwidth_bytes_per_s=2e11)
    r = analyze(LLAMA, device, batch_size=8)
    assert data.decode_time_s[1, 0] == pytest.approx(r.decode.total.time_s, rel=1e-12)
    assert data.throughput_tokens_per_s[1, 0] == pytest.approx(8 / r.decode.total.time_s)
    assert data.decode_time_s[0, 0] > data.decode_time_s[0, 1]
    assert data.device_bandwidth_bytes_per_s == load_hardware(A6000).memory_bandwidth_bytes_per_s


def test_hardware_comparison_and_price():
    data = plots.hardware_comparison(LLAMA, ["h100-sxm", "rtx-a6000"], batch_size=4, gen_len=64, prices=[30000, 4500])
    r = analyze(LLAMA, "rtx-a6000", batch_size=4, gen_len=64)
    assert data.devices[1] == "rtx-a6000"
    assert data.throughput_tokens_per_s[1] == r.generation.throughput_tokens_per_s
    assert data.decode_time_s[1] == r.decode.total.time_s
    assert data.throughput_per_usd[1] == pytest.approx(r.generation.throughput_tokens_per_s / 4500)
    with pytest.raises(ScenarioError, match="one price per device"):
        plots.hardware_comparison(LLAMA, ["h100-sxm"], prices=[1, 2])


def test_breakdown_groups_sum_to_the_stage_totals():
    data = plots.breakdown(LLAMA, A6000, batch_size=[1, 32], prompt_len=1024)
    assert data.scenarios == ("batch 1", "batch 32")
    assert "matmul" in data.groups and "attention" in data.groups
    r = analyze(LLAMA, A6000, batch_size=32)
    np.testing.assert_allclose(data.prefill_time_s.sum(0), data.prefill_total_s, rtol=1e-12)
    assert data.decode_total_s[1] == pytest.approx(r.decode.total.time_s, rel=1e-12)
    by_op = plots.breakdown(LLAMA, A6000, group_by="op")
    assert "q_proj" in by_op.groups


# ------------------------------------------------------------------------------------------------
# errors and start-up
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["roofline", LLAMA, A6000, "-o", "fig.jpg"], "image format"),
    (["batch-sweep", LLAMA, A6000, "-b", "1..x", "-o", "fig.png"], "--batch-size"),
    (["roofline", LLAMA, A6000, "--precision", "fp12", "-o", "fig.png"], "unknown precision"),
    (["roofline", LLAMA, A6000, "-b", "1,2", "-o", "fig.png"], "one value"),
    (["hardware", LLAMA, "a100,h100", "--price", "1", "-o", "fig.png"], "one price per device"),
    (["quantization", LLAMA, A6000, "--memory-configs", "Q4", "-o", "fig.png"], "memory-configs"),
    (["bandwidth", LLAMA, A6000, "--bandwidths", "fast", "-o", "fig.png"], "quantity"),
    (["roofline", "no-such-model", A6000, "-o", "fig.png"], "unknown model"),
    (["roofline", LLAMA, A6000, "--size", "4x3", "-o", "fig.png"], "too small for this kind: it needs at least 5x3.5"),
])
def test_user_errors_are_one_line_with_exit_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code = main(["plot", *args])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("llm-roofline: error:") and message in err
    assert not (tmp_path / "fig.png").exists()


def test_unwritable_output_is_a_user_error(tmp_path, capsys):
    code = main(["plot", "roofline", LLAMA, A6000, "-o", str(tmp_path / "missing" / "fig.png"), *SMALL])
    _, err = capsys.readouterr()
    assert code == 2 and "cannot write" in err


def test_progress_bar_only_when_asked_or_on_a_terminal(monkeypatch):
    import io

    stream = io.StringIO()
    monkeypatch.setenv("LLM_ROOFLINE_PROGRESS", "1")
    bar = ProgressBar("sweep", stream=stream, delay_s=0)
    for i in range(1, 5):
        bar(i, 4)
    text = stream.getvalue()
    assert text.startswith("\rsweep [") and "1/4" in text and "4/4" in text and text.endswith(" s\n")
    monkeypatch.delenv("LLM_ROOFLINE_PROGRESS")
    quiet = io.StringIO()  # not a terminal
    ProgressBar("sweep", stream=quiet, delay_s=0)(1, 1)
    assert quiet.getvalue() == ""


def test_building_the_parser_imports_no_matplotlib():
    code = ("import sys; from llm_roofline.cli import build_parser; build_parser(); "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported at start-up'")
    subprocess.run([sys.executable, "-c", code], check=True)
