"""The roofline: time = max(FLOPs / peak, bytes / bandwidth, link time) for every operator and scenario.

Three resources: compute, memory and the link. Only communication operators use the link; their
link time (the collective's alpha-beta time, ``parallel.collectives``) is computed where the row
is built, since it depends on the system, not on the device. With an efficiency setting: peak and
bandwidth are scaled by their achievable fractions and a fixed launch overhead is added per kernel
(the ``ideal`` setting is the paper's roofline); the ``calibrated`` setting (efficiency/) replaces
the fractions by fitted per-kernel curves. Either way every operator reads
``time = roofline_time / efficiency + fixed_time``, roofline_time being the datasheet roofline (no
fractions), so that time >= roofline_time. A communication operator's link time is already its
collective model's (ideal alpha-beta, or curves fitted on measured NCCL tables): no efficiency is
applied on top of it in any setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .hardware.spec import IDEAL, PRECISIONS, Efficiency, Hardware
from .ops import OpTable
from .precision import BEST_16BIT, compute_peak
from .scenario import Scenario


@dataclass(frozen=True)
class OpCosts:
    """Roofline placement of each operator (arrays [n_ops, n_scenarios], per occurrence).

    peak_flops_per_s: the compute ceiling that applies (FLOP/s, after efficiency);
    compute_time_s = FLOPs / peak; memory_time_s = bytes / bandwidth; link_time_s = the collective's
    time on its link (s); time_s = max of the three + overhead (or the calibrated time);
    arithmetic_intensity = FLOPs / bytes (FLOP/byte); compute_bound: True where compute time exceeds
    memory time; link_bound: True where the link time exceeds both (the operator's ``bound`` is then "link");
    roofline_time_s: the datasheet roofline max(FLOPs / peak, bytes / bandwidth, link time) without
    fractions (s); fixed_time_s: the part of time_s that does not scale with the work (launch, set-up; s);
    sources: per operator, where its efficiency comes from; step_overhead_s: host time per engine
    step (s), added once per stage by report.stage_totals and once per decode step.
    performance_flops_per_s = FLOPs / time_s (attained, FLOP/s).
    """

    table: OpTable
    peak_flops_per_s: np.ndarray
    bandwidth_bytes_per_s: float
    compute_time_s: np.ndarray
    memory_time_s: np.ndarray
    time_s: np.ndarray
    link_time_s: np.ndarray | None = None
    roofline_time_s: np.ndarray | None = None
    fixed_time_s: np.ndarray | None = None
    sources: tuple[str, ...] = ()
    step_overhead_s: float = 0.0
    # Offloading (techniques/offload.py): times of the host-side resources (the host link each way, or the
    # host CPU and its memory) that overlap the device's work, and the host time that does not (s).
    host_times: tuple[np.ndarray, ...] = ()
    serial_time_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.link_time_s is None:
            object.__setattr__(self, "link_time_s", np.zeros_like(self.time_s))

    @cached_property
    def efficiency(self) -> np.ndarray:
        """roofline_time / (time - fixed_time): the fraction of the datasheet roofline a kernel
        reaches once its fixed costs are set aside (1 for the ideal roofline and for idle operators)."""
        busy = self.time_s - self.fixed_time_s
        ratio = np.divide(self.roofline_time_s, busy, out=np.ones_like(busy), where=busy > 0)
        return np.minimum(ratio, 1.0)  # <= 1 by construction; only rounding of time - fixed exceeds it

    @cached_property
    def host_time_s(self) -> np.ndarray:
        """The host side's time: the longest overlapped host resource plus the serial host time (s)."""
        out = np.zeros_like(self.time_s)
        for part in self.host_times:
            out = np.maximum(out, part)
        return out if self.serial_time_s is None else out + self.serial_time_s

    @cached_property
    def host_bound(self) -> np.ndarray:
        """True where the host side takes longer than the device's compute and memory."""
        return self.host_time_s > np.maximum(self.compute_time_s, self.memory_time_s)

    # Derived on first use: a sweep of many scenarios needs only the times.
    @cached_property
    def arithmetic_intensity(self) -> np.ndarray:
        traffic = self.table.bytes
        return np.divide(self.table.flops, traffic, out=np.zeros_like(traffic), where=traffic > 0)

    @cached_property
    def attainable_flops_per_s(self) -> np.ndarray:
        """The roofline at the operator's intensity: min(peak, bandwidth x intensity) (FLOP/s)."""
        return np.minimum(self.peak_flops_per_s, self.bandwidth_bytes_per_s * self.arithmetic_intensity)

    @cached_property
    def compute_bound(self) -> np.ndarray:
        return self.compute_time_s > self.memory_time_s

    @cached_property
    def link_bound(self) -> np.ndarray:
        return self.link_time_s > np.maximum(self.compute_time_s, self.memory_time_s)

    @cached_property
    def performance_flops_per_s(self) -> np.ndarray:
        return np.divide(self.table.flops, self.time_s, out=np.zeros_like(self.time_s), where=self.time_s > 0)


def device_peaks(hardware: Hardware) -> dict[str, float]:
    """Peak (FLOP/s) the device delivers for operands of each precision, fallbacks applied, and for
    BEST_16BIT (the faster 16-bit float path)."""
    peaks = {p: hardware.peak_for(p) for p in PRECISIONS}
    peaks[BEST_16BIT] = hardware.peak_16bit_flops_per_s
    return peaks


def ceilings(hardware: Hardware, efficiency: Efficiency) -> tuple[dict[str, float], float, dict[str, float]]:
    """The device's roofline under an efficiency setting: peak per precision (FLOP/s, x compute
    fraction), bandwidth (bytes/s, x bandwidth fraction) and ridge point per precision (peak /
    bandwidth, FLOP/byte)."""
    bandwidth = hardware.memory_bandwidth_bytes_per_s * efficiency.bandwidth_fraction
    peaks = {p: v * efficiency.compute_fraction for p, v in hardware.peak_flops_per_s.items()}
    return peaks, bandwidth, {p: v / bandwidth for p, v in peaks.items()}


def op_peaks(table: OpTable, scenario: Scenario, hardware: Hardware, efficiency: Efficiency) -> np.ndarray:
    """The compute ceiling of each operator: its operands' formats pick the precision."""
    peak_of = device_peaks(hardware)  # 8 look-ups: cheap next to the arrays below
    act = scenario.activations
    by_role = {
        "weights": compute_peak(peak_of, act, scenario.weights),
        "attention": compute_peak(peak_of, act, scenario.kv_cache),
        "elementwise": compute_peak(peak_of, act, act),
    }
    extra = set(table.compute) - set(by_role)
    if extra:  # roles of the techniques: a tensor's own format, FP8 attention, sparse kernels
        from .techniques.roles import role_peak

        base = dict(by_role)
        by_role.update({role: role_peak(role, peak_of, scenario, base) for role in extra})
    return np.stack([by_role[role] for role in table.compute]) * efficiency.compute_fraction


def roofline(table: OpTable, scenario: Scenario, hardware: Hardware, efficiency: Efficiency) -> OpCosts:
    if getattr(efficiency, "mode", "") == "calibrated":
        return _calibrated(table, scenario, hardware, efficiency)
    peak = op_peaks(table, scenario, hardware, efficiency)
    bandwidth = hardware.memory_bandwidth_bytes_per_s * efficiency.bandwidth_fraction
    traffic = table.bytes
    compute_time = table.flops / peak
    memory_time = traffic / bandwidth
    host_times, serial = (), None
    if table.host_read_bytes is not None:  # offloading: the host link (or CPU) is one more resource
        from .techniques.offload import offload_times

        compute_time, memory_time, host_times, serial = offload_times(table, scenario, hardware, efficiency,
                                                                     peak, compute_time, bandwidth)
    time = np.maximum(compute_time, memory_time)
    link_time = table.link_time_s
    if link_time.any():
        time = np.maximum(time, link_time)
    ideal = time if efficiency is IDEAL else np.maximum(compute_time * efficiency.compute_fraction,
                                                         memory_time * efficiency.bandwidth_fraction)
    if link_time.any():
        ideal = np.maximum(ideal, link_time)
    time, ideal = _with_host(time, ideal, host_times, serial, efficiency.bandwidth_fraction)
    fixed = np.zeros_like(time)
    if efficiency.kernel_overhead_s:
        does_work = ((table.flops > 0) | (traffic > 0)).any(axis=1, keepdims=True)
        fixed = np.where(does_work, efficiency.kernel_overhead_s, 0.0) + fixed
        time = time + fixed
    return OpCosts(table=table, peak_flops_per_s=peak, bandwidth_bytes_per_s=bandwidth,
                   compute_time_s=compute_time, memory_time_s=memory_time, time_s=time, link_time_s=link_time,
                   roofline_time_s=ideal, fixed_time_s=fixed, sources=_sources(table, efficiency),
                   host_times=host_times, serial_time_s=serial)


def _with_host(time, ideal, host_times, serial, fraction):
    """Offloading: the host link (or CPU) as resources of their own, overlapped (the largest time wins)
    or serial (added); the datasheet roofline time takes them at full bandwidth."""
    for part in host_times:
        time, ideal = np.maximum(time, part), np.maximum(ideal, part * fraction)
    if serial is not None:
        time, ideal = time + serial, ideal + serial * fraction
    return time, ideal


def _sources(table: OpTable, efficiency: Efficiency) -> tuple[str, ...]:
    text = "ideal roofline" if efficiency is IDEAL else (
        f"fractions: compute {efficiency.compute_fraction:g}, bandwidth {efficiency.bandwidth_fraction:g}, "
        f"{efficiency.kernel_overhead_s * 1e6:g} us per kernel")
    return tuple(collective_source(shape) if _is_collective(shape) else text for shape in _shapes(table))


def _shapes(table: OpTable) -> tuple[dict | None, ...]:
    return table.shapes if len(table.shapes) == len(table.names) else (None,) * len(table.names)


def _is_collective(shape: dict | None) -> bool:
    return shape is not None and shape.get("kernel") == "collective"


def collective_source(shape: dict) -> str:
    """Where a communication operator's time comes from: its collective model (the link's ideal
    alpha-beta time, or curves fitted on measured NCCL / engine tables), which is its calibration."""
    return (f"collective {shape['collective']} over {shape['p']}: the collective model's {shape['mode']} "
            "link time (no kernel efficiency on top)")


def _calibrated(table: OpTable, scenario: Scenario, hardware: Hardware, efficiency) -> OpCosts:
    """Datasheet roofline times, then each operator's fitted curve (efficiency/model.py); communication
    operators keep the collective model's link time; offloaded bytes keep the host link's time (the
    curves apply to the device's own work)."""
    from .efficiency.model import op_times

    peak = op_peaks(table, scenario, hardware, IDEAL)
    bandwidth = hardware.memory_bandwidth_bytes_per_s
    traffic = table.bytes
    compute_time = table.flops / peak
    memory_time = traffic / bandwidth
    host_times, serial = (), None
    if table.host_read_bytes is not None:
        from .techniques.offload import offload_times

        compute_time, memory_time, host_times, serial = offload_times(table, scenario, hardware, IDEAL, peak,
                                                                     compute_time, bandwidth)
        traffic = traffic - table.host_read_bytes - table.host_write_bytes
    t = op_times(efficiency, _shapes(table), table.compute, scenario, compute_time, memory_time, traffic, bandwidth,
                 link_time=table.link_time_s)
    roofline_time = np.maximum(np.maximum(compute_time, memory_time), table.link_time_s)
    time, roofline_time = _with_host(t.time_s, roofline_time, host_times, serial, 1.0)
    return OpCosts(table=table, peak_flops_per_s=peak, bandwidth_bytes_per_s=bandwidth,
                   compute_time_s=compute_time, memory_time_s=memory_time, time_s=time,
                   link_time_s=table.link_time_s, roofline_time_s=roofline_time, fixed_time_s=t.fixed_time_s,
                   sources=t.sources, step_overhead_s=efficiency.step_overhead_s, host_times=host_times,
                   serial_time_s=serial)
