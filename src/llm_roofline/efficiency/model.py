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
from ..precision import Format
from .catalog import Resolved, resolve_curve, system_for
from .curves import kernel_time
from .engines import EngineProfile, engine_profile
from .features import COLLECTIVE, UNCALIBRATED, features, kernel_classes, sms_of
from .formats import format_keys
from .measure_device import SYSTEM, MeasuredCalibration


@dataclass(frozen=True)
class Calibrated:
    """The ``calibrated`` efficiency setting for one device (frozen; see the module doc).

    system: the fitted system whose curves apply; fitted: True when the device is that system;
    launch_overhead_s: host time per kernel launch when the engine runs without CUDA graphs;
    measured: the device's own measured curves (a file from ``llm-roofline measure``; system
    ``measured``), which replace the shipped fits.
    The ideal-mode fields (compute_fraction, bandwidth_fraction, kernel_overhead_s) read 1, 1, 0:
    the ceilings stay the datasheet's, the curves carry the efficiency.
    """

    engine: EngineProfile
    device: str
    system: str
    fitted: bool
    launch_overhead_s: float = 0.0
    sms: int = 100
    measured: MeasuredCalibration | None = None

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
        if self.measured is not None:
            origin = self.measured.provenance
        kernels = "measured" if self.measured is not None else self.engine.kernels
        return {"mode": "calibrated", "engine": self.engine.name, "kernels": kernels,
                "curves_from": self.system, "curves": origin, "cuda_graphs": self.engine.cuda_graphs,
                "launch_overhead_s": self.launch_overhead_s, "step_overhead_s": self.engine.step_overhead_s,
                "compute_fraction": 1.0, "bandwidth_fraction": 1.0, "kernel_overhead_s": 0.0}


def calibrated(hardware, engine: str | EngineProfile | None = None,
               launch_overhead_s: float | None = None) -> Calibrated:
    """The calibrated setting of ``hardware`` under ``engine`` (default: generic);
    ``launch_overhead_s`` replaces the engine's host cost per kernel launch (s)."""
    profile = engine_profile(engine)
    measured = getattr(hardware, "calibration", None)
    system, fitted = (SYSTEM, True) if measured is not None else system_for(hardware)
    launch = profile.launch_overhead_s if launch_overhead_s is None else launch_overhead_s
    if not (isinstance(launch, int | float) and 0.0 <= launch < 1.0):
        raise ConfigError(f"launch overhead must be in [0, 1) seconds, got {launch!r}")
    return Calibrated(engine=profile, device=hardware.name, system=system, fitted=fitted,
                      launch_overhead_s=float(launch), sms=sms_of(hardware), measured=measured)


@dataclass(frozen=True)
class OpTimes:
    """Calibrated times of each operator ([n_ops, n] arrays, s) and the source of its curve."""

    time_s: np.ndarray
    fixed_time_s: np.ndarray
    sources: tuple[str, ...]


def op_times(eff: Calibrated, shapes, roles, scenario, compute_time, memory_time, traffic,
             bandwidth: float, link_time=None) -> OpTimes:
    """Calibrated times for operators with the given shapes, compute roles and roofline times.
    Communication operators (kernel class ``collective``) keep max(compute, memory, link time): their
    link time comes from the collective model (parallel/collectives.py: ideal alpha-beta or curves
    fitted on measured NCCL tables), which is their calibration; no kernel curve is applied on top."""
    from ..roofline import collective_source
    n_ops, n = compute_time.shape
    time = np.zeros((n_ops, n))
    fixed = np.zeros((n_ops, n))
    keys_of_role: dict[str, np.ndarray | str] = {}
    groups: dict[tuple[str, str], list[tuple[int, np.ndarray | None]]] = {}
    for i, (shape, role) in enumerate(zip(shapes, roles, strict=True)):
        if role not in keys_of_role:
            keys_of_role[role] = _format_keys(role, scenario, n)
        fmts = keys_of_role[role]
        classes = _classes(shape, n)
        if isinstance(classes, str) and isinstance(fmts, str):
            groups.setdefault((classes, fmts), []).append((i, None))
            continue
        classes = np.broadcast_to(np.asarray(classes, dtype=object), (n,))
        fmts = np.broadcast_to(np.asarray(fmts, dtype=object), (n,))
        for cls, fmt in set(zip(classes.tolist(), fmts.tolist(), strict=True)):
            groups.setdefault((cls, fmt), []).append((i, (classes == cls) & (fmts == fmt)))
    used: list[set[str]] = [set() for _ in range(n_ops)]
    for (cls, fmt), members in groups.items():
        if cls == COLLECTIVE:
            for i, mask in members:
                where = slice(None) if mask is None else mask
                link = 0.0 if link_time is None else link_time[i]
                time[i, where] = np.maximum(np.maximum(compute_time[i], memory_time[i]), link)[where]
                used[i].add(collective_source(shapes[i]))
            continue
        if cls == UNCALIBRATED:
            for i, mask in members:
                where = slice(None) if mask is None else mask
                time[i, where] = np.maximum(compute_time[i], memory_time[i])[where]
                used[i].add(f"no calibrated curve for kernel {shapes[i]['kernel']!r}: the roofline time")
            continue
        resolved = _resolve(eff, cls, fmt)
        rows = [i for i, _ in members]
        f = features(resolved.features_class or cls, _stack_shapes([shapes[i] for i in rows], n), traffic[rows],
                     eff.sms)
        t = kernel_time(resolved.curve, compute_time[rows], memory_time[rows], f, bandwidth)
        for j, (i, mask) in enumerate(members):
            if mask is None:
                time[i] = t[j]
                fixed[i] = resolved.curve.t0_s
            else:
                time[i, mask] = t[j][mask]
                fixed[i, mask] = resolved.curve.t0_s
            used[i].add(resolved.source)
    if eff.launch_overhead_s and not eff.engine.cuda_graphs:  # the host issues kernels no faster
        launch_bound = np.maximum(eff.launch_overhead_s - time, 0.0)
        fixed = fixed + launch_bound
        time = time + launch_bound
    idle = (compute_time <= 0) & (memory_time <= 0) & (True if link_time is None else link_time <= 0)
    if idle.any():  # an operator without work takes no time (as in the ideal roofline)
        time = np.where(idle, 0.0, time)
        fixed = np.where(idle, 0.0, fixed)
    return OpTimes(time_s=time, fixed_time_s=fixed, sources=tuple(" | ".join(sorted(s)) for s in used))


def _resolve(eff: Calibrated, cls: str, fmt: str) -> Resolved:
    """The curve of (class, format): the device's own measured one, else the shipped fits."""
    if eff.measured is not None:
        return Resolved(*eff.measured.resolve(cls, fmt))
    return resolve_curve(eff.system, eff.fitted, eff.device, eff.engine.kernels, cls, fmt)


def _format_keys(role: str, scenario, n: int):
    """The format key of a role: one name when the formats are the same in every scenario."""
    formats = (scenario.weights, scenario.activations, scenario.kv_cache)
    if all((np.asarray(f.bits) == np.asarray(f.bits).flat[0]).all() for f in formats):
        first = [Format(np.asarray(f.bits).ravel()[:1], f.family, f.name, f.storage_bits) for f in formats]
        return str(format_keys(role, *first, 1)[0])
    return format_keys(role, *formats, n)


def _classes(shape, n: int):
    """The kernel class of an operator: one name, or an array of names when it varies by scenario."""
    if shape is None or shape["kernel"] not in ("attention", "mla"):
        return str(kernel_classes(shape, 1)[0])  # one class for every scenario
    T = np.asarray(shape["T"])
    if (T > 1).all():
        return f"{shape['kernel']}_prefill"
    if (T <= 1).all():
        return f"{shape['kernel']}_decode"
    return kernel_classes(shape, n)


def _stack_shapes(items: list[dict | None], n: int) -> dict | None:
    """The shapes of several operators of one class as one shape of [n_ops, n] (or [n_ops, 1]) arrays."""
    if items[0] is None:
        return None
    out = {}
    for key, first in items[0].items():
        if isinstance(first, str):
            out[key] = first
            continue
        wide = any(np.ndim(s[key]) for s in items)
        column = np.empty((len(items), n if wide else 1))
        for j, s in enumerate(items):
            column[j] = s[key]
        out[key] = column
    return out
