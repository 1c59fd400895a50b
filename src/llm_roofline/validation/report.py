"""The validation report: every row's predictions, the error statistics by group, the unpredictable rows.

Groups (``GROUP_KEYS``): system, backend (the engine), version (the engine and the version the row states
in ``backend_version``, e.g. "trtllm 1.2.0rc2", "trtllm (unstated)" when empty), model (the catalog name),
mode (agg, disagg) and metric; ``group_by`` names the tables: one per key, a key joining columns with
``+`` (``system+backend``) groups by their combination. Every table splits by metric (TTFT, TPOT) and
efficiency setting, and the ``overall`` table is always first. ``to_dict()`` is the JSON of
``llm-roofline validate --format json``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ScenarioError
from .stats import ErrorStats, error_stats, errors_pct

METRICS = ("ttft_s", "tpot_s")
GROUP_KEYS = ("system", "backend", "version", "model", "mode", "metric")
DEFAULT_GROUP_BY = ("system", "backend", "model")


@dataclass(frozen=True)
class RowResult:
    """One predicted row: where it is (``line`` of the CSV, ``id``), what it is (``version``: the engine and
    its stated version, cases.Case.version), the measured TTFT and TPOT (s) and the predictions by efficiency
    setting (s)."""

    line: int
    id: str
    system: str
    backend: str
    version: str
    model: str
    mode: str
    isl: int
    osl: int
    concurrency: float
    measured: dict[str, float]
    predicted: dict[str, dict[str, float]]

    def key(self, name: str) -> str:
        return {"system": self.system, "backend": self.backend, "version": self.version, "model": self.model,
                "mode": self.mode}[name]

    def error_pct(self, metric: str, efficiency: str) -> float:
        return float(errors_pct(self.predicted[efficiency][metric], self.measured[metric]))

    def to_dict(self) -> dict:
        return {"line": self.line, "id": self.id, "system": self.system, "backend": self.backend,
                "version": self.version, "model": self.model, "mode": self.mode, "isl": self.isl, "osl": self.osl,
                "concurrency": self.concurrency, "measured": self.measured, "predicted": self.predicted,
                "error_pct": {e: {m: round(self.error_pct(m, e), 4) for m in METRICS} for e in self.predicted}}


@dataclass(frozen=True)
class SkippedRow:
    line: int
    id: str
    reason: str

    def to_dict(self) -> dict:
        return {"line": self.line, "id": self.id, "reason": self.reason}


@dataclass(frozen=True)
class GroupStats:
    """The errors of one group: ``table`` (its group-by key), ``group`` (the value), metric, efficiency."""

    table: str
    group: str
    metric: str
    efficiency: str
    stats: ErrorStats

    def to_dict(self) -> dict:
        return {"table": self.table, "group": self.group, "metric": self.metric, "efficiency": self.efficiency,
                **self.stats.to_dict()}


def check_group_by(group_by) -> tuple[str, ...]:
    """The group-by keys, each a key of GROUP_KEYS or several joined by '+' (ScenarioError otherwise)."""
    keys = tuple(str(k).strip().lower().replace("engine", "backend") for k in group_by if str(k).strip())
    for key in keys:
        bad = [p for p in key.split("+") if p not in (*GROUP_KEYS, "overall")]
        if bad:
            raise ScenarioError(f"group-by: unknown key {bad[0]!r} (keys: {', '.join(GROUP_KEYS)}; join several "
                                "with '+', e.g. system+backend)")
    return keys


@dataclass(frozen=True)
class ValidationReport:
    """``source``: the CSV; ``efficiencies``; ``group_by``: the tables; ``profiles``: the calibrated
    setting's serving profiles (serving/profiles.py) by engine; ``rows`` / ``skipped``."""

    source: str
    efficiencies: tuple[str, ...]
    group_by: tuple[str, ...]
    profiles: dict[str, dict]
    rows: tuple[RowResult, ...]
    skipped: tuple[SkippedRow, ...]

    def errors(self, metric: str, efficiency: str, rows=None) -> np.ndarray:
        rows = self.rows if rows is None else rows
        return np.array([r.error_pct(metric, efficiency) for r in rows])

    def table(self, key: str) -> list[GroupStats]:
        """The statistics of the table ``key`` ("overall", a group key, or keys joined by '+'). Every table
        splits by metric already, so "metric" in a key adds nothing (``backend+metric`` is ``backend``)."""
        parts = [] if key == "overall" else [p for p in key.split("+") if p != "metric"]
        groups: dict[str, list[RowResult]] = {}
        for r in self.rows:
            groups.setdefault(" / ".join(r.key(p) for p in parts) or "all rows", []).append(r)
        return [GroupStats(key, g, m, e, error_stats(self.errors(m, e, rows)))
                for g, rows in sorted(groups.items()) for m in METRICS for e in self.efficiencies]

    def tables(self) -> dict[str, list[GroupStats]]:
        keys = ["overall", *(k for k in self.group_by if k not in ("overall", "metric"))]
        return {k: self.table(k) for k in keys}

    def upper_bound_share(self) -> dict[str, float]:
        """Per metric, the share of rows where ``ideal`` predicts no slower than measured (the roofline
        as an upper bound on speed); empty without ideal."""
        if "ideal" not in self.efficiencies or not self.rows:
            return {}
        return {m: float(np.mean(self.errors(m, "ideal") <= 0.0)) for m in METRICS}

    def to_dict(self) -> dict:
        return {"source": self.source, "efficiencies": list(self.efficiencies), "group_by": list(self.group_by),
                "predicted_rows": len(self.rows), "skipped_rows": len(self.skipped),
                "ideal_upper_bound_share": self.upper_bound_share(), "profiles": self.profiles,
                "tables": {k: [g.to_dict() for g in v] for k, v in self.tables().items()},
                "rows": [r.to_dict() for r in self.rows], "skipped": [s.to_dict() for s in self.skipped]}
