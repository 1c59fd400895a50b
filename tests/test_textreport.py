"""`llm-roofline analyze` in a terminal: the headline first, tables fitted to the width (never a
wrapped row), --summary and --stage, notes and warnings, and the formatters behind every number."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace

import pytest

from llm_roofline import analyze
from llm_roofline.texttable import Column, fit_table
from llm_roofline.units import percent, plain, seconds, si

from cli_checks import run

LLAMA, A6000 = "meta-llama/Llama-2-7b-hf", "nvidia_A6000"
MODELS = [(LLAMA, A6000), ("deepseek-ai/DeepSeek-V3", "h200"), ("ai21labs/Jamba-v0.1", "mi300x")]


@pytest.mark.parametrize("columns", [60, 80, 100, 146])
@pytest.mark.parametrize(("model", "device"), MODELS, ids=["llama", "deepseek-v3", "jamba"])
def test_no_line_exceeds_the_terminal_and_no_row_wraps(capsys, monkeypatch, columns, model, device):
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, err = run(capsys, "analyze", model, device, "--batch-size", "8")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns
    report = analyze(model, device, batch_size=8)
    for stage in (report.prefill, report.decode):
        # Every operator is one row of its own: its name (possibly cut with '~') starts a line once.
        start = lines.index(next(line for line in lines if line.startswith(stage.stage.upper())))
        rows = lines[start + 3:start + 3 + len(stage.ops)]
        for op, row in zip(stage.ops, rows, strict=True):
            name = row.split("  ")[0].rstrip()
            assert op.name == name or (name.endswith("~") and op.name.startswith(name[:-1]))
        assert lines[start + 3 + len(stage.ops)].startswith("total (x count)")


def test_headline_comes_first_with_every_answer(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _ = run(capsys, "analyze", LLAMA, A6000, "--prompt-len", "2048")
    head = out[:out.index("PREFILL")]
    r = analyze(LLAMA, A6000, prompt_len=2048)
    assert r.generation.gen_len == 256
    # The numbers as the formatters write them, checked against the report below.
    assert f"TTFT        {seconds(r.generation.ttft_s)}" in head
    assert f"TPOT        {seconds(r.generation.tpot_s)}" in head and "mean of 256 decode steps" in head
    assert f"{plain(r.generation.throughput_tokens_per_s)} tokens/s" in head
    assert f"{si(r.memory.total_bytes, 'B')} of 48 GB" in head and "largest batch that fits: 19" in head
    words = " ".join(head.split())  # the details may wrap onto a second line
    assert "generating 256 tokens" in words and "efficiency ideal" in words
    assert "prefill of 2048 tokens, compute-bound" in words and "memory-bound (100% of its time)" in words
    # Hand check of the headline's TPOT: 256 memory-bound steps at 768 GB/s, each reading every weight
    # but the embedding table (one 4096-wide row of it), (6,738,415,616 - 32000 x 4096 + 4096) x 2 B, and
    # the KV cache of 2049..2304 tokens, 32 layers x 2 x 4096 x 2 B = 524,288 B per token, 2176.5 on
    # average; activations (28 MB a step, 0.2%) are left out of this estimate.
    weights = (6_738_415_616 - 32000 * 4096 + 4096) * 2
    assert r.generation.tpot_s == pytest.approx((weights + 524_288 * 2176.5) / 768e9, rel=0.003)


def test_summary_is_the_headline_only(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run(capsys, "analyze", LLAMA, A6000, "--summary")
    assert code == 0 and err == ""
    assert "TTFT" in out and "TPOT" in out and "throughput" in out and "fits" in out
    assert "PREFILL" not in out and "q_proj" not in out
    assert len(out.splitlines()) <= 12


def test_stage_selects_the_tables(capsys, tmp_path):
    code, out, _ = run(capsys, "analyze", LLAMA, A6000, "--stage", "decode")
    assert code == 0 and "DECODE: one step at KV length 1024" in out and "PREFILL" not in out
    target = tmp_path / "ops.csv"
    code, _, _ = run(capsys, "analyze", LLAMA, A6000, "--stage", "prefill", "-f", "csv", "-o", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert code == 0 and {r["stage"] for r in rows} == {"prefill"}
    assert len(rows) == len(analyze(LLAMA, A6000).prefill.ops)


@pytest.mark.parametrize("argv", [["--summary", "-f", "json"], ["--stage", "decode", "-f", "json"],
                                  ["--summary", "-f", "csv"]])
def test_options_that_do_not_apply_are_errors(capsys, argv):
    code, out, err = run(capsys, "analyze", LLAMA, A6000, *argv)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and "--format" in err


def test_a_pipe_or_a_file_gets_every_column(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("COLUMNS", raising=False)
    code, out, _ = run(capsys, "analyze", LLAMA, A6000)  # captured output is not a terminal
    header = next(line for line in out.splitlines() if line.startswith("operator"))
    assert header.split() == ["operator", "count", "FLOPs", "bytes", "weights", "act", "KV", "FLOP/B", "perf",
                              "bound", "time", "share"]
    monkeypatch.setenv("COLUMNS", "60")
    target = tmp_path / "report.txt"
    assert run(capsys, "analyze", LLAMA, A6000, "-o", str(target))[0] == 0
    assert "weights" in target.read_text() and "Left out" not in target.read_text()


def test_narrow_tables_say_what_they_left_out(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = run(capsys, "analyze", LLAMA, A6000)
    assert "Left out to fit 80 columns: weights, act, KV" in " ".join(out.split())


def test_numbers_are_formatted_one_way(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "146")
    _, out, _ = run(capsys, "analyze", LLAMA, A6000, "--prompt-len", "2048")
    assert not re.search(r"\d\.\d+e[+-]\d", out)  # no exponent notation anywhere (1.02e+03 was the intensity)
    assert not re.search(r"\b0\.\d+ ns", out)
    assert "1,020" in out  # q_proj's intensity at 2048 tokens: 2*2048*4096^2 / ((4096^2 + 2*2048*4096) * 2) = 1024


def test_sub_nanosecond_operators_show_a_floor(capsys, tmp_path):
    # A tiny model (D 64) on an H100 (3.35 TB/s): a decode-step norm moves (64 + 64) * 2 B + 64 * 2 B
    # = 384 B, 0.11 ns. It must read '< 1 ns', not '0.115 ns'.
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                               "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100}))
    code, out, _ = run(capsys, "analyze", str(cfg), "h100-sxm", "--stage", "decode")
    row = next(line for line in out.splitlines() if line.startswith("input_layernorm"))
    assert code == 0 and "< 1 ns" in row


def test_notes_are_printed_and_warnings_go_to_stderr(capsys, monkeypatch):
    from llm_roofline.models import catalog

    real = catalog.load_model

    def with_remarks(name, **options):
        return replace(real(name, **options), notes=("only the language model is analysed",),
                       warnings=("parsed as a Llama-like model: check the result",))

    monkeypatch.setattr(catalog, "load_model", with_remarks)
    code, out, err = run(capsys, "analyze", LLAMA, A6000, "--summary")
    assert code == 0 and "note: only the language model is analysed" in out
    assert err == "llm-roofline: warning: parsed as a Llama-like model: check the result\n"
    code, out, err = run(capsys, "analyze", LLAMA, A6000, "-f", "json")
    assert json.loads(out)["model"]["warnings"] == ["parsed as a Llama-like model: check the result"]
    assert "warning" in err
    code, out, err = run(capsys, "sweep", LLAMA, A6000, "-b", "1,2")  # every command that analyses warns
    assert code == 0 and err == "llm-roofline: warning: parsed as a Llama-like model: check the result\n"


# ------------------------------------------------------------------------------------------------
# formatters (units.py) and the table fitter, against values written by hand
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "text"), [
    (0, "0 s"), (8.05e-12, "< 1 ns"), (9.996e-10, "1 ns"), (21.3e-9, "21.3 ns"), (999.6e-9, "1 us"),
    (43.7e-6, "43.7 us"), (0.0186, "18.6 ms"), (5.03, "5.03 s"), (90, "1.5 min"), (5400, "1.5 h"),
    (3 * 86400, "3 days"), (1e9, "11,600 days"), (None, "-"), (float("nan"), "-"),
])
def test_seconds(value, text):
    assert seconds(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (1023.5, "1,020"), (0.75, "0.75"), (1 / 6, "0.167"), (114.2, "114"), (0.000123, "0.000123"),
    (999.96, "1,000"), (12_345_678.9, "12,300,000"), (1e-6, "1.00e-06"), (None, "-"),
])
def test_plain(value, text):
    assert plain(value) == text


def test_si_and_percent():
    assert si(999.6e6, "B") == "1 GB" and si(13.47e9, "B") == "13.5 GB" and si(0, "B") == "0 B"
    assert percent(0.0612) == "6.12%" and percent(1) == "100%" and percent(0) == "0%"
    assert percent(2e-4) == "< 0.1%"


def test_fit_table_drops_by_priority_then_cuts_names():
    cols = [Column("name", ["a_long_operator_name", "b"], right=False, min_width=6),
            Column("x", ["1", "22"], keep=2), Column("y", ["333", "4"], keep=1),
            Column("bound", ["memory", "compute"], right=False, short=["mem", "comp"])]
    # Widths 20, 2, 3, 7 and two spaces between columns: 38 characters.
    full = fit_table(cols, None)
    assert full.lines[0] == "name" + " " * 19 + "x" + " " * 4 + "y  bound" and full.dropped == []
    assert full.lines[2] == "a_long_operator_name   1  333  memory"
    # At 32: short cells first (bound 5 wide: 36), then x goes (keep 2) before y (keep 1): 32.
    fitted = fit_table(cols, 32)
    assert fitted.dropped == ["x"] and fitted.lines[2] == "a_long_operator_name  333  mem"
    # At 14: only the kept columns, and the name cut to 14 - 2 - 5 = 7 characters, '~' marking the cut.
    tiny = fit_table(cols, 14)
    assert tiny.dropped == ["x", "y"] and tiny.lines[2] == "a_long~  mem" and max(map(len, tiny.lines)) <= 14


def test_the_readme_shows_what_analyze_prints(capsys, monkeypatch):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```console\n\$ llm-roofline (analyze [^\n]*)\n(.*?)```", readme, re.S)
    assert blocks, "README has no analyze example with its output"
    monkeypatch.setenv("COLUMNS", "100")
    for command, shown in blocks:
        code, out, _ = run(capsys, *command.split())
        assert code == 0 and out == shown, f"README's `llm-roofline {command}` is out of date"
