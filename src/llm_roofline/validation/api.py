"""``lr.validate``: predict a measured serving table and report the errors; ``fit_serving_profiles``.

    >>> import llm_roofline as lr
    >>> report = lr.validate()                       # ../shared/validation/serving-dev.csv
    >>> report = lr.validate("my-runs.csv", efficiency=["calibrated"], group_by=["system+backend"])
    >>> report.tables()["overall"], report.skipped[0].reason, report.to_dict()
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, ScenarioError
from .cases import Case, Skipped, map_row
from .predict import EFFICIENCIES, predict
from .report import DEFAULT_GROUP_BY, RowResult, SkippedRow, ValidationReport, check_group_by
from .table import COLUMNS, read_table

DEVELOPMENT_TABLE = Path("shared") / "validation" / "serving-dev.csv"


def default_table() -> Path:
    """``../shared/validation/serving-dev.csv`` from the current folder, else next to this checkout."""
    for base in (Path.cwd().parent, Path(__file__).resolve().parents[4]):
        path = base / DEVELOPMENT_TABLE
        if path.is_file():
            return path
    raise ConfigError(f"no CSV given and ../{DEVELOPMENT_TABLE.as_posix()} was not found; give a measured serving "
                      f"table with the columns {', '.join(COLUMNS)}")


def _efficiencies(efficiency) -> tuple[str, ...]:
    values = [efficiency] if isinstance(efficiency, str) else list(efficiency)
    values = [str(v).strip().lower() for v in values if str(v).strip()]
    bad = [v for v in values if v not in EFFICIENCIES]
    if bad or not values:
        raise ScenarioError(f"efficiency: {bad[0] if bad else 'nothing'!r} is not one of {', '.join(EFFICIENCIES)}")
    return tuple(dict.fromkeys(values))


def validate(csv: str | os.PathLike | None = None, *, efficiency=EFFICIENCIES, group_by=DEFAULT_GROUP_BY,
             progress=None) -> ValidationReport:
    """Predict every row of a measured serving table (default: the shared development table) under each
    ``efficiency`` setting (ideal, calibrated) and gather the errors by ``group_by`` (system, backend,
    version, model, mode; '+' joins keys). Rows the model cannot predict are listed with the reason.
    ``progress``: callback(done, total) over configurations."""
    from ..serving.profiles import fitted_profiles

    effs, keys = _efficiencies(efficiency), check_group_by(group_by)
    path = default_table() if csv is None else csv
    rows = read_table(path)
    mapped = [map_row(r) for r in rows]
    cases = [m for m in mapped if isinstance(m, Case)]
    done, refused = predict(cases, effs, progress=progress)
    skipped = sorted((*(m for m in mapped if isinstance(m, Skipped)), *refused), key=lambda s: s.row.line)
    results = tuple(RowResult(
        line=p.case.row.line, id=p.case.row.id, system=p.case.row.text("system"), backend=p.case.engine,
        version=p.case.version, model=p.case.model, mode=p.case.mode, isl=p.case.isl, osl=p.case.osl,
        concurrency=p.case.concurrency,
        measured={"ttft_s": p.case.ttft_s, "tpot_s": p.case.tpot_s},
        predicted={e: {"ttft_s": p.ttft_s[e], "tpot_s": p.tpot_s[e]} for e in effs})
        for p in sorted(done, key=lambda p: p.case.row.line))
    profiles = {k: v.to_dict() for k, v in fitted_profiles().items()} if "calibrated" in effs else {}
    return ValidationReport(source=str(path), efficiencies=effs, group_by=keys, profiles=profiles, rows=results,
                            skipped=tuple(SkippedRow(s.row.line, s.row.id, s.reason) for s in skipped))


def fit_serving_profiles(csv: str | os.PathLike | None = None, progress=None) -> dict:
    """Refit the serving profiles on a measured table (default: the development table; see fit.py):
    {"profiles": {engine: ServingProfile}, "cross_validation": {"model" / "system": {metric: ErrorStats}},
    "in_sample": {metric: ErrorStats}, "rows": n}. ``write_profiles`` stores them as the shipped file."""
    from .fit import apply, components, cross_validate, fit_profiles
    from .stats import error_stats, errors_pct

    path = default_table() if csv is None else csv
    cases = [m for m in map(map_row, read_table(path)) if isinstance(m, Case)]
    c = components(cases, progress=progress)
    source = (f"fixed_share, request_overhead_s and prompt_token_s fitted by llm-roofline validate --fit on "
              f"{Path(path).name} "
              f"({c.ttft.size} rows); burst_share derived from the engine's scheduler (for requests of equal lengths; "
              "rows whose lengths vary get 1 / 10) and prefill_launch_s the "
              "measured eager launch cost (not fitted)")
    profiles = fit_profiles(c, source=source)

    def stats(ttft, tpot) -> dict:
        return {"ttft_s": error_stats(errors_pct(ttft, c.ttft)), "tpot_s": error_stats(errors_pct(tpot, c.tpot))}

    cv = {by: stats(*cross_validate(c, by)[:2]) for by in ("model", "system")}
    return {"profiles": profiles, "in_sample": stats(*apply(c, profiles)), "cross_validation": cv,
            "rows": int(c.ttft.size)}


def write_profiles(profiles: dict, path: str | os.PathLike) -> None:
    """Write fitted profiles in the format of serving/params/profiles.json."""
    import json

    first = next(iter(profiles.values()))
    data = {"source": first.source,
            "engines": {name: {"fixed_share": p.fixed_share, "request_overhead_s": round(p.request_overhead_s, 9),
                               "prompt_token_s": round(p.prompt_token_s, 12), "burst_share": p.burst_share,
                               "prefill_launch_s": p.prefill_launch_s}
                        for name, p in profiles.items()}}
    Path(path).write_text(json.dumps(data, indent=2) + "\n")
