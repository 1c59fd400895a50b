"""A measured device as a device YAML (the catalog's own format, docs/hardware.md), loadable by
``analyze`` like any device file; its ``calibration`` section holds the measured curves and points
(measure_device.py). Quantities carry units (GB/s, TFLOPS, GB: decimal) written with 9
significant digits, so loading the file gives back the measured numbers to 1e-9."""

from __future__ import annotations

import yaml

from ..hardware.spec import Hardware


def _g(value: float) -> str:
    return f"{value:.9g}"


def device_yaml(hardware: Hardware) -> str:
    """The YAML text of a measured device (hardware.calibration set by measure_fit.measured_device)."""
    doc = {"name": hardware.name, "vendor": hardware.vendor, "kind": hardware.kind,
           "memory_bandwidth": f"{_g(hardware.memory_bandwidth_bytes_per_s / 1e9)} GB/s",
           "memory_capacity": f"{_g(hardware.memory_capacity_bytes / 1e9)} GB",
           "peak": {p: f"{_g(v / 1e12)} TFLOPS" for p, v in hardware.peak_flops_per_s.items()}}
    if hardware.sm_count:
        doc["sm_count"] = int(hardware.sm_count)
    if hardware.interconnect_bandwidth_bytes_per_s:
        doc["interconnect_bandwidth"] = f"{_g(hardware.interconnect_bandwidth_bytes_per_s / 1e9)} GB/s"
    doc["notes"] = hardware.notes
    if hardware.calibration is not None:
        doc["calibration"] = hardware.calibration.to_dict()
    header = (f"# {hardware.name}: written by `llm-roofline measure`. Use it as any device file:\n"
              f"#   llm-roofline analyze MODEL this.yaml --efficiency calibrated\n")
    return header + yaml.safe_dump(_plain(doc), sort_keys=False, default_flow_style=None, width=120)


def _plain(value):
    """Plain Python types for yaml.safe_dump (NumPy scalars and tuples become floats and lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value
