"""``llm-roofline validate``: the model against measured serving runs (docs/accuracy.md).

A face: parses arguments, calls llm_roofline.validation and formats (validationtext.py). Registered by
cli.py through ``add_parser``; imports only argparse-level things at import time.
"""

from __future__ import annotations

import json


def add_parser(subparsers) -> None:
    from .flags import output_file

    p = subparsers.add_parser(
        "validate", help="predict measured serving runs (TTFT, TPOT) and report the errors",
        description="Predict every row of a measured serving table (default ../shared/validation/serving-dev.csv; "
                    "any CSV with its columns) with the closed-form serving model, in the ideal and calibrated "
                    "settings, and print median absolute error, p90 and signed bias per system, engine, model and "
                    "metric; rows the model cannot predict are listed with the reason (docs/accuracy.md).")
    p.add_argument("csv", nargs="?", help="a measured serving table (default: ../shared/validation/serving-dev.csv)")
    p.add_argument("--efficiency", default="ideal,calibrated",
                   help="comma-separated: ideal, calibrated (default both)")
    p.add_argument("--group-by", default="system,backend,model",
                   help="one table per key: system, backend, version (engine and backend_version), model, mode, "
                        "metric; '+' joins keys, e.g. system+backend (default system,backend,model)")
    p.add_argument("--fit", metavar="FILE", type=output_file,
                   help="refit the calibrated engines' serving profiles on the table and write them to FILE (the "
                        "format of serving/params/profiles.json), with their cross-validation")
    o = p.add_argument_group("output")
    o.add_argument("--format", "-f", choices=["table", "json", "csv"], default="table",
                   help="table (default), json (statistics, every row and every unpredictable row) or csv "
                        "(the statistics in long form)")
    o.add_argument("--output", "-o", metavar="FILE", type=output_file,
                   help="write to this file instead of standard output")
    p.set_defaults(run=_run)


def _run(args) -> str:
    from .plots.progress import ProgressBar
    from .validation.api import validate

    if args.fit:
        return _fit(args)
    report = validate(args.csv, efficiency=args.efficiency.split(","), group_by=args.group_by.split(","),
                      progress=ProgressBar("configurations"))
    if args.format == "json":
        return json.dumps(report.to_dict(), indent=1) + "\n"
    from .validationtext import render_validation, validation_csv

    return validation_csv(report) if args.format == "csv" else render_validation(report)


def _fit(args) -> str:
    from .plots.progress import ProgressBar
    from .validation.api import fit_serving_profiles, write_profiles

    result = fit_serving_profiles(args.csv, progress=ProgressBar("configurations"))
    write_profiles(result["profiles"], args.fit)
    data = {"written": args.fit, "rows": result["rows"],
            "profiles": {k: v.to_dict() for k, v in result["profiles"].items()},
            "in_sample": {m: s.to_dict() for m, s in result["in_sample"].items()},
            "cross_validation": {by: {m: s.to_dict() for m, s in v.items()}
                                 for by, v in result["cross_validation"].items()}}
    return json.dumps(data, indent=1) + "\n"
