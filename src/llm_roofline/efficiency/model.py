"""The calibrated efficiency setting: a device's fitted kernel curves under one engine profile.

``calibrated(hardware, engine)`` resolves which fitted system the device's curves come from (see
catalog.py); ``op_times`` turns every operator's roofline times into calibrated times:

    time = roofline_time / efficiency + fixed_time,   efficiency in (0, 1], fixed_time >= 0

operator by operator, from its kernel class, format and shape (curves.py, features.py), with the
engine's host launch cost (a kernel takes max(GPU time, host launch time) without CUDA graphs).
Operators are grouped by (class, format) so that NumPy evaluates each group in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .catalog import resolve_curve, system_for
from .curves import Features, kernel_time
from .engines import EngineProfile, engine_profile
from .features import features, kernel_classes, sms_of
from .formats import format_keys


@dataclass(frozen=True)
class Calibrated:
    """The ``calibrated`` efficiency setting for one device (frozen; see the module doc).

    system: the fitted system whose curves apply; fitted: True when the device is that system;
    launch_overhead_s: host time per kernel launch when the engine runs without CUDA graphs.
    The ideal-mode fields (compute_fraction, bandwidth_fraction, kernel_overhead_s) read 1, 1, 0:
    the ceilings stay the datasheet's, the curves carry the efficiency.
    """

    engine: EngineProfile
    device: str
    system: str
    fitted: bool
    launch_overhead_s: float = 0.0
    sms: int = 100

    mode = "calibrated"
    compute_fraction = 1.0
    bandwidth_fraction = 1.0
    kernel_overhead_s = 0.0

    @property
    def step_overhead_s(self) -> float:
        return self.engine.step_overhead_s

    def summary(self) -> dict:
        """What the report's hardware section shows about this setting."""
        origin = "fitted on its own kernel tables" if self.fitted else \
            f"derived from {self.system} by datasheet ratio"
        return {"mode": "calibrated", "engine": self.engine.name, "kernels": self.engine.kernels,
                "curves_from": self.system, "curves": origin, "cuda_graphs": self.engine.cuda_graphs,
                "launch_overhead_s": self.launch_overhead_s, "step_overhead_s": self.engine.step_overhead_s,
                "compute_fraction": 1.0, "bandwidth_fraction": 1.0, "kernel_overhead_s": 0.0}


def calibrated(hardware, engine: str | EngineProfile | None = None,
               launch_overhead_s: float | None = None) -> Calibrated:
    """The calibrated setting of ``hardware`` under ``engine`` (default: generic);
    ``launch_overhead_s`` replaces the engine's host cost per kernel launch (s)."""
    profile = engine_profile(engine)
    system, fitted = system_for(hardware)
    launch = profile.launch_overhead_s if launch_overhead_s is None else launch_overhead_s
    if not (isinstance(launch, int | float) and 0.0 <= launch < 1.0):
        raise ConfigError(f"launch overhead must be in [0, 1) seconds, got {launch!r}")
    return Calibrated(engine=profile, device=hardware.name, system=system, fitted=fitted,
                      launch_overhead_s=float(launch), sms=sms_of(hardware))


@dataclass(frozen=True)
class OpTimes:
    """Calibrated times of each operator ([n_ops, n] arrays, s) and the source of its curve."""

    time_s: np.ndarray
    fixed_time_s: np.ndarray
    sources: tuple[str, ...]


def op_times(eff: Calibrated, shapes, roles, scenario, compute_time, memory_time, traffic,
             bandwidth: float) -> OpTimes:
    """Calibrated times for operators with the given shapes, compute roles and roofline times."""
    n_ops, n = compute_time.shape
    time = np.zeros((n_ops, n))
    fixed = np.zeros((n_ops, n))
    groups: dict[tuple[str, str], list[tuple[int, np.ndarray | None]]] = {}
    for i, (shape, role) in enumerate(zip(shapes, roles, strict=True)):
        classes = kernel_classes(shape, n)
        fmts = format_keys(role, scenario.weights, scenario.activations, scenario.kv_cache, n)
        pairs = set(zip(classes.tolist(), fmts.tolist(), strict=True))
        for cls, fmt in pairs:
            mask = None if len(pairs) == 1 else (classes == cls) & (fmts == fmt)
            groups.setdefault((cls, fmt), []).append((i, mask))
    used: list[set[str]] = [set() for _ in range(n_ops)]
    for (cls, fmt), members in groups.items():
        resolved = resolve_curve(eff.system, eff.fitted, eff.device, eff.engine.kernels, cls, fmt)
        rows = [i for i, _ in members]
        f = _stack([features(cls, shapes[i], traffic[i], eff.sms) for i in rows], n)
        t = kernel_time(resolved.curve, compute_time[rows], memory_time[rows], f, bandwidth)
        for j, (i, mask) in enumerate(members):
            where = slice(None) if mask is None else mask
            time[i, where] = np.broadcast_to(t[j], (n,))[where]
            fixed[i, where] = resolved.curve.t0_s
            used[i].add(resolved.source)
    works = (compute_time > 0) | (memory_time > 0)
    if eff.launch_overhead_s and not eff.engine.cuda_graphs:  # the host issues kernels no faster
        launch_bound = np.maximum(eff.launch_overhead_s - time, 0.0)
        fixed = fixed + launch_bound
        time = time + launch_bound
    time = np.where(works, time, 0.0)
    fixed = np.where(works, fixed, 0.0)
    return OpTimes(time_s=time, fixed_time_s=fixed, sources=tuple(" | ".join(sorted(s)) for s in used))


def _stack(items: list[Features], n: int) -> Features:
    """Features of several operators as [n_ops, n] arrays."""
    def field(name: str) -> np.ndarray:
        return np.stack([np.broadcast_to(np.asarray(getattr(f, name), dtype=np.float64), (n,)) for f in items])

    return Features(depth=field("depth"), x=field("x"), y=field("y"), items=field("items"), extra=field("extra"))
