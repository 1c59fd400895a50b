"""plot speculative and plot techniques: their data against the engine, the crossover by hand, the figures."""

from __future__ import annotations

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.cli import main
from llm_roofline.plots import data as d
from llm_roofline.plots.data.techniques import crossover


def test_crossover_by_hand():
    # speed-up 1.5 at batch 4 and 0.5 at batch 16: it crosses 1 half way in log2, at batch 8
    assert crossover(np.array([1.0, 4.0, 16.0]), np.array([2.0, 1.5, 0.5])) == pytest.approx(8.0)
    assert np.isnan(crossover(np.array([1.0, 2.0]), np.array([2.0, 1.5])))
    assert crossover(np.array([1.0, 2.0]), np.array([0.9, 0.5])) == 1.0


def test_speculative_data_is_the_engines(llama2_7b, a6000):
    x = d.speculative(llama2_7b, a6000, speculative="eagle2", acceptance=[2.0, 4.0], batch_size=[1, 8, 64],
                      prompt_len=512, gen_len=64)
    assert x.kind == "tau"
    for i, tau in enumerate((2.0, 4.0)):
        r = lr.sweep(llama2_7b, a6000, batch_size=[1, 8, 64], prompt_len=512, gen_len=64,
                     speculative={"preset": "eagle2", "tau": tau})
        np.testing.assert_array_equal(x.speedup[i], r.columns["speedup"])
    assert x.ridge == pytest.approx(154.8e12 / 768e9)
    assert np.all(np.diff(x.intensity[0]) > 0)  # more sequences per weight read


def test_chain_defaults_to_alpha_curves(llama2_7b, a6000):
    draft = lr.load_model("llama-3.2-1b")
    x = d.speculative(llama2_7b, a6000, speculative={"method": "draft", "draft_model": draft, "k": 3},
                      batch_size=[1, 4])
    assert x.kind == "alpha" and list(x.acceptance) == [0.5, 0.6, 0.7, 0.8, 0.9]
    assert np.all(np.diff(x.speedup[:, 0]) > 0)  # more acceptance, more speed-up


def test_figures_are_written(tmp_path):
    spec, tech = tmp_path / "spec.png", tmp_path / "tech.svg"
    assert main(["plot", "speculative", "llama-3.1-8b", "h100-sxm", "-b", "1,16,256", "-o", str(spec),
                 "--speculative", "mtp", "--acceptance", "0.6,0.9", "--size", "9x4"]) == 0
    assert main(["plot", "techniques", "llama-3.1-8b", "h100-sxm", "-o", str(tech), "--only",
                 "quant-w8,flash-attention,speculative-eagle3"]) == 0
    assert spec.stat().st_size > 1000 and b"<svg" in tech.read_bytes()[:400]


def test_figure_errors_are_one_line(tmp_path, capsys):
    out = str(tmp_path / "x.png")
    assert main(["plot", "speculative", "llama-3.1-8b", "h100-sxm", "-o", out, "--acceptance", "abc"]) == 2
    assert "--acceptance" in capsys.readouterr().err
    assert main(["plot", "techniques", "llama-3.1-8b", "h100-sxm", "-o", out, "--only", "nope"]) == 2
    assert "unknown technique" in capsys.readouterr().err


def test_gain_data_is_the_engines(llama2_7b, a6000):
    g = d.gains(llama2_7b, a6000, techniques=["contextual-sparsity", "quant-w8"], x=[1, 4, 64], prompt_len=256,
                gen_len=32)
    plain = lr.sweep(llama2_7b, a6000, batch_size=[1, 4, 64], prompt_len=256, gen_len=32).columns
    sparse = lr.sweep(llama2_7b, a6000, batch_size=[1, 4, 64], prompt_len=256, gen_len=32,
                      sparsity={"mlp": 0.3, "heads": 0.5}).columns
    np.testing.assert_array_equal(g.tpot[0], plain["tpot_s"] / sparse["tpot_s"])
    assert g.tpot[0][0] > g.tpot[0][-1]  # the union of active neurons grows with the batch


def test_gain_refuses_scenario_dependent_entries(tmp_path, capsys):
    out = str(tmp_path / "g.png")
    assert main(["plot", "gain", "llama-3.1-8b", "h100-sxm", "--techniques", "larger-batch", "-o", out]) == 2
    assert "fixed settings" in capsys.readouterr().err
    assert main(["plot", "gain", "llama-3.1-8b", "h100-sxm", "--techniques", "kv-int4,flash-attention", "--x",
                 "prompt_len", "-p", "512,4096", "-b", "4", "-o", out]) == 0
