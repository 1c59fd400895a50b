"""The kernels of ``llm-roofline measure`` on PyTorch: the same code for cpu, cuda:N and mps (see
measure_backends.py for what each kernel is). Only the CPU path runs in CI; the CUDA and MPS
paths differ by the device the tensors live on, the synchronisation and the formats probed."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import ConfigError
from .measure_backends import cpu_name, cpu_units, cycle, last_level_cache_bytes, rotation, system_memory_bytes


class TorchBackend:
    """Kernels as PyTorch operators on one device (``cpu``, ``cuda``, ``cuda:N``, ``mps``)."""

    clock = staticmethod(time.perf_counter)

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.library = f"torch {torch.__version__}"
        try:
            self.dev = torch.device(device)
        except RuntimeError as exc:
            raise ConfigError(f"unknown device {device!r}: {exc}; use cpu, cuda:N or mps") from None
        self.kind = "cpu" if self.dev.type == "cpu" else "gpu"
        if self.dev.type == "cuda":
            if not torch.cuda.is_available():
                raise ConfigError("this PyTorch build sees no CUDA device; use --device cpu")
            index = self.dev.index if self.dev.index is not None else torch.cuda.current_device()
            if index >= torch.cuda.device_count():
                raise ConfigError(f"no device cuda:{index}: PyTorch sees {torch.cuda.device_count()} CUDA device(s)")
            self.dev = torch.device("cuda", index)
            self.props = torch.cuda.get_device_properties(index)
            self.cache_bytes = float(getattr(self.props, "L2_cache_size", 0)) or None
        elif self.dev.type == "mps":
            if not torch.backends.mps.is_available():
                raise ConfigError("this PyTorch build has no MPS device; use --device cpu")
            self.cache_bytes = None
        elif self.dev.type == "cpu":
            self.cache_bytes = last_level_cache_bytes()
        else:
            raise ConfigError(f"device {device!r} is not supported; use cpu, cuda:N or mps")
        self.device = str(self.dev)
        self.cold_bytes = 2 * self.cache_bytes if self.cache_bytes else 64 * 2**20
        self._tf32 = torch.backends.cuda.matmul.allow_tf32 if self.dev.type == "cuda" else None

    def sync(self) -> None:
        if self.dev.type == "cuda":
            self.torch.cuda.synchronize(self.dev)
        elif self.dev.type == "mps":
            self.torch.mps.synchronize()

    def info(self) -> dict:
        torch = self.torch
        if self.dev.type == "cuda":
            return {"device_name": torch.cuda.get_device_name(self.dev), "vendor": "NVIDIA" if torch.version.cuda
                    else "AMD", "units": int(self.props.multi_processor_count),
                    "memory_capacity_bytes": float(self.props.total_memory), "devices": torch.cuda.device_count()}
        if self.dev.type == "mps":
            return {"device_name": "Apple GPU (mps)", "vendor": "Apple", "units": None,
                    "memory_capacity_bytes": system_memory_bytes(), "devices": 1}
        model, vendor = cpu_name()
        return {"device_name": model, "vendor": vendor, "units": min(torch.get_num_threads(), cpu_units()),
                "memory_capacity_bytes": system_memory_bytes(), "devices": 1}

    def stream_kernels(self) -> tuple[str, ...]:
        return ("copy", "triad")

    def stream(self, kernel: str, n_bytes: int) -> Callable[[], None]:
        torch = self.torch
        n = max(1, n_bytes // 4)
        arrays = 2 if kernel == "copy" else 3
        count = rotation(arrays * 4 * n, self.cold_bytes)
        blocks = [torch.ones(count, n, dtype=torch.float32, device=self.dev) for _ in range(arrays)]
        sets = [[b[i] for b in blocks] for i in range(count)]
        if kernel == "copy":
            return cycle([lambda s=s: s[1].copy_(s[0]) for s in sets])
        if kernel == "triad":
            return cycle([lambda s=s: torch.add(s[1], s[2], alpha=2.0, out=s[0]) for s in sets])
        raise ConfigError(f"unknown stream kernel {kernel!r}; torch runs copy and triad")

    def formats(self, wanted: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """The GEMM formats (of ``wanted``, default all) this device runs: those whose 32 x 32 x 32
        probe does not raise."""
        candidates = ("fp32", "bf16", "fp16", "int8", "fp8") if self.dev.type != "cuda" else \
            ("fp32", "tf32", "fp16", "bf16", "int8", "fp8")
        out = []
        for fmt in (f for f in candidates if wanted is None or f in wanted):
            try:
                self.gemm(fmt, 32, 32, 32)()
                self.sync()
            except (RuntimeError, TypeError, AttributeError, NotImplementedError):
                continue
            out.append(fmt)
        return tuple(out)

    def gemm(self, fmt: str, m: int, n: int, k: int) -> Callable[[], None]:
        torch, dev = self.torch, self.dev
        count = rotation(k * n * (4 if fmt in ("fp32", "tf32") else 2 if fmt in ("fp16", "bf16") else 1),
                          self.cold_bytes)
        if fmt in ("fp32", "tf32", "fp16", "bf16"):
            dtype = {"fp32": torch.float32, "tf32": torch.float32, "fp16": torch.float16,
                     "bf16": torch.bfloat16}[fmt]
            a = torch.ones(m, k, dtype=dtype, device=dev)
            out = torch.empty(m, n, dtype=dtype, device=dev)
            weights = torch.full((count, k, n), 0.5, dtype=dtype, device=dev).unbind(0)
            if self.dev.type != "cuda" or fmt in ("fp16", "bf16"):
                return cycle([lambda w=w: torch.mm(a, w, out=out) for w in weights])
            allow = fmt == "tf32"
            matmul = torch.backends.cuda.matmul

            def run(w) -> None:
                matmul.allow_tf32 = allow  # fp32 with TF32 off, tf32 with it on
                torch.mm(a, w, out=out)

            return cycle([lambda w=w: run(w) for w in weights])
        if fmt == "int8":
            a = torch.ones(m, k, dtype=torch.int8, device=dev)
            weights = torch.ones(count, k, n, dtype=torch.int8, device=dev).unbind(0)
            return cycle([lambda w=w: torch._int_mm(a, w) for w in weights])
        if fmt == "fp8":
            e4m3 = torch.float8_e4m3fn
            a = torch.ones(m, k, device=dev).to(e4m3)
            weights = [w.t() for w in torch.ones(count, n, k, device=dev).to(e4m3).unbind(0)]  # column-major B
            one = torch.ones((), dtype=torch.float32, device=dev)
            return cycle([lambda w=w: torch._scaled_mm(a, w, one, one, out_dtype=torch.bfloat16) for w in weights])
        raise ConfigError(f"unknown GEMM format {fmt!r}")

    def tiny(self) -> Callable[[], None]:
        x, y, z = (self.torch.ones(1, device=self.dev) for _ in range(3))
        return lambda: self.torch.add(x, y, out=z)

    def allreduce(self, n_bytes: int):
        """An NCCL all-reduce over every visible CUDA device (None with fewer than two)."""
        torch = self.torch
        if self.dev.type != "cuda" or torch.cuda.device_count() < 2:
            return None
        import torch.cuda.nccl as nccl

        n = max(1, n_bytes // 4)
        devices = range(torch.cuda.device_count())
        buffers = [torch.ones(n, dtype=torch.float32, device=f"cuda:{d}") for d in devices]

        def run() -> None:
            nccl.all_reduce(buffers)

        return run

    def sync_all(self) -> None:
        for d in range(self.torch.cuda.device_count() if self.dev.type == "cuda" else 0):
            self.torch.cuda.synchronize(d)

    def close(self) -> None:
        if self._tf32 is not None:
            self.torch.backends.cuda.matmul.allow_tf32 = self._tf32
