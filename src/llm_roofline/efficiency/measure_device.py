"""A device's own measured efficiency curves: the ``calibration`` section of a device YAML written
by ``llm-roofline measure`` (measure_*.py), and which curve each kernel class uses.

The section holds, in the calibrated model's own parameter form (curves.Curve):

    calibration:
      provenance: measured on this machine 2025-06-01 (llm-roofline measure, torch 2.13.0, cpu, 2 threads)
      launch_overhead_s: 2.1e-06          # per call of the smallest kernel (s): launch or dispatch cost
      curves:                             # kernel class -> measured format -> fitted curve
        gemm: {fp32: {params: {t0_s: ..., ...}, rows: 18, median_error: 0.04, p90_error: 0.09}}
        elementwise: {fp32: {...}}
      measurements: {...}                 # the raw points (measure_points.py reads them)

Curves are keyed by the format that was measured (fp32, tf32, fp16, bf16, fp8, int8). The
calibrated model asks for a kernel class and a format key (formats.py); a measured device answers
with, in order: the class's curve in a matching measured format (the 16-bit key takes bf16, fp16,
tf32, fp32 in that order), the related format's (formats.FALLBACK), the class's 16-bit curve on
this format's bytes and peak, then a proxy: BMM uses the GEMM curve (same features), decode
attention the elementwise curve on its bytes (a stream over the KV cache), and any class left
(prefill attention, MLA prefill, MoE) the measured per-call overhead on its roofline time. The
provenance sentence says which.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import ConfigError
from .curves import Curve
from .features import CLASSES
from .formats import FALLBACK

MEASURED_FORMATS = ("fp32", "tf32", "fp16", "bf16", "fp8", "int8")
# Model format key -> the measured formats that serve it, best first.
SERVES = {"bf16": ("bf16", "fp16", "tf32", "fp32"), "fp8": ("fp8",), "int8": ("int8",)}
# A class without a measured curve -> (the class whose curve it borrows, the features it is evaluated with).
PROXY = {"bmm": ("gemm", "bmm"), "attention_decode": ("elementwise", "elementwise"),
         "mla_decode": ("elementwise", "elementwise")}
SYSTEM = "measured"  # Calibrated.system of a measured device


@dataclass(frozen=True)
class MeasuredCurve:
    """One fitted curve and its fit statistics (median / p90 of |predicted / measured - 1|)."""

    curve: Curve
    rows: int
    median_error: float
    p90_error: float

    def describe(self, cls: str, fmt: str) -> str:
        return f"{cls} {fmt} ({self.rows} points, median error {100 * self.median_error:.1f} %)"


@dataclass(frozen=True)
class MeasuredCalibration:
    """The measured curves of one device (see the module doc). ``curves``: {(class, format): curve}."""

    provenance: str
    launch_overhead_s: float
    curves: Mapping[tuple[str, str], MeasuredCurve]
    measurements: Mapping = field(default_factory=dict, compare=False, hash=False)

    def resolve(self, cls: str, fmt: str) -> tuple[Curve, str, str]:
        """(curve, provenance sentence, the class whose features evaluate it) for a kernel of class
        ``cls`` in model format key ``fmt``."""
        for c, features_of, note in ((cls, cls, ""), (*PROXY.get(cls, (None, None)), f"no {cls} measurement")):
            if c is None:
                continue
            for key, extra in ((fmt, ""), *((f, f"no {c} {fmt} measurement") for f in FALLBACK.get(fmt, ())),
                               ("bf16", f"no {c} {fmt} measurement: the 16-bit curve on this format's bytes "
                                        "and peak")):
                for measured in SERVES.get(key, (key,)):
                    found = self.curves.get((c, measured))
                    if found is not None:
                        notes = "; ".join(n for n in (note, extra) if n)
                        suffix = f" [{notes}]" if notes else ""
                        return found.curve, f"{self.provenance}: {found.describe(c, measured)}{suffix}", features_of
        overhead = Curve(t0_s=self.launch_overhead_s)
        return overhead, (f"{self.provenance}: per-call overhead {self.launch_overhead_s * 1e6:.3g} us on the "
                          f"roofline time [no {cls} measurement]"), cls

    def to_dict(self) -> dict:
        """The YAML section (plain types), the inverse of parse_calibration."""
        curves: dict = {}
        for (cls, fmt), c in self.curves.items():
            curves.setdefault(cls, {})[fmt] = {
                "params": {k: float(f"{v:.6g}") for k, v in c.curve.to_dict().items()}, "rows": c.rows,
                "median_error": round(c.median_error, 4), "p90_error": round(c.p90_error, 4)}
        return {"provenance": self.provenance, "launch_overhead_s": float(f"{self.launch_overhead_s:.6g}"),
                "curves": curves, "measurements": dict(self.measurements)}


def _number(value, what: str, where: str, low: float = 0.0) -> float:
    try:  # YAML 1.1 reads 4e-6 (no dot) as text
        number = float(value) if isinstance(value, str) else value
    except ValueError:
        number = None
    if isinstance(value, bool) or not isinstance(number, int | float) or not math.isfinite(number) or number < low:
        raise ConfigError(f"{where}: {what} must be a number >= {low:g}, got {value!r}")
    return float(number)


def parse_calibration(raw, where: str) -> MeasuredCalibration:
    """The ``calibration`` section of a device YAML, validated (ConfigError naming the bad field)."""
    where = f"{where}: calibration"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping (provenance, launch_overhead_s, curves, measurements), "
                          f"got {raw!r}")
    unknown = sorted(str(k) for k in raw if k not in ("provenance", "launch_overhead_s", "curves", "measurements"))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: provenance, launch_overhead_s, "
                          "curves, measurements")
    provenance = raw.get("provenance")
    if not isinstance(provenance, str) or not provenance.strip():
        raise ConfigError(f"{where}.provenance must say where the curves come from, got {provenance!r}")
    launch = _number(raw.get("launch_overhead_s", 0.0), "launch_overhead_s (s)", where)
    if launch >= 1.0:
        raise ConfigError(f"{where}: launch_overhead_s must be below 1 s, got {launch!r}")
    curves_raw = raw.get("curves") or {}
    if not isinstance(curves_raw, dict):
        raise ConfigError(f"{where}.curves must map kernel classes to formats to curves, got {curves_raw!r}")
    curves = {}
    for cls, by_format in curves_raw.items():
        if cls not in CLASSES:
            raise ConfigError(f"{where}.curves: unknown kernel class {cls!r}; valid: {', '.join(CLASSES)}")
        if not isinstance(by_format, dict):
            raise ConfigError(f"{where}.curves.{cls} must map formats to curves, got {by_format!r}")
        for fmt, entry in by_format.items():
            here = f"{where}.curves.{cls}.{fmt}"
            if fmt not in MEASURED_FORMATS:
                raise ConfigError(f"{here}: unknown format; valid: {', '.join(MEASURED_FORMATS)}")
            if not isinstance(entry, dict) or not isinstance(entry.get("params"), dict):
                raise ConfigError(f"{here} must hold params (the curve) and rows, median_error, p90_error")
            unknown = sorted(set(entry["params"]) - set(Curve.__dataclass_fields__))
            if unknown:
                raise ConfigError(f"{here}.params: unknown parameter(s) {', '.join(unknown)}")
            params = {k: _number(v, k, here, -math.inf) for k, v in entry["params"].items()}
            try:
                curve = Curve(**params)
            except ConfigError as exc:
                raise ConfigError(f"{here}: {exc}") from None
            curves[(cls, fmt)] = MeasuredCurve(curve, int(_number(entry.get("rows", 0), "rows", here)),
                                               _number(entry.get("median_error", 0), "median_error", here),
                                               _number(entry.get("p90_error", 0), "p90_error", here))
    measurements = raw.get("measurements") or {}
    if not isinstance(measurements, dict):
        raise ConfigError(f"{where}.measurements must be a mapping of tables, got {measurements!r}")
    return MeasuredCalibration(provenance.strip(), launch, curves, measurements)
