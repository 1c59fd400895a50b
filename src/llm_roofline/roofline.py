"""The roofline: time = max(FLOPs / peak, bytes / bandwidth) for every operator and scenario.

With an efficiency setting: peak and bandwidth are scaled by their achievable fractions and a
fixed launch overhead is added per kernel (the ``ideal`` setting is the paper's roofline).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .hardware.spec import PRECISIONS, Efficiency, Hardware
from .ops import OpTable
from .precision import BEST_16BIT, compute_peak
from .scenario import Scenario


@dataclass(frozen=True)
class OpCosts:
    """Roofline placement of each operator (arrays [n_ops, n_scenarios], per occurrence).

    peak_flops_per_s: the compute ceiling that applies (FLOP/s, after efficiency);
    compute_time_s = FLOPs / peak; memory_time_s = bytes / bandwidth (s);
    time_s = max of the two + overhead; arithmetic_intensity = FLOPs / bytes (FLOP/byte);
    compute_bound: True where compute time exceeds memory time;
    performance_flops_per_s = FLOPs / time_s (attained, FLOP/s).
    """

    table: OpTable
    peak_flops_per_s: np.ndarray
    bandwidth_bytes_per_s: float
    compute_time_s: np.ndarray
    memory_time_s: np.ndarray
    time_s: np.ndarray
    # Offloading (techniques/offload.py): times of the host-side resources (the host link each way, or the
    # host CPU and its memory) that overlap the device's work, and the host time that does not (s).
    host_times: tuple[np.ndarray, ...] = ()
    serial_time_s: np.ndarray | None = None

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
    for part in host_times:
        time = np.maximum(time, part)
    if serial is not None:
        time = time + serial
    if efficiency.kernel_overhead_s:
        does_work = ((table.flops > 0) | (traffic > 0)).any(axis=1, keepdims=True)
        time += np.where(does_work, efficiency.kernel_overhead_s, 0.0)
    return OpCosts(table=table, peak_flops_per_s=peak, bandwidth_bytes_per_s=bandwidth,
                   compute_time_s=compute_time, memory_time_s=memory_time, time_s=time,
                   host_times=host_times, serial_time_s=serial)
