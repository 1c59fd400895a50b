"""Refit the collective efficiency curves on the measured tables (optional dependencies).

    python -m llm_roofline.parallel.calibrate /path/to/kernel-data [--check]

Reads ``<system>/comm/nccl/<version>/nccl_perf.parquet`` and ``<system>/comm/<engine>/<version>/
custom_allreduce_perf.parquet`` (NVIDIA AIConfigurator's measurements, Apache-2.0; see NOTICE) and
fits, per (system, library, collective, GPU count 2 / 4 / 8), the four numbers of ``collectives.Curve``
by least squares on log time over every message size, in the ring convention of
``collectives.ring_link_bytes``. Writes ``params/collectives.json`` (or, with
``--check``, compares with it). Needs pandas, pyarrow and scipy: never imported at run time.

Table facts (AIConfigurator's collector, collect_nccl.py / collect_all_reduce.py): ``message_size``
counts elements (nccl-tests' byte size divided by the element size: half = 2 bytes); ``latency`` is
in milliseconds. Only half-precision NCCL rows and the CUDA-graph rows of vLLM / SGLang are used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .collectives import Curve, ring_link_bytes

# Per-direction scale-up bandwidth of each measured system (bytes/s): the bundled systems' values
# (systems.yaml: NVLink 3 / 4 / 5 = 300 / 450 / 900 GB/s per direction; a test keeps them equal).
FIT_BANDWIDTH = {"a100_sxm": 300e9, "h100_sxm": 450e9, "h200_sxm": 450e9, "b200_sxm": 900e9}
TABLE_KINDS = {"all_reduce": "all_reduce", "all_gather": "all_gather", "reduce_scatter": "reduce_scatter",
               "alltoall": "all_to_all"}
LOWER = np.array([0.0, 0.05, np.log(1e3), 0.1])
UPPER = np.array([1e-3, 1.2, np.log(1e12), 4.0])
SOURCE = ("NVIDIA AIConfigurator (github.com/ai-dynamo/aiconfigurator, commit 095f58a5, "
          "aic-core/src/aiconfigurator_core/systems/), Apache License 2.0")


def read_tables(root: Path):
    """Yield (system, library, collective, GPU count, size bytes array, seconds array)."""
    import pandas as pd

    for path in sorted(root.glob("*/comm/*/*/*.parquet")):
        system, library = path.parts[-5], path.parts[-3]
        if system not in FIT_BANDWIDTH:
            continue
        frame = pd.read_parquet(path)
        if "nccl_dtype" in frame:
            frame = frame[frame["nccl_dtype"] == "half"]
        if "backend" in frame:
            frame = frame[frame["backend"].str.endswith("graph")]
        for (op, gpus), rows in frame.groupby(["op_name", "num_gpus"], sort=True):
            rows = rows.sort_values("message_size")
            yield (system, library, TABLE_KINDS[op], int(gpus),
                   rows["message_size"].to_numpy(dtype=np.float64) * 2.0, rows["latency"].to_numpy() * 1e-3)


def predict(x: np.ndarray, kind: str, p: int, size: np.ndarray, bandwidth: float) -> np.ndarray:
    return Curve(x[0], x[1], float(np.exp(x[2])), x[3]).time(ring_link_bytes(kind, size, p), bandwidth)


def fit_one(kind: str, p: int, size: np.ndarray, seconds: np.ndarray, bandwidth: float) -> dict:
    """Least squares on log time from a fixed grid of starts (deterministic); returns the curve and
    its errors |predicted / measured - 1| over the table."""
    from scipy.optimize import least_squares

    def residual(x):
        return np.log(predict(x, kind, p, size, bandwidth)) - np.log(seconds)

    best = None
    for log_half in (np.log(1e5), np.log(1e6), np.log(1e7), np.log(1e8)):
        for gamma in (0.4, 1.0):
            start = np.array([0.5 * seconds.min(), 0.8, log_half, gamma])
            result = least_squares(residual, start, bounds=(LOWER, UPPER), x_scale=[1e-6, 0.1, 1.0, 0.1])
            if best is None or result.cost < best.cost:
                best = result
    x = best.x
    error = np.abs(predict(x, kind, p, size, bandwidth) / seconds - 1.0)
    return {"base_s": float(x[0]), "eta_max": float(x[1]), "half_bytes": float(np.exp(x[2])),
            "gamma": float(x[3]), "bandwidth_bytes_per_s": bandwidth, "points": int(seconds.size),
            "min_bytes": float(size.min()), "max_bytes": float(size.max()),
            "median_abs_error": float(np.median(error)), "p90_abs_error": float(np.percentile(error, 90)),
            "max_abs_error": float(error.max())}


def fit_all(root: Path) -> dict:
    fits: dict = {}
    for system, library, kind, p, size, seconds in read_tables(root):
        table = fits.setdefault(system, {}).setdefault(library, {}).setdefault(kind, {})
        table[str(p)] = fit_one(kind, p, size, seconds, FIT_BANDWIDTH[system])
    return {"source": SOURCE, "model": "time = base_s + L / (bandwidth * eta(L)), eta(L) = eta_max / "
            "(1 + (half_bytes / L) ** gamma), L = ring link bytes per device; one curve per GPU count",
            "fits": fits}


def error_table(fits: dict) -> str:
    """The fit's error on every measured table, as the markdown table docs/parallelism.md shows:
    |predicted / measured - 1| over the message sizes of each (system, library, collective, GPUs)."""
    lines = ["| system | library | collective | GPUs | points | median error | 90th pct | max error |",
             "|---|---|---|---|---|---|---|---|"]
    for system in sorted(fits):
        for library in sorted(fits[system]):
            for kind in sorted(fits[system][library]):
                for p in sorted(fits[system][library][kind], key=int):
                    e = fits[system][library][kind][p]
                    lines.append(f"| {system} | {library} | {kind} | {p} | {e['points']} | "
                                 f"{100 * e['median_abs_error']:.1f}% | {100 * e['p90_abs_error']:.1f}% | "
                                 f"{100 * e['max_abs_error']:.1f}% |")
    return "\n".join(lines) + "\n"


def shipped_path() -> Path:
    return Path(__file__).resolve().parent / "params" / "collectives.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kernel_data", type=Path, help="the kernel-data folder (with <system>/comm/...)")
    parser.add_argument("--check", action="store_true", help="compare with the shipped fit instead of writing")
    parser.add_argument("--errors", action="store_true", help="print the fit's error table (markdown) and exit")
    args = parser.parse_args(argv)
    if args.errors:
        print(error_table(json.loads(shipped_path().read_text())["fits"]), end="")
        return 0
    fitted = fit_all(args.kernel_data)
    if args.check:
        shipped = json.loads(shipped_path().read_text())
        same = json.dumps(fitted, sort_keys=True) == json.dumps(shipped, sort_keys=True)
        print("the shipped fit is reproduced" if same else "the refit differs from the shipped fit")
        return 0 if same else 1
    shipped_path().write_text(json.dumps(fitted, indent=1, sort_keys=True) + "\n")
    print(f"wrote {shipped_path()}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
