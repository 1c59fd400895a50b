"""Every command's help, the scenario options shared by every command that analyses, and the defaults
(generation length 256) that every face takes from one place."""

from __future__ import annotations

import argparse
import csv
import io
import json

import pytest

import llm_roofline as lr
from llm_roofline.cli import build_parser, main
from llm_roofline.cli_scenario import SCENARIO_OPTIONS
from llm_roofline.defaults import DEFAULT_GEN_LEN

LLAMA, A6000 = "meta-llama/Llama-2-7b-hf", "nvidia_A6000"


def commands(parser=None, path=()):
    """(command words, parser) for the root and every subcommand, plot kinds included."""
    parser = parser or build_parser()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


ALL = [words for words, _ in commands()]
ANALYSING = [words for words, p in commands() if any("--batch-size" in a.option_strings for a in p._actions)]


def test_the_commands_are_found():
    assert {("analyze",), ("sweep",), ("models",), ("hardware",), ("plot", "roofline")} <= set(ALL)
    assert len(ANALYSING) == 17  # analyze, sweep, advise and fourteen plot kinds (scaling, fusion, offload too)


@pytest.mark.parametrize("words", ALL, ids=[" ".join(w) or "root" for w in ALL])
@pytest.mark.parametrize("columns", [80, 100])
def test_help_has_a_description_and_fits_the_terminal(capsys, monkeypatch, words, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    code = main([*words, "--help"])
    out = capsys.readouterr().out
    assert code == 0
    parser = dict(commands())[words]
    assert parser.description, f"`{' '.join(words)}` has no description"
    long = [line for line in out.splitlines() if len(line) > columns]
    assert not long, f"lines over {columns} columns: {long}"


@pytest.mark.parametrize("words", ANALYSING, ids=[" ".join(w) for w in ANALYSING])
def test_scale_bits_and_group_size_everywhere(words):
    parser = dict(commands())[words]
    flags = {flag for action in parser._actions for flag in action.option_strings}
    assert {"--scale-bits", "--group-size", "--w-bits", "--a-bits", "--kv-bits"} <= flags


def test_sweep_takes_every_scenario_option_of_analyze():
    options = {words: {f for a in p._actions for f in a.option_strings} for words, p in commands()}
    scenario_flags = {flag for option in SCENARIO_OPTIONS.values() for flag in option.flags}
    assert scenario_flags <= options[("analyze",)]
    assert scenario_flags <= options[("sweep",)]


def test_sweep_scale_bits_change_the_weights(capsys):
    rows = {}
    for scale in ("16", "32"):
        assert main(["sweep", LLAMA, A6000, "--w-bits", "4", "--scale-bits", scale, "-g", "0"]) == 0
        rows[scale] = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    # One scale per group of 128 matrix weights (embeddings, lm_head and the 32 layers' projections of
    # Llama-2-7B; norms stay 16-bit): 16 more bits per group with 32-bit scales.
    D, F, V, L = 4096, 11008, 32000, 32
    matrix_weights = 2 * V * D + L * (4 * D * D + 3 * D * F)
    extra = float(rows["32"]["weights_bytes"]) - float(rows["16"]["weights_bytes"])
    assert extra == matrix_weights / 128 * 16 / 8 == 105_283_584


def test_plot_scale_bits_reach_the_engine(monkeypatch, tmp_path):
    from llm_roofline.plots import data

    seen = {}
    real = data.roofline

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(data, "roofline", spy)
    out = tmp_path / "r.png"
    assert main(["plot", "roofline", LLAMA, A6000, "--w-bits", "4", "--scale-bits", "8", "-o", str(out),
                 "--dpi", "20", "--size", "5x3.5"]) == 0
    assert seen["scale_bits"] == 8 and out.exists()


# ------------------------------------------------------------------------------------------------
# the generation length defaults to 256 in every face
# ------------------------------------------------------------------------------------------------

def test_default_generation_length_is_256_everywhere(capsys):
    assert DEFAULT_GEN_LEN == 256
    report = lr.analyze(LLAMA, A6000)
    assert report.generation.gen_len == 256 and report.generation.tpot_s > 0
    assert report.generation.throughput_tokens_per_s > 0
    assert set(lr.sweep(LLAMA, A6000, batch_size=[1, 2]).columns["gen_len"]) == {256}
    assert main(["analyze", LLAMA, A6000, "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["scenario"]["gen_len"] == 256
    assert main(["sweep", LLAMA, A6000]) == 0
    assert next(csv.DictReader(io.StringIO(capsys.readouterr().out)))["gen_len"] == "256"
    from llm_roofline import plots

    assert plots.batch_sweep(LLAMA, A6000, batch_size=[1, 2]).gen_len == 256
    assert plots.hardware_comparison(LLAMA, [A6000]).scenario["gen_len"] == 256
    parsers = dict(commands())
    for words in (("analyze",), ("plot", "batch-sweep"), ("plot", "seq-sweep"), ("plot", "hardware")):
        assert parsers[words].parse_args([LLAMA, A6000, "-o", "x.png"] if words[0] == "plot"
                                         else [LLAMA, A6000]).gen_len == 256


def test_web_api_default_is_the_same():
    pytest.importorskip("pydantic")
    from llm_roofline.web.schemas import AnalyzeRequest, SweepRequest

    assert AnalyzeRequest(model="llama-2-7b", hardware="a6000").gen_len == DEFAULT_GEN_LEN
    assert SweepRequest(model="llama-2-7b", hardware="a6000").gen_len == DEFAULT_GEN_LEN
