"""Choosing among serving configurations: the Pareto front and the best point under latency SLOs.

The standard view of serving trade-offs plots output tokens/s per GPU (what a deployment costs) against
output tokens/s per user (1 / TPOT: what a user sees). A point is on the front when no other point is at
least as good on both and better on one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SLO:
    """Latency objectives (s): mean time to first token and mean time per output token; None: no limit."""

    ttft_s: float | None = None
    tpot_s: float | None = None

    def met(self, ttft_s: np.ndarray, tpot_s: np.ndarray) -> np.ndarray:
        ok = np.isfinite(ttft_s) & (np.isfinite(tpot_s) | np.isnan(tpot_s))
        if self.ttft_s is not None:
            ok &= ttft_s <= self.ttft_s
        if self.tpot_s is not None:
            ok &= np.nan_to_num(tpot_s, nan=0.0) <= self.tpot_s
        return ok

    def to_dict(self) -> dict:
        return {"ttft_s": self.ttft_s, "tpot_s": self.tpot_s}


def pareto_front(per_gpu: np.ndarray, per_user: np.ndarray) -> np.ndarray:
    """Indices of the points on the front (maximising both), ordered by tokens/s per user, descending."""
    per_gpu, per_user = np.asarray(per_gpu, dtype=np.float64), np.asarray(per_user, dtype=np.float64)
    valid = np.flatnonzero(np.isfinite(per_gpu) & np.isfinite(per_user))
    order = valid[np.lexsort((-per_gpu[valid], -per_user[valid]))]  # per user desc, then per GPU desc
    front, best = [], -np.inf
    for i in order.tolist():
        if per_gpu[i] > best:
            front.append(i)
            best = per_gpu[i]
    return np.array(front, dtype=np.intp)


def best_under_slo(per_gpu: np.ndarray, per_user: np.ndarray, ok: np.ndarray) -> int | None:
    """The point with the most tokens/s per GPU among those meeting the SLOs (ties: more per user)."""
    candidates = np.flatnonzero(ok & np.isfinite(per_gpu))
    if not candidates.size:
        return None
    users = np.nan_to_num(per_user[candidates], nan=-np.inf)
    return int(candidates[np.lexsort((-users, -per_gpu[candidates]))[0]])
