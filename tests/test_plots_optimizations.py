"""`plot fusion` (Fig. 15), `plot offload` (Fig. 17-18) and the tiled kernel in `plot flash-attention`:
images through the CLI and the API, and their data read back from the engine."""

from __future__ import annotations

import numpy as np
import pytest

from llm_roofline import analyze, plots
from llm_roofline.cli import main
from test_plots import is_image

LLAMA, A6000, A100 = "meta-llama/Llama-2-7b-hf", "nvidia_A6000", "a100-80g"
SMALL = ["--size", "9x7", "--dpi", "30"]
pytestmark = pytest.mark.filterwarnings("error")


@pytest.mark.parametrize(("kind", "fmt", "args"), [
    ("fusion", "png", [A6000, "-p", "512", "--kernel-overhead-us", "4"]),
    ("fusion", "svg", [A6000, "--level", "elementwise", "--attention", "fa2"]),
    ("offload", "pdf", [A100, "-p", "512", "-g", "16", "--host", "core-i9-13900k"]),
])
def test_technique_kinds_draw_through_the_cli(tmp_path, capsys, kind, fmt, args):
    out = tmp_path / f"figure.{fmt}"
    code = main(["plot", kind, LLAMA, *args, "-o", str(out), *SMALL])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert is_image(out, fmt)


def test_technique_kinds_draw_through_the_api(tmp_path):
    plots.plot_fusion(LLAMA, A6000, prompt_len=256, output=tmp_path / "f.png", dpi=30)
    plots.plot_offload(LLAMA, A100, prompt_len=256, gen_len=8, fractions=[0, 0.5, 1], output=tmp_path / "o.png",
                       dpi=30)
    assert is_image(tmp_path / "f.png", "png") and is_image(tmp_path / "o.png", "png")


def test_fusion_data_is_the_engines():
    data = plots.fusion(LLAMA, A6000, prompt_len=1024, efficiency={"kernel_overhead_s": 4e-6})
    for k, level in enumerate(data.levels):
        r = analyze(LLAMA, A6000, prompt_len=1024, gen_len=0, fusion=level, efficiency={"kernel_overhead_s": 4e-6})
        assert data.times_s[k].tolist() == [r.prefill.total.time_s, r.decode.total.time_s]
        assert data.compute_bound_time_s[k, 0] == r.prefill.total.compute_bound_time_s
    # the paper's point: fusion leaves the compute-bound time alone and shrinks the memory-bound time
    assert data.compute_bound_time_s[2, 0] == pytest.approx(data.compute_bound_time_s[0, 0], rel=0.01)
    memory = data.times_s - data.compute_bound_time_s
    assert (memory[1:] < memory[0]).all()
    assert data.kernels.tolist() == sorted(data.kernels.tolist(), reverse=True)


def test_offload_data_is_the_engines():
    data = plots.offload(LLAMA, A100, prompt_len=512, gen_len=8, fractions=[0.0, 0.5, 1.0])
    (_, dev_peak, hbm), (_, _, link), (_, cpu_peak, dram) = data.roofs
    assert hbm == 2039e9 and link == 64e9 / 2 and dram == 307.2e9  # A100 HBM, PCIe Gen4 per direction, DDR5
    assert cpu_peak < dev_peak
    r = analyze(LLAMA, A100, prompt_len=512, gen_len=8, offload_weights=0.5)
    assert data.tpot_s[0, 1] == pytest.approx(r.generation.tpot_s, rel=1e-12)
    assert np.all(np.diff(data.tpot_s, axis=1) >= 0)  # more offloaded, never faster
    assert data.tpot_s[0, 0] == data.tpot_s[1, 0]  # nothing offloaded is the same scenario


def test_flash_attention_figure_adds_the_tiled_kernel():
    data = plots.flash_attention(LLAMA, A6000, batch_size=[1], prompt_len=[512, 4096])
    assert data.kernels == ("naive", "ideal", "fa2")
    r = analyze(LLAMA, A6000, prompt_len=4096, attention="fa2")
    assert data.prefill_bytes[2, 0, 1] == pytest.approx(r.prefill.total.bytes, rel=1e-12)
    # the tiles re-read K and V: more than the ideal single read, far less than the score matrix
    assert (data.prefill_bytes[1] < data.prefill_bytes[2]).all()
    assert (data.prefill_bytes[2] < data.prefill_bytes[0]).all()
