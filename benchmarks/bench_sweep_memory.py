"""Peak memory of `llm-roofline sweep` against the number of grid points: flat, because the grid is
evaluated and written SWEEP_CHUNK_POINTS rows at a time. For contrast, the one-shot ``lr.sweep`` (which
keeps every operator's numbers for every point) grows with the grid. Run by hand:

    python benchmarks/bench_sweep_memory.py            # CSV and JSON lines, up to MAX_GRID_POINTS

Each measurement is a fresh process; its peak resident set size comes from ``os.wait4`` (Linux / macOS).
Prints one line per size with the peak RSS and its ratio to the smallest run. Measured on the 2-core dev
machine (Llama-2-7B): the streamed sweep needs about 100 MB for one chunk (8,000 points) and stays at
about 175 MB from 50,000 to 100,000 points, while lr.sweep() grows to about 870 MB at 100,000 points.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {  # points -> the grid's axes (batch sizes x prompt lengths)
    1_000: ["--batch-size", "1..1000"],
    8_000: ["--batch-size", "1..1000", "--prompt-len", "1..8"],  # about one chunk
    50_000: ["--batch-size", "1..1000", "--prompt-len", "1..50"],
    100_000: ["--batch-size", "1..1000", "--prompt-len", "1..100"],
}
ONE_SHOT = ("import llm_roofline as lr; "
            "lr.sweep('llama-2-7b', 'a100-80g', batch_size=range(1, 1001), prompt_len=range(1, {n}))")


def peak_rss_mb(argv: list[str]) -> tuple[float, float]:
    """(peak resident set size in MB, wall seconds) of one process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), LLM_ROOFLINE_PROGRESS="0")
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(argv)}")
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024  # ru_maxrss: KiB on Linux, bytes on macOS
    return usage.ru_maxrss / scale, wall


def main() -> None:
    for fmt in ("csv", "jsonl"):
        base = None
        print(f"llm-roofline sweep --format {fmt} (streamed)")
        for points, axes in SIZES.items():
            rss, wall = peak_rss_mb([sys.executable, "-m", "llm_roofline.cli", "sweep", "llama-2-7b", "a100-80g",
                                     *axes, "--format", fmt])
            base = base or rss
            print(f"  {points:>7,} points  peak RSS {rss:7.0f} MB  ({rss / base:4.2f}x the smallest)  {wall:5.1f} s")
    base = None
    print("lr.sweep() in one call (keeps every operator of every point)")
    for points in SIZES:
        rss, wall = peak_rss_mb([sys.executable, "-c", ONE_SHOT.format(n=points // 1000 + 1)])
        base = base or rss
        print(f"  {points:>7,} points  peak RSS {rss:7.0f} MB  ({rss / base:4.2f}x the smallest)  {wall:5.1f} s")


if __name__ == "__main__":
    main()
