"""``llm-roofline calibrate``: refit the kernel curves from the measured tables (a face; the
work is in calibrate.py and crossval.py). Needs the ``calibrate`` extra (pandas, pyarrow, scipy)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ConfigError, RooflineError

DEFAULT_TABLES = Path("..") / "shared" / "kernel-data"


def add_parser(sub) -> None:
    p = sub.add_parser("calibrate", help="refit the calibrated efficiency curves from measured kernel tables",
                       description="Fit the per-kernel efficiency curves (efficiency/curves.py) on AIConfigurator's "
                                   "kernel tables and write one params JSON per system; optionally the "
                                   "cross-validated error per kernel class as a Markdown table.")
    p.add_argument("--tables", default=str(DEFAULT_TABLES),
                   help="the kernel-data folder (<system>/<op>/<engine>/<version>/*.parquet; "
                        f"default {DEFAULT_TABLES})")
    p.add_argument("--out", default="calibrated-params",
                   help="folder for <system>.json (default ./calibrated-params; the shipped ones live in "
                        "src/llm_roofline/efficiency/params)")
    p.add_argument("--system", action="append", choices=["a100_sxm", "h100_sxm", "h200_sxm", "b200_sxm"],
                   help="fit only this system (repeatable; default all four)")
    p.add_argument("--crossval", metavar="FILE",
                   help="also write the grouped cross-validation error per kernel class (Markdown) to FILE")
    p.set_defaults(run=_run)


def _say(text: str) -> None:
    print(f"calibrate: {text}", file=sys.stderr, flush=True)


def _run(args) -> str:
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
        import scipy  # noqa: F401
    except ImportError as exc:
        raise RooflineError(f"calibrate needs pandas, pyarrow and scipy ({exc.name} is missing): "
                            "pip install 'llm-roofline[calibrate]'") from None
    tables = Path(args.tables)
    if not tables.is_dir():
        raise ConfigError(f"kernel tables folder {str(tables)!r} does not exist (give --tables)")
    from .calibrate import calibrate

    written = calibrate(tables, Path(args.out), args.system, _say)
    lines = [f"wrote {p}" for p in written]
    if args.crossval:
        from .crossval import crossval_report

        Path(args.crossval).write_text(crossval_report(tables, args.system, _say))
        lines.append(f"wrote {args.crossval}")
    return "\n".join(lines) + "\n"
