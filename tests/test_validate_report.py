"""``lr.validate`` and ``llm-roofline validate`` end to end: a small hand-made table, its statistics and
its unpredictable rows, the faces (table, JSON, CSV, plot), and, when ../shared is present, the
development table with the properties the accuracy report states (docs/accuracy.md)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

import llm_roofline as lr
from llm_roofline.validation.stats import error_stats

from cli_checks import run

SMALL = Path(__file__).parent / "data" / "serving-small.csv"
PUBLIC = Path(__file__).resolve().parents[1] / "docs" / "data" / "public-serving.csv"
DEV = Path(__file__).resolve().parents[2] / "shared" / "validation" / "serving-dev.csv"


@pytest.fixture(scope="module")
def small():
    return lr.validate(SMALL)


def test_every_row_is_predicted_or_listed_with_its_reason(small):
    assert len(small.rows) + len(small.skipped) == 9
    assert [r.id for r in small.rows] == ["dense_tp2_fp8", "dense_bf16", "moe_adp8_ep8", "disagg_pools", "pipeline"]
    reasons = {s.id: s.reason for s in small.skipped}
    assert set(reasons) == {"unknown_model", "bad_layout", "bad_format", "too_big"}
    assert "does not fit" in reasons["too_big"]  # the serving model's own refusal, with its numbers
    assert [s.line for s in small.skipped] == [6, 7, 9, 10]


def test_ideal_is_faster_than_calibrated_on_every_row(small):
    for r in small.rows:
        for metric in ("ttft_s", "tpot_s"):
            ideal, calibrated = r.predicted["ideal"][metric], r.predicted["calibrated"][metric]
            assert 0 < ideal <= calibrated, (r.id, metric)


def test_tables_are_the_statistics_of_the_rows(small):
    overall = {(g.metric, g.efficiency): g.stats for g in small.table("overall")}
    for metric in ("ttft_s", "tpot_s"):
        for eff in ("ideal", "calibrated"):
            errors = [100 * (r.predicted[eff][metric] / r.measured[metric] - 1) for r in small.rows]
            expected, got = error_stats(errors), overall[metric, eff]
            assert got.n == expected.n == 5
            for field in ("median_abs_pct", "p90_abs_pct", "bias_pct", "faster_share"):
                assert getattr(got, field) == pytest.approx(getattr(expected, field), rel=1e-12)
    by_backend = {(g.group, g.metric, g.efficiency): g.stats.n for g in small.table("backend")}
    assert by_backend["trtllm", "ttft_s", "ideal"] == 3 and by_backend["sglang", "tpot_s", "calibrated"] == 1
    combined = {g.group for g in small.table("system+backend")}
    assert "h100_sxm / trtllm" in combined
    # every table splits by metric already: "metric" in a key adds nothing (it used to raise KeyError)
    with_metric = {(g.group, g.metric, g.efficiency): g.stats.n for g in small.table("backend+metric")}
    assert with_metric == by_backend


def test_bad_arguments_are_clear_errors():
    with pytest.raises(lr.ScenarioError, match="group-by: unknown key 'colour'"):
        lr.validate(SMALL, group_by=["colour"])
    with pytest.raises(lr.ScenarioError, match="efficiency"):
        lr.validate(SMALL, efficiency=["hardware"])


def test_cli_table_json_and_csv(capsys, tmp_path):
    code, out, err = run(capsys, "validate", str(SMALL), "--efficiency", "ideal")
    assert code == 0
    assert "5 rows predicted, 4 not predictable" in out and "by model" in out and "calibrated" not in out
    assert "unknown model 'acme/NoSuchModel-7B'" in out and "lines 6" in out
    code, out, _ = run(capsys, "validate", str(SMALL), "--format", "json", "--group-by", "system+backend")
    data = json.loads(out)
    assert data["predicted_rows"] == 5 and data["skipped_rows"] == 4 and set(data["tables"]) == {
        "overall", "system+backend"}
    assert data["rows"][0]["id"] == "dense_tp2_fp8" and set(data["rows"][0]["predicted"]) == {"ideal", "calibrated"}
    assert data["profiles"]["trtllm"]["engine"] == "trtllm"
    target = tmp_path / "stats.csv"
    code, out, _ = run(capsys, "validate", str(SMALL), "--format", "csv", "-o", str(target))
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert code == 0 and out == "" and rows[0]["table"] == "overall" and {r["efficiency"] for r in rows} == {
        "ideal", "calibrated"}


def test_cli_errors_are_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id\n1\n")
    code, out, err = run(capsys, "validate", str(bad))
    assert code != 0 and out == "" and "missing column" in err and len(err.strip().splitlines()) == 1


def test_plot_accuracy(tmp_path, capsys):
    target = tmp_path / "acc.png"
    code, _, _ = run(capsys, "plot", "accuracy", str(SMALL), "-o", str(target), "--dpi", "40")
    assert code == 0 and target.stat().st_size > 1000


def test_public_rows_are_predicted():
    """The shipped public measurements (docs/data/public-serving.csv, sources in each row) run through the
    same path, the single-GPU rows on a lone catalog device (a100_pcie) too; the row whose model is not in
    the catalog is listed."""
    report = lr.validate(PUBLIC)
    assert len(report.rows) == 20 and len(report.skipped) == 1 and "unknown model" in report.skipped[0].reason
    models = {r.model for r in report.rows}
    assert models == {"meta-llama/Llama-3.1-70B", "Qwen/Qwen3-8B", "Qwen/Qwen2.5-7B"}
    assert {r.system for r in report.rows} == {"h100_sxm", "a100_pcie"}


@pytest.mark.skipif(not DEV.is_file(), reason="../shared/validation/serving-dev.csv is not present")
def test_development_table():
    """Every row is predicted or listed; ideal is an upper bound on speed on at least 95 % of rows and
    faster than calibrated on every row; the calibrated errors are those docs/accuracy.md reports."""
    report = lr.validate(DEV)
    assert len(report.rows) + len(report.skipped) == 2662
    assert all(s.reason for s in report.skipped)
    bound = report.upper_bound_share()
    assert bound["tpot_s"] >= 0.95 and bound["ttft_s"] >= 0.95
    for metric in ("ttft_s", "tpot_s"):
        ideal = np.array([r.predicted["ideal"][metric] for r in report.rows])
        calibrated = np.array([r.predicted["calibrated"][metric] for r in report.rows])
        assert (ideal <= calibrated * (1 + 1e-9)).all()
    overall = {(g.metric, g.efficiency): g.stats for g in report.table("overall")}
    tpot, ttft = overall["tpot_s", "calibrated"], overall["ttft_s", "calibrated"]
    assert tpot.median_abs_pct < 16 and abs(tpot.bias_pct) < 10  # docs/accuracy.md: 14.7 %, +0.3 %
    # docs/accuracy.md: 24.9 %, -7.3 %: issue 9's targets (below 25 %, |bias| below 10 %), met in-sample by
    # a margin of 0.1 point; held out they are not (29.0 % by model, 26.3 % by system)
    assert ttft.median_abs_pct < 25 and abs(ttft.bias_pct) < 10


def test_skipped_line_numbers_print_as_ranges():
    from llm_roofline.validationtext import line_ranges

    assert line_ranges([9, 3, 4, 5, 12, 13]) == "3-5, 9, 12-13"
    assert line_ranges([7]) == "7" and line_ranges([]) == ""


def _version_row(version: str, ttft_ms: float, tpot_ms: float, line_id: str) -> str:
    """One aggregated TensorRT-LLM row of Llama-3.1-8B FP8 on an H100 (TP 1, concurrency 4), with its stated
    version and measured times: rows alike but for those predict the same times."""
    cells = {"id": line_id, "backend": "trtllm", "backend_version": version, "model_path": "meta-llama/Llama-3.1-8B",
             "system": "h100_sxm", "precision": "fp8", "mode": "agg", "isl": "1024", "osl": "128",
             "gemm_quant_mode": "fp8", "moe_quant_mode": "fp8", "batch_size": "4", "tp_size": "1", "pp_size": "1",
             "silicon_ttft_ms": str(ttft_ms), "silicon_tpot_ms": str(tpot_ms)}
    header = SMALL.read_text().splitlines()[0].split(",")
    return ",".join(cells.get(c, "") for c in header)


def test_group_by_version_reads_backend_version(tmp_path):
    """Three rows of one configuration, measured at m, 2 m and 4 m by three versions (one unstated): one
    prediction p, so by hand, from e1 = 100 (p / m - 1): e2 = 100 (p / 2m - 1) = (e1 - 100) / 2 and
    e4 = (e1 - 300) / 4; each version is a group of one row whose median |error| is |e| and bias e."""
    table = tmp_path / "versions.csv"
    table.write_text("\n".join([SMALL.read_text().splitlines()[0], _version_row("1.2.0rc2", 100, 5, "a"),
                                _version_row("1.0.0rc3", 200, 10, "b"), _version_row("", 400, 20, "c")]) + "\n")
    report = lr.validate(table, efficiency=["calibrated"], group_by=["version", "version+mode"])
    assert [r.version for r in report.rows] == ["trtllm 1.2.0rc2", "trtllm 1.0.0rc3", "trtllm (unstated)"]
    by = {(g.group, g.metric): g.stats for g in report.table("version")}
    assert {g for g, _ in by} == {"trtllm 1.2.0rc2", "trtllm 1.0.0rc3", "trtllm (unstated)"}
    for metric in ("ttft_s", "tpot_s"):
        e1 = by["trtllm 1.2.0rc2", metric].bias_pct
        expected = {"trtllm 1.2.0rc2": e1, "trtllm 1.0.0rc3": (e1 - 100) / 2, "trtllm (unstated)": (e1 - 300) / 4}
        for group, e in expected.items():
            stats = by[group, metric]
            assert stats.n == 1 and stats.bias_pct == pytest.approx(e, rel=1e-9)
            assert stats.median_abs_pct == pytest.approx(abs(e), rel=1e-9)
    assert {g.group for g in report.table("version+mode")} == {"trtllm 1.2.0rc2 / agg", "trtllm 1.0.0rc3 / agg",
                                                                "trtllm (unstated) / agg"}
    assert report.to_dict()["rows"][2]["version"] == "trtllm (unstated)"


def test_version_groups_gather_their_rows_errors():
    """Hand-made rows: version X predicted 10 % slow and 20 % fast, version Y exactly: X's median |error| is
    (10 + 20) / 2 = 15 %, its bias (10 - 20) / 2 = -5 %; Y's 0."""
    from llm_roofline.validation.report import RowResult, ValidationReport

    def row(line, version, predicted, measured=0.1):
        return RowResult(line=line, id=str(line), system="h100_sxm", backend="vllm", version=version, model="m",
                         mode="agg", isl=1, osl=1, concurrency=1.0,
                         measured={"ttft_s": measured, "tpot_s": measured},
                         predicted={"calibrated": {"ttft_s": predicted, "tpot_s": predicted}})

    rows = (row(2, "vllm 0.12.0", 0.11), row(3, "vllm 0.12.0", 0.08), row(4, "vllm 0.18.0", 0.1))
    report = ValidationReport(source="hand", efficiencies=("calibrated",), group_by=("version",), profiles={},
                              rows=rows, skipped=())
    by = {(g.group, g.metric): g.stats for g in report.tables()["version"]}
    x, y = by["vllm 0.12.0", "ttft_s"], by["vllm 0.18.0", "tpot_s"]
    assert (x.n, y.n) == (2, 1)
    assert x.median_abs_pct == pytest.approx(15.0, rel=1e-12) and x.bias_pct == pytest.approx(-5.0, rel=1e-12)
    assert y.median_abs_pct == pytest.approx(0.0, abs=1e-12) and y.bias_pct == pytest.approx(0.0, abs=1e-12)


def test_cli_group_by_version(capsys):
    code, out, _ = run(capsys, "validate", str(SMALL), "--efficiency", "ideal", "--group-by", "version")
    assert code == 0 and "by version" in out and "trtllm (unstated)" in out
