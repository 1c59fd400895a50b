"""Speed of the serving model against the targets of the serving issue. Run by hand:

    python benchmarks/bench_serving.py [--quick]

Prints: the closed-form steady state's points per second (target: microseconds per point), the
discrete-event simulation's requests per second on 10,000 requests (target: well under a second), the time
of typical `plan` searches, with and without the worker layouts and pipeline stages (target < 10 s on a
2-core machine), and
the process-pool crossover of the search (the configuration count past which a pool of one process per
core is faster than one process).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import llm_roofline as lr
from llm_roofline.api import resolve_efficiency
from llm_roofline.serving.pool import link_bandwidth
from llm_roofline.serving.profiles import profile_for
from llm_roofline.serving.scheduler import SchedulerConfig
from llm_roofline.serving.setup import CostCache, Formats
from llm_roofline.serving.simulate import simulate_agg
from llm_roofline.serving.steady import steady_state
from llm_roofline.serving.workload import closed_loop, poisson

MODEL, DEVICE = "llama-3.1-8b", "h100-sxm"


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    """(median CPU seconds of this process, result): CPU time, not wall time, so that other jobs sharing the
    machine do not count (wall time is printed too, by ``line``)."""
    times, out = [], None
    for _ in range(repeat):
        start, wall = time.process_time(), time.perf_counter()
        out = fn()
        times.append(time.process_time() - start)
        timed.wall = time.perf_counter() - wall
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="skip the process-pool crossover")
    args = parser.parse_args()
    model, device = lr.load_model(MODEL), lr.load_hardware(DEVICE)
    cache = CostCache(model, device, resolve_efficiency("ideal", device))
    config = SchedulerConfig()
    pool = cache.pool(Formats(), config)
    print(f"{MODEL} on {DEVICE}, {os.cpu_count()} cores")

    for n in (1_000, 100_000):
        C = np.geomspace(1, 256, n)
        seconds, _ = timed(lambda C=C: steady_state(pool.cost, pool.kv, config, C, 2048.0, 512.0))
        print(f"closed-form steady state, {n:>7,} points: {seconds * 1e3:8.1f} ms CPU = {seconds / n * 1e6:6.2f} "
              f"us/point ({n / seconds:,.0f} points/s)")

    for label, workload in (("Poisson 10 requests/s", poisson(10.0, 10_000, "uniform:1024:3072", "uniform:256:768")),
                            ("Poisson  3 requests/s", poisson(3.0, 10_000, "uniform:1024:3072", "uniform:256:768")),
                            ("closed loop, concurrency 64", closed_loop(64, 10_000, 2048, 512))):
        seconds, result = timed(lambda w=workload: simulate_agg(pool, w), repeat=1)
        verdict = "ok" if seconds < 1.0 else "MISSED"
        print(f"simulation of 10,000 requests, {label:<27}: {seconds:6.2f} s CPU ({timed.wall:.2f} s wall) = "
              f"{10_000 / seconds:>7,.0f} requests/s, {result.iterations:>9,} iterations  (target < 1 s: {verdict})")

    # The engine-evaluated simulation (calibrated kernels, or workers of several devices): every iteration and
    # every decode-only stretch is one build_ops + roofline call, milliseconds each; no target in the issue.
    calibrated = CostCache(model, device, resolve_efficiency("calibrated", device), profile=profile_for(
        resolve_efficiency("calibrated", device))).pool(Formats(), config)
    for label, workload in (("Poisson 10 requests/s", poisson(10.0, 1_000, "uniform:1024:3072", "uniform:256:768")),
                            ("closed loop, concurrency 64", closed_loop(64, 1_000, 2048, 512))):
        seconds, result = timed(lambda w=workload: simulate_agg(calibrated, w), repeat=1)
        print(f"calibrated simulation of 1,000 requests, {label:<27}: {seconds:6.2f} s CPU ({timed.wall:.2f} s wall) "
              f"= {1_000 / seconds:>7,.0f} requests/s, {result.iterations:>9,} iterations")

    for model, label, layouts in ((MODEL, "one device per worker (--tp 1)", {"tp": [1]}),
                                  (MODEL, "default search, TP 1-8 x PP 1-4 layouts", {}),
                                  ("llama-3.1-70b", "default search, TP 1-8 x PP 1-4 layouts", {}),
                                  ("mixtral-8x7b", "default search, TP, TP x EP, attention-DP x EP, x PP 1-4", {}),
                                  ("deepseek-v3", "default search, TP, TP x EP, attention-DP x EP, x PP 1-4", {})):
        seconds, result = timed(lambda m=model, kw=layouts: lr.plan(m, DEVICE, gpus=8, isl=2048, osl=512,
                                                                   ttft_slo=1.0, tpot_slo=0.05, processes=1, **kw),
                                repeat=1)
        verdict = "ok" if seconds < 10 else "MISSED"
        print(f"plan {model}, 8 GPUs, {label} ({result.search['configurations']} configurations, "
              f"{result.search['points']} points): {seconds:.2f} s CPU ({timed.wall:.2f} s wall)  "
              f"(target < 10 s: {verdict})")
    link = link_bandwidth(device)
    print(f"(disaggregated KV link: {link / 1e9:.0f} GB/s one way)")
    if args.quick:
        return
    print(f"process-pool crossover (wall seconds, one process vs a pool of {os.cpu_count()}):")
    formats = ["bf16", "fp8", "w4a16", "int8", "w8a16", "fp8-kv16", "w4a16-kv8", "fp4"]
    for budgets, chunks in (((8192,), (None,)), ((2048, 8192), (None, 1024)), ((1024, 2048, 4096, 8192),
                                                                               (None, 256, 512, 1024, 2048))):
        kwargs = dict(gpus=8, isl=2048, osl=512, tpot_slo=0.05, formats=formats, max_batch_tokens=budgets,
                      chunks=chunks, tp=[1])  # one device per worker: the crossover as first measured
        start = time.perf_counter()
        r1 = lr.plan(MODEL, DEVICE, processes=1, **kwargs)
        one = time.perf_counter() - start
        start = time.perf_counter()
        lr.plan(MODEL, DEVICE, processes=os.cpu_count(), **kwargs)
        many = time.perf_counter() - start  # wall time: the pool's point is to use the other cores
        print(f"  {r1.search['configurations']:>5} configurations: one process {one:6.2f} s, pool {many:6.2f} s "
              f"({one / many:4.2f}x)")


if __name__ == "__main__":
    main()
