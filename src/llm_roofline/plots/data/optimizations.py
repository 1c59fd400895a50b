"""Data of the technique figures: operator fusion on the roofline (the paper's Fig. 15) and the three
rooflines of offloading (Fig. 17-18). Every number comes from the engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ... import api
from .common import load_pair

FUSION_LEVELS = ("none", "elementwise", "aggressive")


@dataclass(frozen=True)
class FusedStage:
    """One stage's operators before (``plain``) and after fusion (``fused``), as roofline points:
    (names, arithmetic intensity FLOP/byte, attained FLOP/s, time share), per occurrence; ``groups``:
    each fused operator (name, its members' time before, its time after, both counts included, s; bound)."""

    stage: str
    plain: tuple
    fused: tuple
    groups: tuple[tuple[str, float, float, str], ...]


@dataclass(frozen=True)
class FusionData:
    """``times_s`` [level, stage]: prefill and decode-step time per fusion level, ``compute_bound_time_s``
    the part of it in compute-bound operators; ``kernels`` [level]:
    kernels per decode step; ``stages``: the operators of ``level`` against no fusion."""

    model: str
    hardware: str
    level: str
    levels: tuple[str, ...]
    times_s: np.ndarray
    compute_bound_time_s: np.ndarray
    bytes: np.ndarray
    kernels: np.ndarray
    peak_flops_per_s: float
    bandwidth_bytes_per_s: float
    stages: tuple[FusedStage, ...]
    settings: dict


def _points(stage) -> tuple:
    ops = [o for o in stage.ops if o.flops > 0 and o.bytes > 0]
    return (tuple(o.name for o in ops), np.array([o.arithmetic_intensity for o in ops]),
            np.array([o.performance_flops_per_s for o in ops]), np.array([o.time_share for o in ops]))


def _groups(plain, fused) -> tuple:
    """Each fused operator with its members' time before fusion (a norm shared by several products is
    counted with the first) and its own time after, counts included."""
    before = {o.name: o.time_s * o.count for o in plain.ops}
    seen: set[str] = set()
    out = []
    for o in fused.ops:
        members = o.name.split("+")
        if len(members) < 2:
            continue
        mine = [m for m in members if m not in seen and m in before]
        seen.update(mine)
        out.append((o.name, sum(before[m] for m in mine), o.time_s * o.count, o.bound))
    return tuple(out)


def fusion(model, hardware, *, level: str = "aggressive", batch_size: int = 1, prompt_len: int = 2048,
           efficiency="ideal", **options) -> FusionData:
    """Operators of prefill and one decode step with no fusion and with ``level``, and each stage's time
    at every level (paper Fig. 15). ``options``: analyze's scenario and technique keywords."""
    from ...errors import ScenarioError

    if level not in FUSION_LEVELS[1:]:
        raise ScenarioError(f"fusion level must be elementwise or aggressive, got {level!r}")
    spec, device = load_pair(model, hardware)
    reports = {lv: api.analyze(spec, device, batch_size=batch_size, prompt_len=prompt_len, gen_len=0,
                               efficiency=efficiency, fusion=lv, **options) for lv in FUSION_LEVELS}
    chosen, plain = reports[level], reports["none"]
    stages = tuple(FusedStage(stage, _points(getattr(plain, stage)), _points(getattr(chosen, stage)),
                              _groups(getattr(plain, stage), getattr(chosen, stage)))
                   for stage in ("prefill", "decode"))
    times = np.array([[r.prefill.total.time_s, r.decode.total.time_s] for r in reports.values()])
    compute = np.array([[r.prefill.total.compute_bound_time_s, r.decode.total.compute_bound_time_s]
                        for r in reports.values()])
    traffic = np.array([[r.prefill.total.bytes, r.decode.total.bytes] for r in reports.values()])
    kernels = np.array([sum(o.count for o in r.decode.ops if o.flops > 0 or o.bytes > 0) for r in reports.values()])
    h = plain.hardware
    peak = max(o.peak_flops_per_s for o in plain.prefill.ops if o.flops > 0)
    return FusionData(model=spec.name, hardware=device.name, level=level, levels=FUSION_LEVELS, times_s=times,
                      compute_bound_time_s=compute, bytes=traffic, kernels=kernels, peak_flops_per_s=peak,
                      bandwidth_bytes_per_s=h["effective_bandwidth_bytes_per_s"], stages=stages,
                      settings={"batch_size": batch_size, "prompt_len": prompt_len,
                                "efficiency": plain.hardware["efficiency"]})


@dataclass(frozen=True)
class OffloadData:
    """Three rooflines: (label, peak FLOP/s, bandwidth bytes/s) of device memory + device, host memory +
    device (the host link, per direction) and host memory + host CPU; ``points``: the decode step's
    operators (intensity, attained FLOP/s, time share) in each setting; ``fractions``: the offloaded
    fraction, ``tpot_s`` [curve, fraction]: time per output token for each curve in ``curves``."""

    model: str
    hardware: str
    host: str
    roofs: tuple[tuple[str, float, float], ...]
    points: tuple[tuple, ...]
    fractions: np.ndarray
    curves: tuple[str, ...]
    tpot_s: np.ndarray
    settings: dict


def offload(model, hardware, *, host="xeon-8480-plus", batch_size: int = 1, prompt_len: int = 1024,
            gen_len: int = 64, fractions: Sequence[float] = tuple(np.linspace(0, 1, 11)), efficiency="ideal",
            **options) -> OffloadData:
    """The paper's Fig. 18 for ``model`` on ``hardware`` with ``host`` as the host CPU: the three rooflines
    with the decode step's operators in each setting, and TPOT against the offloaded fraction of the
    weights and of the KV cache, computed on the device and on the CPU."""
    from ...techniques.build import build_optimizations

    spec, device = load_pair(model, hardware)
    host_device = build_optimizations(offload_weights=1.0, host=host).host
    common = dict(batch_size=batch_size, prompt_len=prompt_len, gen_len=gen_len, efficiency=efficiency,
                  host=host_device, **options)
    settings = (("device memory + device", {}),
                ("host memory + device", {"offload_weights": 1.0, "offload_kv": 1.0}),
                ("host memory + host CPU", {"offload_weights": 1.0, "offload_kv": 1.0, "offload_compute": "cpu"}))
    reports = [api.analyze(spec, device, **common, **extra) for _, extra in settings]
    link = reports[1].optimizations["host_link_bytes_per_s"]
    dev_peak = max(o.peak_flops_per_s for o in reports[0].decode.ops if o.flops > 0)
    cpu_peak = host_device.peak_16bit_flops_per_s
    roofs = ((settings[0][0], dev_peak, reports[0].hardware["effective_bandwidth_bytes_per_s"]),
             (settings[1][0], dev_peak, link), (settings[2][0], cpu_peak, host_device.memory_bandwidth_bytes_per_s))
    points = tuple(_points(r.decode) for r in reports)
    f = np.asarray(list(fractions), dtype=float)
    zeros = np.zeros_like(f)
    curves = {"weights, device computes": dict(offload_weights=f, offload_kv=zeros),
              "KV cache, device computes": dict(offload_weights=zeros, offload_kv=f),
              "KV cache, CPU computes attention": dict(offload_weights=zeros, offload_kv=f, offload_compute="cpu")}
    tpot = []
    for extra in curves.values():
        a = api.analyze_many(spec, device, **{**common, "batch_size": np.full_like(f, batch_size)}, **extra)
        tpot.append(a.generation.tpot_s)
    return OffloadData(model=spec.name, hardware=device.name, host=host_device.name, roofs=roofs, points=points,
                       fractions=f, curves=tuple(curves), tpot_s=np.array(tpot),
                       settings={"batch_size": batch_size, "prompt_len": prompt_len, "gen_len": gen_len})
