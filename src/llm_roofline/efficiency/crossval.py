"""Out-of-sample error of the fitted curves, per kernel class (for docs/calibration.md).

Two tests, on the engines' own fits (not the pooled generic one):
- leave-one-group-out: the rows of each fit are split by shape group (a GEMM's N x K, an attention
  kernel's heads / KV heads x head size, an MoE layer's hidden x width x experts, an MLA kernel's
  heads) into FOLDS folds; each fold is predicted by the curve fitted on the other folds, so a
  shape is always predicted by a curve that never saw it;
- leave-one-device-out: each system's rows are predicted by the curve fitted on its nearest other
  system (the derivation a device without tables gets: same efficiencies, its own datasheet).
Errors are |predicted / measured - 1| per row; medians and 90th percentiles over all rows of a class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .calibrate import errors, fit, fit_sets
from .catalog import FITTED, NEAREST

FOLDS = 5


def group_folds(groups: np.ndarray, folds: int = FOLDS) -> np.ndarray:
    """A fold number per row: the sorted distinct groups dealt round-robin into ``folds`` folds."""
    labels, inverse = np.unique(groups, return_inverse=True)
    return (np.arange(len(labels)) % min(folds, len(labels)))[inverse.ravel()]


def cross_validated(fs) -> np.ndarray | None:
    """Held-out |relative error| of every row (None with fewer than two shape groups)."""
    fold = group_folds(fs.groups)
    if fold.max() == 0:
        return None
    out = np.empty(len(fs.measured))
    for k in range(fold.max() + 1):
        test = np.flatnonzero(fold == k)
        train = np.flatnonzero(fold != k)
        if len(train) > 6000:
            train = train[np.linspace(0, len(train) - 1, 6000).round().astype(int)]
        out[test] = errors(fs, fit(fs, train), test)
    return out


def crossval_report(root: Path, systems=None, progress=None) -> str:
    """The Markdown tables of docs/calibration.md (in-sample, grouped CV and device transfer)."""
    say = progress or (lambda text: None)
    systems = list(systems or FITTED)
    fitted, sets = {}, {}
    for system in FITTED:  # every system is fitted: the transfer test needs the neighbours
        for fs in fit_sets(root, system):
            key = (system, fs.kernels, fs.cls, fs.fmt)
            sets[key] = fs
            fitted[key] = fit(fs)
    rows: dict[str, dict[str, list]] = {}
    for (system, kernels, cls, fmt), fs in sets.items():
        if system not in systems or kernels == "pooled":
            continue
        say(f"cross-validating {system} {kernels} {cls} {fmt}")
        r = rows.setdefault(cls, {"fit": [], "cv": [], "transfer": [], "sets": 0})
        r["sets"] += 1
        r["fit"].append(errors(fs, fitted[(system, kernels, cls, fmt)]))
        cv = cross_validated(fs)
        if cv is not None:
            r["cv"].append(cv)
        other = next((s for s in NEAREST[system] if (s, kernels, cls, fmt) in fitted), None)
        if other is not None:
            r["transfer"].append(errors(fs, fitted[(other, kernels, cls, fmt)]))

    def stat(parts, q):
        return f"{100 * np.quantile(np.concatenate(parts), q):.1f} %" if parts else "n/a"

    lines = ["| kernel class | fits | rows | in-sample median | grouped CV median | grouped CV p90 "
             "| other-device median |", "|---|---|---|---|---|---|---|"]
    for cls in sorted(rows):
        r = rows[cls]
        n = sum(len(x) for x in r["fit"])
        lines.append(f"| {cls} | {r['sets']} | {n} | {stat(r['fit'], 0.5)} | {stat(r['cv'], 0.5)} | "
                     f"{stat(r['cv'], 0.9)} | {stat(r['transfer'], 0.5)} |")
    return "\n".join(lines) + "\n"


def fit_summary(systems=None) -> str:
    """Markdown: the shipped fits' median / p90 in-sample error per system, engine kernels and class
    (the median over a class's formats, weighted by rows), from params/*.json (no tables needed)."""
    from .catalog import load_params

    lines = ["| system | kernels | class | formats | rows | median error | p90 error |",
             "|---|---|---|---|---|---|---|"]
    for system in systems or FITTED:
        curves = load_params(system)["curves"]
        for kernels in sorted(curves):
            for cls in sorted(curves[kernels]):
                entries = curves[kernels][cls]
                rows = sum(e["rows"] for e in entries.values())
                med = sum(e["median_error"] * e["rows"] for e in entries.values()) / rows
                p90 = sum(e["p90_error"] * e["rows"] for e in entries.values()) / rows
                lines.append(f"| {system} | {kernels} | {cls} | {', '.join(sorted(entries))} | {rows} | "
                             f"{100 * med:.1f} % | {100 * p90:.1f} % |")
    return "\n".join(lines) + "\n"
