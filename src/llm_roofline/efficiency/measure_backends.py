"""The kernels ``llm-roofline measure`` times, on PyTorch (cpu, cuda:N, mps) or on NumPy (cpu).

A backend prepares a kernel and returns a call that runs it once; ``sync()`` waits for queued
work (CUDA and MPS run asynchronously). Every call rotates over enough buffers that the data it
touches is not left in the caches by the previous call (``cold_bytes`` in all: twice the last-level
cache when known), so the times are those of main memory, the bandwidth the roofline uses.

Kernels (arrays of float32 unless a GEMM format says otherwise):
- ``copy``: b = a (reads and writes n bytes: 2n bytes moved, the STREAM convention, which does not
  count a CPU's write-allocate read);
- ``triad`` (PyTorch): a = b + 2 c, one fused pass (3n bytes, 2 FLOPs per element); NumPy has no
  fused triad, so it runs STREAM's ``add``: a = b + c (3n bytes, 1 FLOP per element);
- ``gemm``: C[m, n] = A[m, k] @ B[k, n] in a format: fp32 (TF32 off), tf32, fp16, bf16 (16-bit
  output), fp8 (torch._scaled_mm, E4M3 inputs, unit scales, bf16 output), int8 (torch._int_mm,
  int32 output);
- ``tiny``: the smallest elementwise kernel (one element): its time per call is the launch (GPU)
  or dispatch (CPU) overhead;
- ``allreduce`` (PyTorch, several CUDA devices): an NCCL all-reduce of a float32 buffer on every
  visible GPU from one process (torch.cuda.nccl).
The CUDA and MPS paths are the same code with tensors on that device; they were not run in CI.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

import numpy as np

from ..errors import ConfigError

GEMM_FORMATS = ("fp32", "tf32", "fp16", "bf16", "fp8", "int8")
STREAM_KERNELS = ("copy", "triad", "add")


def rotation(touched_bytes: float, cold_bytes: float, limit: int = 1 << 16) -> int:
    """Buffers to rotate over so that ``cold_bytes`` pass between two uses of one buffer (they are
    views into one allocation, so many small buffers cost one allocation)."""
    return int(min(limit, max(1, np.ceil(cold_bytes / max(touched_bytes, 1.0)))))


def cycle(calls: list[Callable[[], object]]) -> Callable[[], None]:
    state = {"i": 0}

    def run() -> None:
        i = state["i"]
        calls[i]()
        state["i"] = (i + 1) % len(calls)

    return run


def last_level_cache_bytes() -> float | None:
    """The largest CPU cache (bytes) Linux reports, else None."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    sizes = []
    try:
        for entry in os.listdir(base):
            text = open(os.path.join(base, entry, "size")).read().strip()
            scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
            sizes.append(float(text.rstrip("KMG")) * scale)
    except (OSError, ValueError):
        return None
    return max(sizes) if sizes else None


def system_memory_bytes() -> float | None:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def cpu_name() -> tuple[str, str]:
    """(model name, vendor) of this CPU: /proc/cpuinfo on Linux, else the platform's words."""
    vendors = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD"}
    model = vendor = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name" and not model:
                    model = value
                elif key == "vendor_id" and not vendor:
                    vendor = vendors.get(value, value)
    except OSError:
        pass
    if not vendor and platform.system() == "Darwin" and platform.machine() == "arm64":
        vendor = "Apple"
    return model or platform.processor() or platform.machine() or "cpu", vendor


def cpu_units() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class NumpyBackend:
    """CPU kernels on NumPy (its BLAS for GEMMs): fp32 only."""

    library = f"numpy {np.__version__}"
    kind = "cpu"
    device = "cpu"
    clock = staticmethod(time.perf_counter)

    def __init__(self) -> None:
        self.cache_bytes = last_level_cache_bytes()
        self.cold_bytes = 2 * self.cache_bytes if self.cache_bytes else 64 * 2**20

    def sync(self) -> None:
        pass

    def formats(self, wanted: tuple[str, ...] | None = None) -> tuple[str, ...]:
        return ("fp32",) if wanted is None or "fp32" in wanted else ()

    def info(self) -> dict:
        model, vendor = cpu_name()
        return {"device_name": model, "vendor": vendor, "units": cpu_units(),
                "memory_capacity_bytes": system_memory_bytes(), "devices": 1}

    def stream(self, kernel: str, n_bytes: int) -> Callable[[], None]:
        n = max(1, n_bytes // 4)
        arrays = 2 if kernel == "copy" else 3
        count = rotation(arrays * 4 * n, self.cold_bytes)
        blocks = [np.ones((count, n), dtype=np.float32) for _ in range(arrays)]
        sets = [[b[i] for b in blocks] for i in range(count)]
        if kernel == "copy":
            return cycle([lambda s=s: np.copyto(s[1], s[0]) for s in sets])
        if kernel == "add":
            return cycle([lambda s=s: np.add(s[1], s[2], out=s[0]) for s in sets])
        raise ConfigError(f"numpy has no fused {kernel!r} kernel; it runs copy and add")

    def stream_kernels(self) -> tuple[str, ...]:
        return ("copy", "add")

    def gemm(self, fmt: str, m: int, n: int, k: int) -> Callable[[], None]:
        if fmt != "fp32":
            raise ConfigError(f"numpy runs fp32 GEMMs only, not {fmt}")
        a = np.ones((m, k), dtype=np.float32)
        out = np.empty((m, n), dtype=np.float32)
        weights = np.full((rotation(4 * k * n, self.cold_bytes), k, n), 0.5, dtype=np.float32)
        return cycle([lambda w=w: np.matmul(a, w, out=out) for w in weights])

    def tiny(self) -> Callable[[], None]:
        x, y, z = (np.ones(1, dtype=np.float32) for _ in range(3))
        return lambda: np.add(x, y, out=z)

    def allreduce(self, n_bytes: int):
        return None

    def close(self) -> None:
        pass


def backend_for(device: str = "cpu", library: str = "auto"):
    """The backend that runs kernels on ``device`` (cpu, cuda, cuda:N, mps) with ``library``:
    ``torch`` (needs PyTorch), ``numpy`` (cpu only) or ``auto`` (PyTorch when installed)."""
    device = (device or "cpu").strip().lower()
    if library not in ("auto", "torch", "numpy"):
        raise ConfigError(f"library must be auto, torch or numpy, got {library!r}")
    if library == "numpy" or library == "auto" and device == "cpu" and not _has_torch():
        if device != "cpu":
            raise ConfigError(f"numpy runs on the cpu only, not on {device!r}; install PyTorch for GPUs")
        return NumpyBackend()
    if not _has_torch():
        raise ConfigError(f"measuring {device!r} needs PyTorch: pip install 'llm-roofline[measure]' torch "
                          "(or --library numpy for the cpu)")
    from .measure_torch import TorchBackend

    return TorchBackend(device)


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None
