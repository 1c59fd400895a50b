"""Hardware: one device's roofline parameters, in SI base units (bytes, bytes/s, FLOP/s).

GB = 1e9 bytes everywhere; capacities are stored in bytes exactly as the vendor's number
means them (see ``docs`` of the catalog for GB vs GiB labels). Peaks are dense (no 2:4
sparsity). ``peak_flops_per_s`` maps a precision to its dense peak; a precision missing from
the map has no hardware path on the device and falls back along FALLBACKS: the other 16-bit
float (fp16 <-> bf16), else wider formats of the same kind, then 16- and 32-bit floats. Integer
and float 8- or 4-bit formats never stand in for each other (an A100 runs fp8 work at fp16).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import ConfigError, ScenarioError
from ..inputs import hardware_number, real
from ..limits import FRACTION_LIMITS, KERNEL_OVERHEAD_LIMITS_S

# Precisions in order from narrow to wide; the engine picks the narrowest one that is at least
# as wide as an operator's operands and that the device has.
PRECISIONS = ("fp4", "int4", "fp8", "int8", "bf16", "fp16", "tf32", "fp32")
PRECISION_BITS = {"fp4": 4, "int4": 4, "fp8": 8, "int8": 8, "bf16": 16, "fp16": 16, "tf32": 32, "fp32": 32}
# Where operands of a precision run when the device lacks that precision, in order of preference.
FALLBACKS = {
    "fp4": ("fp4", "fp8", "fp16", "bf16", "fp32"),
    "int4": ("int4", "int8", "fp16", "bf16", "fp32"),
    "fp8": ("fp8", "fp16", "bf16", "fp32"),
    "int8": ("int8", "fp16", "bf16", "fp32"),
    "fp16": ("fp16", "bf16", "fp32"),
    "bf16": ("bf16", "fp16", "fp32"),
    "tf32": ("tf32", "fp32"),
    "fp32": ("fp32",),
}


@dataclass(frozen=True)
class Efficiency:
    """Fractions of the datasheet peaks that kernels reach, and a fixed cost per kernel launch.

    time = max(FLOPs / (peak * compute_fraction), bytes / (bandwidth * bandwidth_fraction))
           + kernel_overhead_s. ``ideal`` (1, 1, 0) is the paper's roofline.
    """

    compute_fraction: float = 1.0
    bandwidth_fraction: float = 1.0
    kernel_overhead_s: float = 0.0

    def __post_init__(self) -> None:
        """Fractions in FRACTION_LIMITS ([1e-3, 1]: smaller ones would push times to infinity), the
        overhead in KERNEL_OVERHEAD_LIMITS_S; numbers only (True is not 1.0, '0.5' is text)."""
        try:
            for name in ("compute_fraction", "bandwidth_fraction"):
                object.__setattr__(self, name, real(f"efficiency.{name}", getattr(self, name), *FRACTION_LIMITS))
            object.__setattr__(self, "kernel_overhead_s",
                               real("efficiency.kernel_overhead_s", self.kernel_overhead_s,
                                    *KERNEL_OVERHEAD_LIMITS_S, high_open=True, unit="s"))
        except ScenarioError as exc:
            raise ConfigError(str(exc)) from None


IDEAL = Efficiency()


@dataclass(frozen=True)
class Hardware:
    """One accelerator (or CPU), as the roofline sees it.

    memory_bandwidth_bytes_per_s: main-memory bandwidth (decimal, bytes/s).
    memory_capacity_bytes: main memory the model may use (bytes).
    peak_flops_per_s: dense peak per precision (FLOP/s; integer ops counted as FLOPs).
    sram_per_sm_bytes / sm_count / l2_bytes: on-chip memory (informational, bytes).
    interconnect_bandwidth_bytes_per_s: scale-up link, bidirectional aggregate (bytes/s).
    host_bandwidth_bytes_per_s: link to the host (PCIe, NVLink-C2C), bidirectional aggregate (bytes/s).
    sparse_2to4: the tensor cores run 2:4 semi-structured sparse matrices at twice the dense rate (the
    datasheet's "with sparsity" peak; techniques/sparsity.py).
    efficiency: measured fractions used when the user picks ``--efficiency hardware``.
    calibration: the device's own measured efficiency curves (efficiency.measure_device.
    MeasuredCalibration, from a file written by ``llm-roofline measure``), used by
    ``--efficiency calibrated`` in place of the shipped fits; None for datasheet devices.
    """

    name: str
    memory_bandwidth_bytes_per_s: float
    memory_capacity_bytes: float
    peak_flops_per_s: Mapping[str, float]
    vendor: str = ""
    kind: str = "gpu"
    sram_per_sm_bytes: float | None = None
    sm_count: int | None = None
    l2_bytes: float | None = None
    interconnect_bandwidth_bytes_per_s: float | None = None
    host_bandwidth_bytes_per_s: float | None = None
    sparse_2to4: bool = False
    efficiency: Efficiency = field(default_factory=Efficiency)
    calibration: object | None = None
    aliases: tuple[str, ...] = ()
    source_url: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        # The plausible ranges of llm_roofline.limits.HARDWARE_RANGES: inside them no time or rate
        # can overflow, whoever builds the device (catalog, YAML file, override, API, web).
        try:
            for name in ("memory_bandwidth_bytes_per_s", "memory_capacity_bytes"):
                object.__setattr__(self, name, hardware_number(name, getattr(self, name), name))
            peaks = dict(self.peak_flops_per_s)
            unknown = set(peaks) - set(PRECISIONS)
            if unknown:
                raise ConfigError(f"unknown precision(s) {sorted(map(str, unknown))}; valid: {', '.join(PRECISIONS)}")
            for precision, value in peaks.items():
                peaks[precision] = hardware_number(f"peak_flops_per_s.{precision}", value, "peak_flops_per_s")
        except (ScenarioError, ConfigError) as exc:
            raise ConfigError(f"{self.name}: {exc}") from None
        if not peaks:
            raise ConfigError(f"{self.name}: peak_flops_per_s needs at least one precision")
        object.__setattr__(self, "peak_flops_per_s", MappingProxyType(peaks))
        object.__setattr__(self, "aliases", tuple(self.aliases))

    def ridge_point(self, precision: str = "fp16") -> float:
        """Arithmetic intensity (FLOP/byte) where the roofline turns: peak / bandwidth."""
        return self.peak_for(precision) / self.memory_bandwidth_bytes_per_s

    def peak_for(self, precision: str) -> float:
        """Dense peak (FLOP/s) of ``precision``, or of its fallback on this device (FALLBACKS; with
        no fallback present, e.g. fp32 on a TPU, the widest precision the device has)."""
        return self.peak_flops_per_s[self.resolve_precision(precision)]

    @property
    def peak_16bit_flops_per_s(self) -> float:
        """The faster of the device's fp16 and bf16 peaks (FLOP/s): the 16-bit rate a model runs at
        when its 16-bit float format is not pinned to one of the two."""
        return max(self.peak_for("fp16"), self.peak_for("bf16"))

    def resolve_precision(self, precision: str) -> str:
        """The precision whose peak applies to operands of ``precision`` on this device."""
        if precision not in PRECISION_BITS:
            raise ConfigError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
        for candidate in FALLBACKS[precision]:
            if candidate in self.peak_flops_per_s:
                return candidate
        # No path as wide as asked (e.g. fp32 on a TPU): the widest precision the device has.
        return max(self.peak_flops_per_s, key=lambda p: (PRECISION_BITS[p], -PRECISIONS.index(p)))
