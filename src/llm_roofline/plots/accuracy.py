"""``llm-roofline plot accuracy``: predicted against measured TTFT and TPOT of a validation run, log-log,
one colour per system, a panel per metric and efficiency setting, with the y = x line and a +-25 % band.
The data are a validation.report.ValidationReport's rows; argparse only at import time."""

from __future__ import annotations

SYSTEM_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
METRIC_TITLES = {"ttft_s": "time to first token", "tpot_s": "time per output token"}


def add_kind(kinds) -> None:
    from .arguments import image_options

    p = kinds.add_parser("accuracy", help="predicted vs measured TTFT and TPOT of `llm-roofline validate` (log-log)",
                         description="Run `llm-roofline validate` on a measured serving table (default "
                                     "../shared/validation/serving-dev.csv) and draw every predicted row: predicted "
                                     "against measured, one colour per system, a panel per metric and efficiency "
                                     "setting, with the y = x line and a +-25 % band.")
    p.add_argument("csv", nargs="?", help="a measured serving table (default: ../shared/validation/serving-dev.csv)")
    p.add_argument("--efficiency", default="ideal,calibrated", help="comma-separated: ideal, calibrated (default both)")
    image_options(p)
    p.set_defaults(run=_run)


def _run(args) -> str:
    from ..validation.api import validate
    from .commands import _check_folder, _size
    from .options import image_format
    from .progress import ProgressBar
    from .render import save

    image_format(args.image)
    _check_folder(args.image)
    report = validate(args.csv, efficiency=args.efficiency.split(","), progress=ProgressBar("configurations"))
    save(draw_accuracy(report, size=_size(args.size), title=args.title), args.image, dpi=args.dpi)
    return ""


def draw_accuracy(report, *, size=None, title=None):
    """The figure of a ValidationReport (see the module docstring)."""
    import numpy as np

    from .render.common import figure_legend, new_figure, set_title

    effs, metrics = report.efficiencies, ("ttft_s", "tpot_s")
    fig = new_figure(size or (4.6 * len(effs), 8.4), minimum=(3.0 * len(effs), 5.0))
    set_title(fig, title, f"Predicted vs measured: {len(report.rows)} rows of {report.source.rsplit('/', 1)[-1]}")
    axes = fig.subplots(len(metrics), len(effs), squeeze=False)
    systems = sorted({r.system for r in report.rows})
    color = {s: SYSTEM_COLORS[i % len(SYSTEM_COLORS)] for i, s in enumerate(systems)}
    handles = {}
    for i, metric in enumerate(metrics):
        measured = np.array([r.measured[metric] for r in report.rows]) * 1e3
        for j, eff in enumerate(effs):
            ax = axes[i][j]
            predicted = np.array([r.predicted[eff][metric] for r in report.rows]) * 1e3
            for s in systems:
                pick = np.array([r.system == s for r in report.rows])
                handles[s] = ax.scatter(measured[pick], predicted[pick], s=9, alpha=0.55, color=color[s], lw=0,
                                        label=s)
            values = np.concatenate([measured, predicted]) if measured.size else np.array([1.0, 10.0])
            lo, hi = values[values > 0].min() / 1.5, values.max() * 1.5
            line = np.array([lo, hi])
            ax.plot(line, line, color="#333333", lw=1.0)
            ax.fill_between(line, line / 1.25, line * 1.25, color="#999999", alpha=0.2, lw=0)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            errors = report.errors(metric, eff)
            median = float(np.median(np.abs(errors))) if errors.size else float("nan")
            ax.set_title(f"{eff}: {METRIC_TITLES[metric]}\nmedian |error| {median:.1f} %", fontsize=9.5)
            ax.set_xlabel("measured (ms)")
            ax.set_ylabel("predicted (ms)")
    figure_legend(fig, list(handles.values()), list(handles), fontsize=8.5,
                  title="one colour per system; line: predicted = measured; band: +-25 %", title_fontsize=8)
    return fig
