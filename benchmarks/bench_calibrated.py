"""Cost of the calibrated efficiency setting against the ideal roofline (target: at most 2x). Run by hand:

    python benchmarks/bench_calibrated.py

Prints, on this machine, the median wall time of (1) one whole-generation analysis of Llama-2-7B
(prompt 2048 + 2048 generated tokens) and (2) a sweep of 20,000 scenarios, for ``ideal`` and
``calibrated``, and their ratio.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import llm_roofline as lr

MODEL, DEVICE = "meta-llama/Llama-2-7b-hf", "h100-sxm"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(label: str, run, repeat: int) -> None:
    """Median of each, the two settings interleaved (a busy machine slows both alike)."""
    run("ideal"), run("calibrated")  # warm caches (catalog loads, curve lookups)
    pairs = [(timed(lambda: run("ideal")), timed(lambda: run("calibrated"))) for _ in range(repeat)]
    ideal = statistics.median(p[0] for p in pairs)
    calibrated = statistics.median(p[1] for p in pairs)
    ratio = calibrated / ideal
    verdict = "ok" if ratio <= 2.0 else "MISSED"
    print(f"{label:<52} ideal {ideal * 1e3:8.2f} ms   calibrated {calibrated * 1e3:8.2f} ms   "
          f"ratio {ratio:4.2f} (target <= 2) {verdict}")


def main() -> None:
    model, device = lr.load_model(MODEL), lr.load_hardware(DEVICE)
    compare("analyze(): Llama-2-7B, prompt 2048 + 2048 generated",
            lambda eff: lr.analyze(model, device, prompt_len=2048, gen_len=2048, flash_attention=True,
                                   efficiency=eff), 50)
    batches, prompts = np.arange(1, 2501), [128, 512, 1024, 2048, 4096, 8192, 16384, 32768]
    compare(f"sweep(): {len(batches) * len(prompts):,} scenarios",
            lambda eff: lr.sweep(model, device, batch_size=batches, prompt_len=prompts, gen_len=256,
                                 flash_attention=True, efficiency=eff), 5)


if __name__ == "__main__":
    main()
