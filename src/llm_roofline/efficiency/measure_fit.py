"""Measured points -> the device's empirical roofline and its efficiency curves (needs scipy).

Every point is rebuilt with the engine's own primitives, as ``calibrate`` does with the kernel
tables (fitdata.py): a GEMM through ops.linear (FLOPs 2 m n k; bytes of A, B and C at the format's
width), a stream kernel through ops.elementwise (copy: 1 read + 1 write per element, no FLOPs;
add: 2 reads + 1 write, 1 FLOP; triad: 2 reads + 1 write, 2 FLOPs; float32 elements), so the
peaks, the fit and a later analysis see the same FLOPs and bytes.

- peaks: per GEMM format, the best achieved FLOPs / time over its shapes (FLOP/s); memory
  bandwidth: the best achieved bytes / time over the stream points (bytes/s, the plateau);
- curves: calibrate.fit (the one fitting routine) on a FitSet per class and format, with the
  roofline times of the measured peaks: ``gemm`` per format on its GEMM points, ``elementwise``
  on the stream points and the smallest kernel (its t0 is the per-call overhead).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import ConfigError
from ..graph import sizes_for
from ..hardware.spec import IDEAL, Hardware
from ..ops import OpTableBuilder, elementwise, linear
from ..roofline import roofline
from ..scenario import Scenario
from .curves import Curve
from .features import sms_of
from .fitdata import FitSet, Term, _concat, _rows_to_terms
from .measure_device import MeasuredCalibration, MeasuredCurve

# Measured GEMM format -> (w_bits, a_bits) as the engine names them, and the precision whose peak it sets.
GEMM_SCENARIO = {"fp32": ("fp32", "fp32"), "tf32": ("tf32", "tf32"), "fp16": ("fp16", "fp16"),
                 "bf16": ("bf16", "bf16"), "fp8": ("fp8-tensor", "fp8"), "int8": ("int8", "int8")}
PRECISION = {"fp32": "fp32", "tf32": "tf32", "fp16": "fp16", "bf16": "bf16", "fp8": "fp8", "int8": "int8"}
# Stream kernel -> (FLOPs, reads, writes) per element.
STREAM = {"copy": (0.0, 1.0, 1.0), "add": (1.0, 2.0, 1.0), "triad": (2.0, 2.0, 1.0), "tiny": (1.0, 2.0, 1.0)}
MIN_POINTS = 3  # fewer points than this give no curve


@dataclass(frozen=True)
class Rows:
    """One group of measured points as the engine sees them: an OpTable row per point group,
    with its scenario, measured seconds and a label per point."""

    tables: list
    scenarios: list
    measured: np.ndarray
    labels: np.ndarray

    def flops(self) -> np.ndarray:
        return np.concatenate([t.flops[0] * t.counts[0] for t in self.tables])

    def bytes(self) -> np.ndarray:
        return np.concatenate([t.bytes[0] * t.counts[0] for t in self.tables])


def gemm_rows(gemm: dict, fmt: str) -> Rows:
    """The GEMM points of one format through ops.linear, grouped by (n, k)."""
    w, a = GEMM_SCENARIO[fmt]
    f = np.asarray(gemm["format"])
    m, n, k, t = (np.asarray(gemm[c], dtype=np.float64)[f == fmt] for c in ("m", "n", "k", "time_s"))
    tables, scenarios, measured, labels = [], [], [], []
    for nk in sorted(set(zip(n.tolist(), k.tolist(), strict=True))):
        sel = (n == nk[0]) & (k == nk[1])
        sc = Scenario.build(batch_size=m[sel], prompt_len=1, w_bits=w, a_bits=a, kv_bits=16, group_size=0)
        ops = OpTableBuilder(n=int(sel.sum()))
        linear(ops, sizes_for(sc, np.ones(sel.sum()), np.zeros(sel.sum())), "gemm", 1, int(nk[1]), int(nk[0]), False)
        tables.append(ops.build())
        scenarios.append(sc)
        measured.append(t[sel])
        labels += [f"{int(nk[0])}x{int(nk[1])}"] * int(sel.sum())
    return Rows(tables, scenarios, np.concatenate(measured) if measured else np.zeros(0), np.array(labels))


def stream_rows(stream: dict, tiny_s: float | None = None) -> Rows:
    """The stream points (and the smallest kernel: one element of ``add``) through ops.elementwise."""
    kinds = list(stream["kernel"]) + (["tiny"] if tiny_s is not None else [])
    elements = np.asarray(list(stream["elements"]) + ([1] if tiny_s is not None else []), dtype=np.float64)
    times = np.asarray(list(stream["time_s"]) + ([tiny_s] if tiny_s is not None else []), dtype=np.float64)
    tables, scenarios, measured, labels = [], [], [], []
    for kind in dict.fromkeys(kinds):
        if kind not in STREAM:
            raise ConfigError(f"unknown stream kernel {kind!r} in the measurements; known: {', '.join(STREAM)}")
        sel = np.array([k == kind for k in kinds])
        flops, reads, writes = STREAM[kind]
        sc = Scenario.build(batch_size=np.ones(int(sel.sum()), dtype=int), prompt_len=1, w_bits="fp32",
                            a_bits="fp32", kv_bits=16, group_size=0)
        ops = OpTableBuilder(n=int(sel.sum()))
        elementwise(ops, sizes_for(sc, np.ones(sel.sum()), np.zeros(sel.sum())), kind, 1, elements[sel], flops,
                    reads, writes)
        tables.append(ops.build())
        scenarios.append(sc)
        measured.append(times[sel])
        labels += [kind] * int(sel.sum())
    return Rows(tables, scenarios, np.concatenate(measured), np.array(labels))


def measured_peaks(m) -> tuple[float, dict[str, float]]:
    """(memory bandwidth in bytes/s, {precision: FLOP/s}): the best achieved over the points."""
    s = stream_rows(m.stream)
    bandwidth = float(np.max(s.bytes() / s.measured))
    peaks = {}
    for fmt in dict.fromkeys(m.gemm["format"]):
        g = gemm_rows(m.gemm, fmt)
        peaks[PRECISION[fmt]] = float(np.max(g.flops() / g.measured))
    return bandwidth, peaks


def allreduce_bus_bandwidth(allreduce: dict) -> float | None:
    """The best all-reduce bus bandwidth (bytes/s) over the message sizes, nccl-tests' convention:
    2 (d - 1) / d x bytes / time over d devices (the bytes each device sends and receives in a
    ring); None without an all-reduce measurement."""
    if not allreduce or not allreduce.get("bytes"):
        return None
    d = float(allreduce["devices"])
    return float(np.max(2.0 * (d - 1.0) / d * np.asarray(allreduce["bytes"], dtype=np.float64)
                        / np.asarray(allreduce["time_s"], dtype=np.float64)))


def fit_set(rows: Rows, hardware: Hardware, cls: str, fmt: str, library: str) -> FitSet:
    """The FitSet of measured rows on ``hardware``'s roofline (the measured peaks)."""
    parts = []
    for table, sc in zip(rows.tables, rows.scenarios, strict=True):
        costs = roofline(table, sc, hardware, IDEAL)
        parts.append(_rows_to_terms(table, costs, table.flops.shape[1], lambda s: True))
    terms: list[Term] = _concat(parts)  # each term's class comes from its shape: gemm / elementwise
    return FitSet("measured", library, cls, fmt, rows.measured, rows.labels, terms,
                  hardware.memory_bandwidth_bytes_per_s, sms_of(hardware), [library])


def fit_curves(m, hardware: Hardware) -> dict[tuple[str, str], MeasuredCurve]:
    """Every curve the measurements support: gemm per format and elementwise (fp32 stream)."""
    from .calibrate import errors, fit

    sets = [fit_set(gemm_rows(m.gemm, fmt), hardware, "gemm", fmt, m.library)
            for fmt in dict.fromkeys(m.gemm["format"])]
    sets.append(fit_set(stream_rows(m.stream, m.tiny_s), hardware, "elementwise", "fp32", m.library))
    curves = {}
    for fs in sets:
        if len(fs.measured) < MIN_POINTS:
            continue
        fitted = fit(fs)
        curve = Curve(**{k: float(f"{v:.6g}") for k, v in fitted.to_dict().items()})  # as the YAML stores it
        e = errors(fs, curve)
        curves[(fs.cls, fs.fmt)] = MeasuredCurve(curve, len(e), float(np.median(e)), float(np.quantile(e, 0.9)))
    return curves


def measured_device(m, name: str, memory_capacity_bytes: float | None = None) -> Hardware:
    """The device of measurements ``m`` (measure_run.Measurements): measured peaks and bandwidth,
    its fitted curves in ``calibration``, provenance "measured on this machine <date>"."""
    if not m.gemm["format"]:
        raise ConfigError("no GEMM could be measured on this device: no compute peak to write")
    if not m.stream["kernel"]:
        raise ConfigError("no memory copy could be measured on this device: no bandwidth to write")
    bandwidth, peaks = measured_peaks(m)
    info = m.info
    capacity = memory_capacity_bytes or info.get("memory_capacity_bytes")
    if not capacity:
        raise ConfigError("the memory capacity of this device is unknown: give --memory-capacity (e.g. 64GB)")
    units = info.get("units")
    kind = "cpu" if m.device == "cpu" else "gpu"
    what = f"{units} threads" if kind == "cpu" else (f"{units} SMs" if units else "")
    provenance = f"measured on this machine {m.date} (llm-roofline measure, {m.library}, {m.device}" + \
        (f", {what})" if what else ")")
    bus = allreduce_bus_bandwidth(m.allreduce)
    link = "" if bus is None else (f" Interconnect: 2 x the best all-reduce bus bandwidth over "
                                   f"{m.allreduce['devices']} devices (a bidirectional aggregate, as datasheets "
                                   "quote it).")
    hardware = Hardware(name=name, memory_bandwidth_bytes_per_s=bandwidth, memory_capacity_bytes=float(capacity),
                        peak_flops_per_s=peaks, vendor=info.get("vendor", ""), kind=kind,
                        sm_count=int(units) if units else None,
                        interconnect_bandwidth_bytes_per_s=None if bus is None else 2.0 * bus,
                        notes=f"{provenance} on {info.get('device_name', m.device)}. Peaks: the best GEMM "
                              "FLOP/s per format; memory bandwidth: the best copy / triad bytes per second." + link)
    calibration = MeasuredCalibration(provenance, float(m.tiny_s), fit_curves(m, hardware), m.to_dict())
    return replace(hardware, calibration=calibration)
