"""The measured points of a device file on roofline axes: arithmetic intensity (FLOP/byte) and
achieved FLOP/s, for ``plot roofline --measured FILE``. FLOPs and bytes come from the engine's
primitives (measure_fit.gemm_rows / stream_rows), as in the fit. Copies do no FLOPs and so have no
place on these axes: the stream series are add / triad (their bandwidth is the file's
``memory_bandwidth``, drawn as the measured roof)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .measure_fit import gemm_rows, stream_rows
from .measure_run import Measurements


@dataclass(frozen=True)
class MeasuredSeries:
    """One kernel's points: intensity (FLOP/byte) and achieved performance (FLOP/s)."""

    label: str
    intensity: np.ndarray
    performance_flops_per_s: np.ndarray


@dataclass(frozen=True)
class MeasuredRoofline:
    """A measured device: its roof (bandwidth, bytes/s; peaks, FLOP/s) and its measured points."""

    device: str
    provenance: str
    bandwidth_bytes_per_s: float
    peaks: dict[str, float]
    series: tuple[MeasuredSeries, ...]


def measured_roofline(hardware) -> MeasuredRoofline:
    """The measured roof and points of a device written by ``llm-roofline measure``."""
    calibration = getattr(hardware, "calibration", None)
    if calibration is None or not calibration.measurements:
        raise ConfigError(f"{hardware.name} holds no measurements: write the file with `llm-roofline measure`")
    m = Measurements.from_dict(calibration.measurements, f"{hardware.name}: calibration.measurements")
    series = []
    for fmt in dict.fromkeys(m.gemm["format"]):
        rows = gemm_rows(m.gemm, fmt)
        series.append(_series(f"GEMM {fmt}", rows))
    stream = stream_rows(m.stream)
    for kind in dict.fromkeys(stream.labels.tolist()):
        keep = stream.labels == kind
        flops, moved = stream.flops()[keep], stream.bytes()[keep]
        if (flops > 0).all():
            series.append(MeasuredSeries(kind, flops / moved, flops / stream.measured[keep]))
    return MeasuredRoofline(hardware.name, calibration.provenance, hardware.memory_bandwidth_bytes_per_s,
                            dict(hardware.peak_flops_per_s), tuple(series))


def _series(label: str, rows) -> MeasuredSeries:
    flops = rows.flops()
    return MeasuredSeries(label, flops / rows.bytes(), flops / rows.measured)
