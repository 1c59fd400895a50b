"""The shipped curve parameters (params/*.json) and which of them a device uses.

Fitted devices: the four systems of the kernel tables, each tied to its catalog entry (whose
datasheet peaks and bandwidth the fit's roofline times used). Any other device takes the curves of
the nearest generation: the curve's efficiencies and fixed times stay, its roofline times come
from the device's own datasheet numbers (the time scales with the ratio of the peaks and
bandwidths), and the provenance says so. Curve lookup falls back, in order, from the engine's
kernels to the pooled fit, to related formats (formats.FALLBACK), to the nearest other fitted
device, to the 16-bit curve, and from MLA to attention and from BMM / MoE to GEMM.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from .curves import Curve
from .formats import FALLBACK

# Fitted system -> the catalog device whose datasheet numbers its fit used.
FITTED = {"a100_sxm": "a100-80g-sxm", "h100_sxm": "h100-sxm", "h200_sxm": "h200-sxm", "b200_sxm": "b200"}
# Other fitted systems, nearest first (same generation, then by age).
NEAREST = {"a100_sxm": ("h100_sxm", "h200_sxm", "b200_sxm"), "h100_sxm": ("h200_sxm", "a100_sxm", "b200_sxm"),
           "h200_sxm": ("h100_sxm", "a100_sxm", "b200_sxm"), "b200_sxm": ("h200_sxm", "h100_sxm", "a100_sxm")}
# Catalog devices without tables -> the nearest fitted generation (NVIDIA by architecture: Volta and
# Ampere and Ada (mma.sync kernels) -> A100; Hopper -> H100 / H200; Blackwell -> B200).
GENERATION = {
    "v100-sxm2-32g": "a100_sxm", "a100-40g-sxm": "a100_sxm", "a100-80g-pcie": "a100_sxm", "a10": "a100_sxm",
    "a10g": "a100_sxm", "a40": "a100_sxm", "rtx-a6000": "a100_sxm", "rtx-3090": "a100_sxm",
    "rtx-3090-ti": "a100_sxm", "jetson-agx-orin-64g": "a100_sxm", "l4": "a100_sxm", "l40": "a100_sxm",
    "l40s": "a100_sxm", "rtx-6000-ada": "a100_sxm", "rtx-4090": "a100_sxm",
    "h100-pcie": "h100_sxm", "h100-nvl": "h100_sxm", "h20": "h100_sxm", "gh200-144g": "h200_sxm",
    "gh200-96g": "h100_sxm", "b100": "b200_sxm", "gb200": "b200_sxm", "rtx-5090": "b200_sxm",
}
DEFAULT_SYSTEM = "h100_sxm"  # any other device (other vendors, CPUs, user files): a rough assumption
CLASS_FALLBACK = {"mla_prefill": "attention_prefill", "mla_decode": "attention_decode", "bmm": "gemm",
                  "moe": "gemm"}


@functools.cache
def load_params(system: str) -> dict:
    """The shipped parameters of one fitted system (params/<system>.json)."""
    text = resources.files("llm_roofline.efficiency").joinpath("params", f"{system}.json").read_text()
    return json.loads(text)


CUSTOM = " (custom)"  # hardware.catalog.with_overrides marks a device with changed numbers so


def system_for(hardware) -> tuple[str, bool]:
    """(fitted system, fitted directly?) for a device; a catalog device with overrides keeps its
    generation but is derived by datasheet ratio (its numbers are no longer the fitted ones)."""
    name = hardware.name.removesuffix(CUSTOM)
    for system, fitted_name in FITTED.items():
        if name == fitted_name:
            return system, name == hardware.name
    return GENERATION.get(name, DEFAULT_SYSTEM), False


@dataclass(frozen=True)
class Resolved:
    """One curve and where it comes from (a sentence for the report); ``features_class``: the class
    whose shape features evaluate it when not the kernel's own (a measured device's proxy curves)."""

    curve: Curve
    source: str
    features_class: str = ""


def _entry(system: str, kernels: str, cls: str, fmt: str) -> dict | None:
    return load_params(system).get("curves", {}).get(kernels, {}).get(cls, {}).get(fmt)


def _describe(entry: dict, system: str, kernels: str, cls: str, fmt: str) -> str:
    note = f"; {entry['derived']}" if entry.get("derived") else ""
    return (f"{system} {kernels} {cls} {fmt} ({entry['rows']} rows, median error "
            f"{100 * entry['median_error']:.1f} %{note})")


@functools.lru_cache(maxsize=4096)
def resolve_curve(system: str, direct: bool, device: str, kernels: str, cls: str, fmt: str) -> Resolved:
    """The curve of (class, format) for a device whose curves come from ``system``, with provenance."""
    kernel_sets = (kernels, "pooled") if kernels != "pooled" else ("pooled",)
    systems = (system, *NEAREST[system])
    classes = [cls] + ([CLASS_FALLBACK[cls]] if cls in CLASS_FALLBACK else [])
    for c in classes:
        formats = [fmt, *FALLBACK.get(fmt, ())]
        for i, sys_ in enumerate(systems):
            for f in formats if i == 0 else [fmt, *FALLBACK.get(fmt, ())]:
                for k in kernel_sets:
                    entry = _entry(sys_, k, c, f)
                    if entry is None:
                        continue
                    text = _describe(entry, sys_, k, c, f)
                    notes = []
                    if (c, f) != (cls, fmt):
                        notes.append(f"no {cls} {fmt} fit")
                    if k != kernels:
                        notes.append(f"no {kernels} fit")
                    label = "fitted" if (direct and sys_ == system) else f"derived for {device} by datasheet ratio"
                    suffix = f" [{'; '.join(notes)}]" if notes else ""
                    return Resolved(Curve.from_dict(entry["params"]), f"{label}: {text}{suffix}")
        for k in kernel_sets:  # the 16-bit curve of the class, on the nearest device first
            for sys_ in systems:
                entry = _entry(sys_, k, c, "bf16")
                if entry is not None:
                    label = "fitted" if (direct and sys_ == system) else f"derived for {device} by datasheet ratio"
                    return Resolved(Curve.from_dict(entry["params"]),
                                    f"{label}: {_describe(entry, sys_, k, c, 'bf16')} [no {cls} {fmt} fit: "
                                    f"the 16-bit curve on this format's bytes and peak]")
    raise LookupError(f"no curve for {cls} {fmt}")  # pragma: no cover - every system ships gemm bf16
