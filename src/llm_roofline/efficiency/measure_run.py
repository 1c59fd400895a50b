"""Run the measurements of ``llm-roofline measure``: what is timed (a Plan) and how.

A point's time is the best mean over batches of back-to-back calls (seconds per call): after two
warm-up calls (allocation, kernel selection), batches of about BATCH_S each run until
``seconds_per_point`` is spent (at least ``trials`` of them); the device is synchronised once per
batch, so its queue never runs dry between calls and the wait is shared by all of them. The best
batch, not the mean, filters out other work on the machine. A GEMM format whose single call takes
longer than ``cap_s`` stops there (its larger shapes only take longer). A shape a format cannot
run (e.g. fp8 with M not a multiple of 16) is skipped and listed.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from ..errors import ConfigError

KiB, MiB, GiB = 2**10, 2**20, 2**30
BATCH_S = 1e-3  # seconds of back-to-back calls per timed batch


@dataclass(frozen=True)
class Plan:
    """What to time. stream_bytes: bytes per array of the copy / triad sweeps; gemm_shapes:
    (m, n, k); allreduce_bytes: message sizes (several GPUs only); seconds_per_point: timing budget
    of one point (s); trials: timed repetitions (the best counts); cap_s: a GEMM call longer than
    this (s) ends its format's sweep; formats: the GEMM formats to try (None: every one the
    device runs)."""

    stream_bytes: tuple[int, ...]
    gemm_shapes: tuple[tuple[int, int, int], ...]
    allreduce_bytes: tuple[int, ...] = ()
    seconds_per_point: float = 0.05
    trials: int = 3
    cap_s: float = 0.5
    formats: tuple[str, ...] | None = None

    def points(self, n_formats: int, n_stream: int, devices: int) -> int:
        return n_stream * len(self.stream_bytes) + n_formats * len(self.gemm_shapes) + 1 + \
            (len(self.allreduce_bytes) if devices > 1 else 0)


def _grid(ms, nks) -> tuple[tuple[int, int, int], ...]:
    return tuple((m, n, k) for n, k in nks for m in ms)


def default_plan(kind: str, quick: bool = False) -> Plan:
    """The default sweep for a ``cpu`` or ``gpu``; ``quick``: about a tenth of the points and time."""
    if kind == "cpu":
        if quick:
            return Plan(tuple(4 * KiB * 4**i for i in range(6)), _grid((1, 16, 128), ((256, 256), (512, 512))),
                        seconds_per_point=0.01, trials=2, cap_s=0.05)
        return Plan(tuple(4 * KiB * 4**i for i in range(8)),
                    _grid((1, 4, 16, 64, 256, 1024), ((1024, 1024), (4096, 1024), (1024, 4096))))
    if quick:
        return Plan(tuple(4 * KiB * 16**i for i in range(5)), _grid((1, 64, 1024, 8192), ((4096, 4096),)),
                    (64 * KiB, 16 * MiB, 256 * MiB), seconds_per_point=0.01, trials=2, cap_s=0.05)
    return Plan(tuple(4 * KiB * 4**i for i in range(10)),
                _grid((1, 16, 64, 256, 1024, 4096, 16384), ((4096, 4096), (8192, 8192), (14336, 4096))),
                tuple(4 * KiB * 8**i for i in range(7)))


@dataclass(frozen=True)
class Measurements:
    """Measured points (seconds per call). stream: kernel, elements (float32 per array), time_s;
    gemm: format, m, n, k, time_s; tiny_s: the smallest kernel (launch / dispatch overhead);
    allreduce: bytes (per device), time_s over ``devices`` GPUs; skipped: what could not run."""

    library: str
    device: str
    date: str
    info: dict
    stream: dict
    gemm: dict
    tiny_s: float
    allreduce: dict = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["skipped"] = list(self.skipped)
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "measurements") -> Measurements:
        """The inverse of to_dict (a device YAML's calibration.measurements), checked."""
        if not isinstance(d, dict):
            raise ConfigError(f"{where} must be a mapping, got {d!r}")
        tables = {"stream": ("kernel", "elements", "time_s"), "gemm": ("format", "m", "n", "k", "time_s")}
        for name, columns in tables.items():
            table = d.get(name)
            if not isinstance(table, dict) or any(not isinstance(table.get(c), list) for c in columns):
                raise ConfigError(f"{where}.{name} must hold the lists {', '.join(columns)}")
            if len({len(table[c]) for c in columns}) != 1:
                raise ConfigError(f"{where}.{name}: the lists {', '.join(columns)} differ in length")
            for c in columns[1:]:
                if not all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in table[c]):
                    raise ConfigError(f"{where}.{name}.{c} must hold positive numbers")
        tiny = d.get("tiny_s")
        if not isinstance(tiny, int | float) or isinstance(tiny, bool) or not 0 < tiny < 1:
            raise ConfigError(f"{where}.tiny_s must be a time in (0, 1) s, got {tiny!r}")
        return cls(str(d.get("library", "")), str(d.get("device", "")), str(d.get("date", "")),
                   dict(d.get("info") or {}), d["stream"], d["gemm"], float(tiny), dict(d.get("allreduce") or {}),
                   tuple(d.get("skipped") or ()))


def time_per_call(fn: Callable[[], object], sync: Callable[[], None], clock: Callable[[], float],
                  budget_s: float, trials: int, cap_s: float = math.inf) -> tuple[float, bool]:
    """(seconds per call, slow?) of ``fn``: the best batch mean (see the module doc); a call that
    takes longer than ``cap_s`` even after warming up is timed no more and reported as slow."""
    def batch(reps: int) -> float:
        start = clock()
        for _ in range(reps):
            fn()
        sync()
        return (clock() - start) / reps

    estimate = min(batch(1), batch(1))  # warm-up: allocation, kernel selection, thread start
    if estimate >= cap_s:
        return estimate, True
    reps = int(min(100_000, max(1, BATCH_S / max(estimate, 1e-9))))
    deadline = clock() + budget_s
    best, done = math.inf, 0
    while done < max(trials, 1) or clock() < deadline:
        best = min(best, batch(reps))
        done += 1
    return best, False


# What a kernel that cannot run raises (PyTorch: RuntimeError, out-of-memory included; NumPy: MemoryError).
CANNOT_RUN = (RuntimeError, TypeError, ValueError, NotImplementedError, MemoryError)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:120]


def run(backend, plan: Plan, progress: Callable[[int, int], None] | None = None) -> Measurements:
    """Time every point of ``plan`` on ``backend`` (measure_backends.backend_for)."""
    say = progress or (lambda done, total: None)
    info = backend.info()
    formats = backend.formats(plan.formats)
    kernels = backend.stream_kernels()
    total = plan.points(len(formats), len(kernels), int(info.get("devices") or 1))
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        say(done, total)

    def timed(fn, sync=backend.sync, cap=math.inf) -> tuple[float, bool]:
        return time_per_call(fn, sync, backend.clock, plan.seconds_per_point, plan.trials, cap)

    skipped = []
    stream = {"kernel": [], "elements": [], "time_s": []}
    for kernel in kernels:
        for n_bytes in plan.stream_bytes:
            try:
                t, _ = timed(backend.stream(kernel, n_bytes))
            except CANNOT_RUN as exc:  # e.g. out of memory on a small GPU
                skipped.append(f"{kernel} {n_bytes} bytes: {_first_line(exc)}")
            else:
                stream["kernel"].append(kernel)
                stream["elements"].append(max(1, n_bytes // 4))
                stream["time_s"].append(t)
            step()
    gemm = {"format": [], "m": [], "n": [], "k": [], "time_s": []}
    shapes = sorted(plan.gemm_shapes, key=lambda s: (s[0] * s[1] * s[2], s))
    for fmt in formats:
        slow = False
        for m, n, k in shapes:
            if not slow:
                try:
                    t, slow = timed(backend.gemm(fmt, m, n, k), cap=plan.cap_s)
                except CANNOT_RUN as exc:
                    skipped.append(f"gemm {fmt} {m}x{n}x{k}: {_first_line(exc)}")
                else:
                    for key, value in zip(("format", "m", "n", "k", "time_s"), (fmt, m, n, k, t), strict=True):
                        gemm[key].append(value)
                    if slow:
                        skipped.append(f"gemm {fmt} beyond {m}x{n}x{k}: one call took {t:.3g} s "
                                       f"(> {plan.cap_s:g} s)")
            step()
    tiny_s, _ = timed(backend.tiny())
    step()
    allreduce = {}
    devices = int(info.get("devices") or 1)
    if devices > 1 and plan.allreduce_bytes:
        allreduce = {"devices": devices, "bytes": [], "time_s": []}
        for n_bytes in plan.allreduce_bytes:
            try:
                fn = backend.allreduce(n_bytes)
                t, _ = timed(fn, sync=getattr(backend, "sync_all", backend.sync)) if fn is not None else (None, 0)
            except CANNOT_RUN as exc:
                skipped.append(f"allreduce {n_bytes} bytes: {_first_line(exc)}")
            else:
                if t is not None:
                    allreduce["bytes"].append(4 * max(1, n_bytes // 4))
                    allreduce["time_s"].append(t)
            step()
    backend.close()
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    return Measurements(backend.library, backend.device, today, info, stream, gemm, tiny_s, allreduce,
                        tuple(skipped))
