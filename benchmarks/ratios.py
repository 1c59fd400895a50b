"""Timing helpers the ratio benchmarks share (bench_techniques.py, bench_optimizations.py): calls timed in
turn so a busy machine slows each alike, and a table of each one's median against the plain call's."""

from __future__ import annotations

import statistics
import time


def interleaved(calls: dict, repeat: int) -> dict:
    """Median wall time (s) of each call of ``calls`` (name -> no-argument function), the calls run in turn
    ``repeat`` times."""
    times = {name: [] for name in calls}
    for _ in range(repeat):
        for name, fn in calls.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def ratio_table(title: str, medians: dict, target: float, judged: bool = True, width: int = 40) -> None:
    """Print each median (``medians`` has a "plain" entry) and its ratio to plain, judged against ``target``."""
    base = medians["plain"]
    print(f"\n{title}: plain {base * 1e3:.2f} ms")
    for name, t in medians.items():
        if name == "plain":
            continue
        ratio = t / base
        verdict = ("ok" if ratio <= target else "MISSED") if judged else ""
        print(f"  {name:<{width}} {t * 1e3:8.2f} ms  {ratio:5.2f}x  {verdict}")
