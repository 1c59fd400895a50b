"""Speed of the multi-device engine against issue 8's targets. Run by hand:

    python benchmarks/bench_parallel.py

Prints: one multi-device analysis (Llama-3.1-70B, TP 8 and TP 4 x PP 2 on a DGX H100, prompt 2048,
2048 generated tokens) against the same single-device analysis (target: within 2x), and a sweep of
10,032 points over (TP, PP, EP, batch) of Mixtral-8x7B with attention DP 8 (target < 1 s). Best of
several runs (the machine may be shared).
"""

from __future__ import annotations

import statistics
import time

import llm_roofline as lr


def best_of(fn, repeat: int) -> tuple[float, float]:
    """(min, median) wall time of ``fn`` in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    model = lr.load_model("meta-llama/Llama-3.1-70B")
    scenario = dict(prompt_len=2048, gen_len=2048)
    single, _ = best_of(lambda: lr.analyze(model, "h100-sxm", **scenario), 30)
    for label, degrees in (("TP 8", dict(tp=8)), ("TP 4 x PP 2", dict(tp=4, pp=2)),
                           ("TP 8, overlap", dict(tp=8, overlap=True))):
        multi, _ = best_of(lambda d=degrees: lr.analyze(model, "dgx-h100", **scenario, **d), 30)
        ratio = multi / single
        print(f"one analysis, {label:<14} {multi * 1e3:7.2f} ms vs one device {single * 1e3:6.2f} ms: "
              f"{ratio:4.2f}x (target <= 2x) {'ok' if ratio <= 2 else 'MISSED'}")
    moe = lr.load_model("mistralai/Mixtral-8x7B-v0.1")
    axes = dict(tp=[1, 2, 4, 8], pp=[1, 2, 4], ep=[1, 2, 4, 8], batch_size=list(range(1, 210)))
    points = 4 * 3 * 4 * 209
    seconds, _ = best_of(lambda: lr.sweep(moe, "dgx-h100", attention_dp=8, prompt_len=1024, gen_len=256, **axes), 5)
    print(f"sweep of {points:,} points over (TP, PP, EP, batch), 48 deployments: {seconds * 1e3:7.1f} ms "
          f"(target < 1000 ms) {'ok' if seconds < 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
