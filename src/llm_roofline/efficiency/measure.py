"""The empirical roofline of this machine, as a Python API (``llm-roofline measure`` is its face).

    from llm_roofline.efficiency.measure import measure, write_device
    device = measure("cpu", quick=True)          # a Hardware with measured peaks and curves
    write_device(device, "mydevice.yaml")        # then: analyze(MODEL, "mydevice.yaml", efficiency="calibrated")

The steps: measure_backends / measure_torch (the kernels, PyTorch or NumPy), measure_run (the
timing plan), measure_fit (peaks, and curves by calibrate.fit), measure_yaml (the device file),
measure_device (the file's ``calibration`` section, as the calibrated model reads it).
Needs scipy (``pip install 'llm-roofline[measure]'``) for the curves.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace

from ..hardware.spec import Hardware
from .measure_backends import backend_for
from .measure_fit import measured_device
from .measure_run import Measurements, Plan, default_plan, run
from .measure_yaml import device_yaml

__all__ = ["Measurements", "Plan", "default_plan", "measure", "write_device"]


def measure(device: str = "cpu", *, library: str = "auto", quick: bool = False, plan: Plan | None = None,
            formats: tuple[str, ...] | None = None, name: str | None = None,
            memory_capacity_bytes: float | None = None, progress=None) -> Hardware:
    """Measure ``device`` (cpu, cuda, cuda:N, mps) and return it as a Hardware whose peaks are the
    best measured rates and whose ``calibration`` holds the fitted curves and the points.
    ``plan`` replaces the default sweep (default_plan(kind, quick)); ``formats`` limits the GEMM
    formats; ``progress(done, total)`` is called after every point."""
    backend = backend_for(device, library)
    chosen = plan or default_plan(backend.kind, quick)
    if formats is not None:
        chosen = replace(chosen, formats=tuple(formats))
    measurements = run(backend, chosen, progress)
    label = name or "measured-" + re.sub(r"[^a-z0-9]+", "-", backend.device.lower()).strip("-")
    return measured_device(measurements, label, memory_capacity_bytes)


def write_device(hardware: Hardware, path: str | os.PathLike[str]) -> None:
    """Write a measured device as a device YAML (loadable by ``load_hardware`` and ``analyze``)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(device_yaml(hardware))
