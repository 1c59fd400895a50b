"""`llm-roofline sweep`: the documented CSV columns, one row per grid point in grid order, JSON records,
the list syntax, and one-line errors with exit status 2."""

from __future__ import annotations

import csv
import io
import json

import pytest

from llm_roofline import sweep
from llm_roofline.cli import main
from llm_roofline.plots import sweep_cli as plots_cli
from llm_roofline.plots.options import parse_int_list

LLAMA, A100 = "llama-2-7b", "a100-80g"
DOCUMENTED_COLUMNS = [
    "batch_size", "prompt_len", "gen_len", "kv_len", "w_bits", "a_bits", "kv_bits",
    "prefill_flops", "prefill_bytes", "prefill_time_s", "prefill_tokens_per_s",
    "decode_flops", "decode_bytes", "decode_time_s", "decode_tokens_per_s",
    "ttft_s", "tpot_s", "e2e_s", "throughput_tokens_per_s",
    "weights_bytes", "kv_cache_bytes", "activations_bytes", "total_bytes", "fits", "max_batch_size",
]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["sweep", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def rows_of(text: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(text))
    return reader.fieldnames, list(reader)


def test_csv_has_the_documented_columns_and_one_row_per_point(capsys):
    code, out, err = run(capsys, LLAMA, A100, "--batch-size", "1..256", "--prompt-len", "512,2048",
                         "--gen-len", "0", "--format", "csv")
    assert code == 0 and err == ""
    header, rows = rows_of(out)
    assert header == DOCUMENTED_COLUMNS
    assert all(name in plots_cli.SWEEP_COLUMNS_HELP for name in DOCUMENTED_COLUMNS)
    assert len(rows) == 256 * 2
    # Grid order: the last listed axis varies fastest.
    assert [(r["batch_size"], r["prompt_len"]) for r in rows[:3]] == [("1", "512"), ("1", "2048"), ("2", "512")]
    expected = sweep(LLAMA, A100, batch_size=[37], prompt_len=[2048], gen_len=0).to_records()[0]
    row = rows[36 * 2 + 1]
    assert int(row["batch_size"]) == 37 and int(row["kv_len"]) == 2048
    assert float(row["decode_time_s"]) == pytest.approx(expected["decode_time_s"], rel=1e-12)
    assert float(row["total_bytes"]) == expected["total_bytes"]
    assert row["fits"] == ("true" if expected["fits"] else "false")
    assert row["tpot_s"] == "" and row["throughput_tokens_per_s"] == ""  # no generated tokens


def test_doubling_ranges_steps_and_bit_lists(capsys):
    code, out, _ = run(capsys, LLAMA, A100, "-b", "1..256:x2", "-p", "1024", "-g", "0..256:128",
                       "--w-bits", "16,8,4")
    assert code == 0
    _, rows = rows_of(out)
    assert len(rows) == 9 * 3 * 3
    assert sorted({int(r["batch_size"]) for r in rows}) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert sorted({int(r["gen_len"]) for r in rows}) == [0, 128, 256]
    with_gen = [r for r in rows if r["gen_len"] == "128"]
    assert all(float(r["tpot_s"]) > 0 for r in with_gen)


def test_named_formats_are_one_fixed_value(capsys):
    code, out, err = run(capsys, LLAMA, A100, "-b", "1,2", "--w-bits", "int4", "--kv-bits", "fp8")
    assert code == 0, err
    _, rows = rows_of(out)
    assert len(rows) == 2 and {r["w_bits"] for r in rows} == {"4"} and {r["kv_bits"] for r in rows} == {"8"}


def test_json_records_and_output_file(tmp_path, capsys):
    target = tmp_path / "sweep.json"
    code, out, err = run(capsys, LLAMA, A100, "-b", "1,4", "-g", "64", "--format", "json", "-o", str(target))
    assert code == 0 and out == "" and err == ""
    records = json.loads(target.read_text())
    assert len(records) == 2 and list(records[0]) == DOCUMENTED_COLUMNS
    expected = sweep(LLAMA, A100, batch_size=[4], gen_len=[64]).to_records()[0]
    assert records[1]["batch_size"] == 4 and records[1]["fits"] is expected["fits"]
    assert records[1]["throughput_tokens_per_s"] == pytest.approx(expected["throughput_tokens_per_s"], rel=1e-12)
    code, out, _ = run(capsys, LLAMA, A100, "--format", "json", "-g", "0")
    assert json.loads(out)[0]["tpot_s"] is None  # no decode steps: JSON null


def test_chunked_evaluation_gives_the_same_rows(capsys, monkeypatch):
    _, whole, _ = run(capsys, LLAMA, A100, "-b", "1..40", "-p", "128,1024,4096")
    monkeypatch.setattr(plots_cli, "CHUNK_POINTS", 7)
    _, chunked, _ = run(capsys, LLAMA, A100, "-b", "1..40", "-p", "128,1024,4096")
    assert chunked == whole


def test_hardware_overrides_apply(capsys):
    _, base, _ = run(capsys, LLAMA, A100)
    _, slow, _ = run(capsys, LLAMA, A100, "--bandwidth", "1TB/s")
    t_base = float(rows_of(base)[1][0]["decode_time_s"])
    t_slow = float(rows_of(slow)[1][0]["decode_time_s"])
    assert t_slow > t_base


@pytest.mark.parametrize("bad", ["1..", "..5", "5..1", "1..8:x1", "a", "1,,2", "0..8:x2", "1..8:0", "1-8"])
def test_bad_list_syntax_is_one_line_and_exit_2(capsys, bad):
    code, out, err = run(capsys, LLAMA, A100, "--batch-size", bad)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("llm-roofline: error: --batch-size")


@pytest.mark.parametrize(("args", "message"), [
    (["--w-bits", "int4,int8"], "named formats"),
    (["--batch-size", "0"], "batch_size must be an integer"),
    (["--prompt-len", "1..4000", "--batch-size", "1..4000"], "at most"),
    (["--prompt-len", "1..10000000"], "more than 1,000,000 values"),
])
def test_other_user_errors(capsys, args, message):
    code, _, err = run(capsys, LLAMA, A100, *args)
    assert code == 2 and err.count("\n") == 1 and message in err


def test_list_syntax():
    assert parse_int_list("1..8") == [1, 2, 3, 4, 5, 6, 7, 8]
    assert parse_int_list("1..256:x2") == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert parse_int_list("3..100:x3") == [3, 9, 27, 81]
    assert parse_int_list("0..64:16") == [0, 16, 32, 48, 64]
    assert parse_int_list("1,2,4..32:x2,48, 4") == [1, 2, 4, 8, 16, 32, 48]
    assert parse_int_list("512,2048") == [512, 2048]
