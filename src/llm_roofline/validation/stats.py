"""Error statistics of predictions against measurements.

Per row and metric: error = (predicted - measured) / measured x 100 % (negative: the model predicts a
shorter time, i.e. faster than measured). Per group of rows:
- median absolute error: the median of |error| (%);
- p90: the 90th percentile of |error| (%; linear interpolation between order statistics, NumPy's
  default "linear" method);
- bias: the median of the signed errors (%), robust to the few rows a model misses by several times;
- faster: the share of rows predicted no slower than measured (for ``ideal``, the rows where the
  roofline stays an upper bound on speed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def errors_pct(predicted, measured) -> np.ndarray:
    """Signed relative errors (%): 100 (predicted - measured) / measured."""
    predicted, measured = np.asarray(predicted, dtype=np.float64), np.asarray(measured, dtype=np.float64)
    return 100.0 * (predicted - measured) / measured


@dataclass(frozen=True)
class ErrorStats:
    """Statistics of one group's signed errors (see the module docstring): n rows; median_abs_pct,
    p90_abs_pct, bias_pct (%); faster_share (0..1). NaN where n = 0."""

    n: int
    median_abs_pct: float
    p90_abs_pct: float
    bias_pct: float
    faster_share: float

    def to_dict(self) -> dict:
        def num(v: float):
            return None if not np.isfinite(v) else round(float(v), 4)

        return {"n": self.n, "median_abs_pct": num(self.median_abs_pct), "p90_abs_pct": num(self.p90_abs_pct),
                "bias_pct": num(self.bias_pct), "faster_share": num(self.faster_share)}


def error_stats(errors) -> ErrorStats:
    """ErrorStats of the signed errors ``errors`` (%)."""
    e = np.asarray(errors, dtype=np.float64).ravel()
    if e.size == 0:
        return ErrorStats(0, np.nan, np.nan, np.nan, np.nan)
    a = np.abs(e)
    return ErrorStats(n=int(e.size), median_abs_pct=float(np.median(a)), p90_abs_pct=float(np.percentile(a, 90)),
                      bias_pct=float(np.median(e)), faster_share=float(np.mean(e <= 0.0)))
