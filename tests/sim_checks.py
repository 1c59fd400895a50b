"""Measurements of a simulated run, shared by the simulation tests.

- ``middle_half``: the steady window, the middle half of the requests by arrival (the start-up wave and
  the drain left out): their mean TTFT and TPOT (s) and their completion rate (requests/s), which the
  closed forms are checked against.
- ``in_system_and_rate_x_latency``: Little's law over the middle of the run (arrivals between two
  quantiles): the time-average number of requests in the system, integrated from the arrival and departure
  times, against the observed arrival rate x the mean latency of the requests arriving then. Two
  independent books of the same run: they agree within sampling and edge error."""

from __future__ import annotations

import numpy as np


def in_system_and_rate_x_latency(per_request: dict, lo: float = 0.2, hi: float = 0.8,
                                 points: int = 200_001) -> tuple[float, float, float]:
    """(L, rate, W): L the time-average requests in the system over [t0, t1], the arrival-time quantiles
    ``lo`` and ``hi``; rate the arrivals in that window / its length (requests/s); W their mean end-to-end
    latency (s). Little's law: L = rate x W."""
    arrive = np.asarray(per_request["arrival_s"], dtype=float)
    leave = arrive + np.asarray(per_request["e2e_s"], dtype=float)
    t0, t1 = np.quantile(arrive, [lo, hi])
    grid = np.linspace(t0, t1, points)
    in_system = (np.searchsorted(np.sort(arrive), grid, side="right")
                 - np.searchsorted(np.sort(leave), grid, side="right"))
    window = (arrive >= t0) & (arrive <= t1)
    return float(in_system.mean()), float(window.sum() / (t1 - t0)), float(per_request["e2e_s"][window].mean())


def middle_half(per_request: dict) -> dict:
    """The middle half of the requests by arrival: {"ttft": mean TTFT (s), "tpot": mean TPOT (s), "rate":
    completions per second = (n - 1) / the span of their finish times}."""
    arrive = np.asarray(per_request["arrival_s"], dtype=float)
    keep = np.argsort(arrive)[arrive.size // 4: 3 * arrive.size // 4]
    finish = (arrive + np.asarray(per_request["e2e_s"], dtype=float))[keep]
    return {"ttft": float(np.nanmean(per_request["ttft_s"][keep])),
            "tpot": float(np.nanmean(per_request["tpot_s"][keep])), "rate": float((keep.size - 1) / np.ptp(finish))}
