"""The fewest devices that serve a target request rate under the SLOs, from a plan's search."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .plan import PlanResult


def fewest_gpus(model, hardware, result: PlanResult, target: float, axes: dict, common: dict) -> dict:
    """The fewest devices whose best configuration meets the SLOs at ``target`` requests/s. Aggregated
    replicas scale linearly (ceil(target / best rate per device)); disaggregated pools are searched at
    device counts found by bisection below that (assuming more devices never serve less)."""
    cols = result.columns
    ok = result.slo.met(cols["ttft_s"], cols["tpot_s"])
    agg = ok & (cols["prefill_workers"] == 0)
    best: dict | None = None
    if agg.any():
        per_gpu = cols["requests_per_s"] / cols["gpus"]
        i = int(np.flatnonzero(agg)[np.argmax(per_gpu[agg])])
        size = result.configs[i].get("devices_per_worker", 1)  # replicas of whole workers
        n = size * max(1, math.ceil(target / (per_gpu[i] * size) - 1e-9))
        best = {"gpus": n, "mode": "agg", "rate_per_s": float(per_gpu[i] * n), "point": result.row(i)}
    if "disagg" in axes.get("mode", ()):
        d_axes = {**axes, "mode": ("disagg",)}
        high = best["gpus"] - 1 if best else max(2 * result.gpus, 2)

        from .plan import search

        def meets(n: int):
            r = search(model, hardware, gpus=n, axes=d_axes, **common)
            return (r.max_rate_at_slo or 0.0) >= target, r

        low, found = 2, None
        while low <= high:
            mid = (low + high) // 2
            good, r = meets(mid)
            if good:
                found, high = (mid, r), mid - 1
            else:
                low = mid + 1
        if found is not None:
            n, r = found
            rates = r.columns["requests_per_s"]
            ok_d = r.slo.met(r.columns["ttft_s"], r.columns["tpot_s"]) & (rates >= target)
            i = int(np.flatnonzero(ok_d)[np.argmax(r.columns["tokens_per_s_per_gpu"][ok_d])])
            best = {"gpus": n, "mode": "disagg", "rate_per_s": float(rates[i]), "point": r.row(i)}
    if best is None:
        return {"gpus": None, "target_rate_per_s": target, "reason": "no configuration meets the SLOs"}
    return {"target_rate_per_s": target, **best}
