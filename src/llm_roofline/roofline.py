"""The roofline: time = max(FLOPs / peak, bytes / bandwidth, link time) for every operator and scenario.

Three resources: compute, memory and the link. Only communication operators use the link; their
link time (the collective's alpha-beta time, ``parallel.collectives``) is computed where the row
is built, since it depends on the system, not on the device. With an efficiency setting: peak and
bandwidth are scaled by their achievable fractions and a fixed launch overhead is added per kernel
(the ``ideal`` setting is the paper's roofline).
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
    compute_time_s = FLOPs / peak; memory_time_s = bytes / bandwidth; link_time_s = the collective's
    time on its link (s); time_s = max of the three + overhead; arithmetic_intensity = FLOPs / bytes
    (FLOP/byte); compute_bound: True where compute time exceeds memory time; link_bound: True where
    the link time exceeds both (the operator's ``bound`` is then "link");
    performance_flops_per_s = FLOPs / time_s (attained, FLOP/s).
    """

    table: OpTable
    peak_flops_per_s: np.ndarray
    bandwidth_bytes_per_s: float
    compute_time_s: np.ndarray
    memory_time_s: np.ndarray
    time_s: np.ndarray
    link_time_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.link_time_s is None:
            object.__setattr__(self, "link_time_s", np.zeros_like(self.time_s))

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
    return np.stack([by_role[role] for role in table.compute]) * efficiency.compute_fraction


def roofline(table: OpTable, scenario: Scenario, hardware: Hardware, efficiency: Efficiency) -> OpCosts:
    peak = op_peaks(table, scenario, hardware, efficiency)
    bandwidth = hardware.memory_bandwidth_bytes_per_s * efficiency.bandwidth_fraction
    traffic = table.bytes
    compute_time = table.flops / peak
    memory_time = traffic / bandwidth
    time = np.maximum(compute_time, memory_time)
    link_time = table.link_time_s
    if link_time.any():
        time = np.maximum(time, link_time)
    if efficiency.kernel_overhead_s:
        does_work = ((table.flops > 0) | (traffic > 0)).any(axis=1, keepdims=True)
        time += np.where(does_work, efficiency.kernel_overhead_s, 0.0)
    return OpCosts(table=table, peak_flops_per_s=peak, bandwidth_bytes_per_s=bandwidth,
                   compute_time_s=compute_time, memory_time_s=memory_time, time_s=time, link_time_s=link_time)
