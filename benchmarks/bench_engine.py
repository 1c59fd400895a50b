"""Speed of the engine against the targets of the core issue. Run by hand:

    python benchmarks/bench_engine.py

Prints, on this machine: the whole-generation analysis of Llama-2-7B (prompt 2048, 2048 generated
tokens) in-process (target < 5 ms), parsing and analysing a config at the layer cap (10,000
alternating layers: as fast as a small one, target < 50 ms), a sweep of 100,000 scenario points
(target < 1 s), the CLI as a whole process including start-up (target < 1 s), and the speed-up over
a naive reference that re-analyses every decode step in a Python loop (target >= 100x), with the two
results compared.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import numpy as np

import llm_roofline as lr

MODEL, DEVICE = "meta-llama/Llama-2-7b-hf", "nvidia_A6000"
PROMPT, GEN = 2048, 2048


def best_of(fn, repeat: int) -> tuple[float, float]:
    """(median, min) wall time of ``fn`` in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def naive_generation_time(model, device) -> float:
    """The reference: one decode-step analysis per generated token, in a Python loop."""
    total = 0.0
    for step in range(1, GEN + 1):
        total += lr.analyze(model, device, prompt_len=PROMPT, gen_len=0, kv_len=PROMPT + step).decode.total.time_s
    return total


def line(label: str, seconds: float, target: float) -> None:
    verdict = "ok" if seconds < target else "MISSED"
    print(f"{label:<58} {seconds * 1e3:10.2f} ms   target < {target * 1e3:g} ms "
          f"({target / seconds:6.1f}x margin) {verdict}")


def main() -> None:
    model, device = lr.load_model(MODEL), lr.load_hardware(DEVICE)

    def whole_generation():
        return lr.analyze(model, device, prompt_len=PROMPT, gen_len=GEN)

    whole_generation()
    median, _ = best_of(whole_generation, 200)
    line("analyze(): Llama-2-7B, prompt 2048 + 2048 generated", median, 5e-3)

    from llm_roofline.models.hf_config import spec_from_hf_config

    cap = {"model_type": "gemma2", "hidden_size": 2304, "num_hidden_layers": 10_000, "num_attention_heads": 8,
           "num_key_value_heads": 4, "head_dim": 256, "intermediate_size": 9216, "vocab_size": 256000}
    median, _ = best_of(lambda: lr.analyze(spec_from_hf_config(cap, "cap"), device, prompt_len=PROMPT,
                                           gen_len=GEN), 20)
    line("parse + analyze(): 10,000 alternating layers (the cap)", median, 50e-3)

    batches, prompts = np.arange(1, 12_501), [128, 256, 512, 1024, 2048, 4096, 8192, 16384]

    def big_sweep():
        return lr.sweep(model, device, batch_size=batches, prompt_len=prompts, gen_len=512)

    assert len(big_sweep()) == 100_000
    median, _ = best_of(big_sweep, 5)
    line("sweep(): 12,500 batch sizes x 8 prompt lengths = 100,000 points", median, 1.0)

    cli = [sys.executable, "-m", "llm_roofline.cli", "analyze", MODEL, DEVICE,
           "--prompt-len", str(PROMPT), "--gen-len", str(GEN)]
    subprocess.run(cli, check=True, capture_output=True)
    median, _ = best_of(lambda: subprocess.run(cli, check=True, capture_output=True), 5)
    line("llm-roofline analyze (whole process, start-up included)", median, 1.0)

    start = time.perf_counter()
    reference = naive_generation_time(model, device)
    naive = time.perf_counter() - start
    fast, _ = best_of(whole_generation, 50)
    closed = whole_generation().generation
    decode_sum = closed.e2e_s - closed.ttft_s
    print(f"{'naive per-step loop (reference), 2048 analyses':<58} {naive * 1e3:10.2f} ms")
    ratio = naive / fast
    print(f"{'speed-up of the closed form over the naive loop':<58} {ratio:10.0f} x    target >= 100x "
          f"{'ok' if ratio >= 100 else 'MISSED'}")
    print(f"{'closed form vs naive decode time (relative difference)':<58} "
          f"{abs(decode_sum - reference) / reference:10.2e}")


if __name__ == "__main__":
    main()
