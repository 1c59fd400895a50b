"""Every operator of a stage as a roofline point, with the device's ceilings (Fig. 5, 6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ... import api
from ...defaults import DEFAULT_SCALE_BITS, DEFAULT_STATE_BITS
from ...errors import ScenarioError
from ...hardware.spec import PRECISIONS, Hardware
from ...result import report_at
from ...roofline import device_peaks
from .common import load_pair

_CEILING_NAMES = ("fp16", "bf16", "int8", "fp8", "int4", "fp4", "fp32", "tf32")


@dataclass(frozen=True)
class StageRoofline:
    """Every operator of one stage as a roofline point (arrays over operators, per occurrence)."""

    stage: str
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    counts: np.ndarray
    flops: np.ndarray
    bytes: np.ndarray
    arithmetic_intensity: np.ndarray      # FLOP/byte
    performance_flops_per_s: np.ndarray   # attained
    peak_flops_per_s: np.ndarray          # the ceiling that applies to the operator
    time_s: np.ndarray
    time_share: np.ndarray                # of the stage's total time (count included)
    compute_bound: np.ndarray
    total_time_s: float
    total_intensity: float                # the whole stage as one point
    total_performance_flops_per_s: float


@dataclass(frozen=True)
class RooflineData:
    model: str
    hardware: str
    scenario: dict
    bandwidth_bytes_per_s: float           # after the efficiency setting
    ceilings: dict[str, float]             # label -> FLOP/s (after the efficiency setting)
    ridge_points: dict[str, float]         # label -> FLOP/byte
    stages: tuple[StageRoofline, ...]
    measured: object = None                # efficiency.measure_points.MeasuredRoofline (--measured FILE)

    def roof(self, label: str, intensity: np.ndarray) -> np.ndarray:
        """Attainable FLOP/s under ceiling ``label`` at each arithmetic intensity (FLOP/byte)."""
        return np.minimum(self.ceilings[label], self.bandwidth_bytes_per_s * np.asarray(intensity, dtype=float))


def ceiling_label(device: Hardware, precision: str) -> str:
    resolved = device.resolve_precision(precision)
    return precision if resolved == precision else f"{precision} (runs as {resolved})"


def roofline(model, hardware, *, stages: Sequence[str] = ("prefill", "decode"), precisions: Sequence[str] = (),
             batch_size: int = 1, prompt_len: int = 1024, kv_len: int | None = None, w_bits=16, a_bits=16,
             kv_bits=16, flash_attention: bool = False, logits_all: bool = False, group_size: int = 128,
             scale_bits: int = DEFAULT_SCALE_BITS, state_bits=DEFAULT_STATE_BITS, efficiency="ideal",
             measured=None) -> RooflineData:
    """Operators of ``stages`` on the device's roofline. ``precisions``: ceilings to draw (default: those
    the operators use). Ceilings are the device's peaks and bandwidth times the efficiency fractions.
    ``measured``: a device file (or Hardware) written by ``llm-roofline measure``, whose measured roof
    and points are drawn over the datasheet roofline."""
    spec, device = load_pair(model, hardware)
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown:
        raise ScenarioError(f"unknown precision {unknown[0]!r}; valid: {', '.join(PRECISIONS)}")
    bad = [s for s in stages if s not in ("prefill", "decode")]
    if bad or not stages:
        raise ScenarioError(f"stage must be prefill, decode or both, got {bad[0] if bad else 'nothing'!r}")
    a = api.analyze_many(spec, device, batch_size=batch_size, prompt_len=prompt_len, kv_len=kv_len, w_bits=w_bits,
                         a_bits=a_bits, kv_bits=kv_bits, flash_attention=flash_attention, logits_all=logits_all,
                         group_size=group_size, scale_bits=scale_bits, state_bits=state_bits, efficiency=efficiency)
    report = report_at(a, 0)
    cf = a.efficiency.compute_fraction
    peaks = {p: v * cf for p, v in device_peaks(device).items()}  # per requested precision, fallbacks applied
    out = []
    for stage in stages:
        result = getattr(report, stage)
        ops = result.ops
        arr = {k: np.array([getattr(o, k) for o in ops], dtype=float)
               for k in ("count", "flops", "bytes", "arithmetic_intensity", "performance_flops_per_s",
                         "peak_flops_per_s", "time_s", "time_share")}
        t = result.total
        out.append(StageRoofline(
            stage=stage, names=tuple(o.name for o in ops), kinds=tuple(o.kind for o in ops), counts=arr["count"],
            flops=arr["flops"], bytes=arr["bytes"], arithmetic_intensity=arr["arithmetic_intensity"],
            performance_flops_per_s=arr["performance_flops_per_s"], peak_flops_per_s=arr["peak_flops_per_s"],
            time_s=arr["time_s"], time_share=arr["time_share"],
            compute_bound=np.array([o.bound == "compute" for o in ops]), total_time_s=t.time_s,
            total_intensity=t.arithmetic_intensity, total_performance_flops_per_s=t.performance_flops_per_s))
    if precisions:
        ceilings = {ceiling_label(device, p): peaks[p] for p in precisions}
    else:
        used = sorted({float(v) for s in out for v, f in zip(s.peak_flops_per_s, s.flops, strict=True) if f > 0})
        ceilings = {next(p for p in _CEILING_NAMES if peaks[p] == v): v for v in used}
    bandwidth = float(a.prefill.bandwidth_bytes_per_s)
    if measured is not None:
        from ...efficiency.measure_points import measured_roofline

        measured = measured_roofline(api.load_hardware(measured))
    return RooflineData(model=spec.name, hardware=device.name, scenario=report.scenario,
                        bandwidth_bytes_per_s=bandwidth, ceilings=ceilings,
                        ridge_points={k: v / bandwidth for k, v in ceilings.items()}, stages=tuple(out),
                        measured=measured)
