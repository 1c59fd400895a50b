"""The terminal and CSV forms of a validation report (``llm-roofline validate``). Formatting only."""

from __future__ import annotations

import csv
import io

from .texttable import Column, fit_table

METRIC_NAMES = {"ttft_s": "TTFT", "tpot_s": "TPOT"}


def _pct(value) -> str:
    return "-" if value is None or value != value else f"{value:.1f}"


def _table(stats) -> list[str]:
    """One group table: a row per (group, metric), columns per efficiency setting."""
    effs = list(dict.fromkeys(s.efficiency for s in stats))
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for s in stats:
        rows.setdefault((s.group, s.metric), {})[s.efficiency] = s.stats
    columns = [Column(stats[0].table if stats[0].table != "overall" else "", [g for g, _ in rows], right=False,
                      min_width=12),
               Column("metric", [METRIC_NAMES[m] for _, m in rows], right=False),
               Column("n", [str(next(iter(v.values())).n) for v in rows.values()])]
    for e in effs:
        cells = [v[e] for v in rows.values()]
        columns += [Column(f"{e} med|e|%", [_pct(c.median_abs_pct) for c in cells]),
                    Column("p90%", [_pct(c.p90_abs_pct) for c in cells]),
                    Column("bias%", [f"{c.bias_pct:+.1f}" if c.n else "-" for c in cells])]
    return fit_table(columns, None).lines


def render_validation(report, width: int | None = None) -> str:
    lines = [f"Validation against {report.source}: {len(report.rows)} rows predicted, {len(report.skipped)} "
             "not predictable",
             "error = (predicted - measured) / measured; med|e| = median absolute error, p90 = its 90th "
             "percentile, bias = median signed error (negative: predicted faster)"]
    bound = report.upper_bound_share()
    if bound:
        lines.append("ideal is an upper bound on speed (predicted no slower than measured) on "
                     + ", ".join(f"{100 * v:.1f} % of {METRIC_NAMES[m]}" for m, v in bound.items()) + " rows")
    for key, stats in report.tables().items():
        lines += ["", f"by {key}" if key != "overall" else "overall", *(_table(stats) if stats else ["(no rows)"])]
    if report.skipped:
        lines += ["", "not predictable (reason: CSV lines)"]
        by_reason: dict[str, list[int]] = {}
        for s in report.skipped:
            by_reason.setdefault(s.reason, []).append(s.line)
        for reason, where in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"  {reason} ({len(where)}): lines {line_ranges(where)}")
    return "\n".join(lines) + "\n"


def line_ranges(numbers) -> str:
    """Line numbers with runs of consecutive ones as ranges: [3, 4, 5, 9] -> '3-5, 9'."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def validation_csv(report) -> str:
    """The statistics in long form: table, group, metric, efficiency, n, median_abs_pct, p90_abs_pct,
    bias_pct, faster_share."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "group", "metric", "efficiency", "n", "median_abs_pct", "p90_abs_pct", "bias_pct",
                     "faster_share"])
    for stats in report.tables().values():
        for s in stats:
            d = s.to_dict()
            writer.writerow([d["table"], d["group"], d["metric"], d["efficiency"], d["n"], d["median_abs_pct"],
                             d["p90_abs_pct"], d["bias_pct"], d["faster_share"]])
    return out.getvalue()
