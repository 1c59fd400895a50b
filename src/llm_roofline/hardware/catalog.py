"""The bundled device catalog (``catalog.yaml``), a user's own device file, and overrides.

In YAML every quantity carries its unit (``memory_bandwidth: 768 GB/s``, ``memory_capacity:
192 GiB``, ``fp16: 154.8 TFLOPS``); the loaded :class:`Hardware` holds SI base units (bytes,
bytes/s, FLOP/s). GB, TB, GB/s and TFLOPS are decimal (1 GB = 1e9 bytes); KiB, MiB, GiB are
binary (1 GiB = 2**30 bytes). The format is described in ``docs/hardware.md``.

Names are matched case-insensitively, ignoring ``-``, ``_``, spaces and dots, so
``nvidia_A6000``, ``A6000`` and ``rtx-a6000`` all find the same device.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError, ScenarioError, UnknownNameError
from ..files import kind_of_path, parse_yaml, read_text, shown, user_path
from ..inputs import hardware_number
from ..limits import HARDWARE_RANGES
from ..units import quantity
from ..yaml_load import load_yaml
from .spec import PRECISIONS, Efficiency, Hardware

KINDS = ("gpu", "tpu", "cpu", "npu", "soc")
VENDOR_PREFIXES = ("nvidia", "amd", "intel", "google", "apple")

# YAML key -> (Hardware field, dimension) for quantities written with a unit.
_QUANTITIES = {
    "memory_bandwidth": ("memory_bandwidth_bytes_per_s", "B/s"),
    "memory_capacity": ("memory_capacity_bytes", "B"),
    "sram_per_sm": ("sram_per_sm_bytes", "B"),
    "l2": ("l2_bytes", "B"),
    "interconnect_bandwidth": ("interconnect_bandwidth_bytes_per_s", "B/s"),
    "host_bandwidth": ("host_bandwidth_bytes_per_s", "B/s"),
}
_REQUIRED = ("name", "memory_bandwidth", "memory_capacity", "peak")
_FIELDS = (*_REQUIRED, "aliases", "vendor", "kind", "sram_per_sm", "sm_count", "l2",
           "interconnect_bandwidth", "host_bandwidth", "sparse_2to4", "efficiency", "calibration", "source_url",
           "notes")
_EFFICIENCY_FIELDS = ("compute_fraction", "bandwidth_fraction", "kernel_overhead_s")
_EXAMPLES = {"name": "my-gpu", "memory_bandwidth": "768 GB/s", "memory_capacity": "48 GB",
             "peak": "{fp16: 154.8 TFLOPS, int8: 309.7 TOPS}"}


# ------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------

def load_hardware(
    name_or_path: str | os.PathLike[str],
    *,
    memory_bandwidth_bytes_per_s: float | None = None,
    memory_capacity_bytes: float | None = None,
    peak_flops_per_s: Mapping[str, float] | float | None = None,
    efficiency: Efficiency | None = None,
) -> Hardware:
    """A catalog device by name or alias, or the device described in a ``.yaml``/``.yml`` file.

    The overrides (``None`` keeps the catalog value) are those of :func:`with_overrides`.
    Raises :class:`UnknownNameError` (with close matches) for an unknown name and
    :class:`ConfigError` for a malformed file or an invalid override.
    """
    if not isinstance(name_or_path, str | os.PathLike):
        raise ConfigError(f"hardware must be a device name, a YAML file or a Hardware, not "
                          f"{type(name_or_path).__name__}")
    text = os.fspath(name_or_path)
    hardware = _find(text)
    if hardware is None:
        if not text.lower().rstrip().endswith((".yaml", ".yml")):
            raise UnknownNameError("hardware", text, all_hardware_names())
        hardware = load_hardware_file(text)
    return with_overrides(
        hardware,
        memory_bandwidth_bytes_per_s=memory_bandwidth_bytes_per_s,
        memory_capacity_bytes=memory_capacity_bytes,
        peak_flops_per_s=peak_flops_per_s,
        efficiency=efficiency,
    )


def load_hardware_file(path: str | os.PathLike[str]) -> Hardware:
    """The one device described in a YAML file (same fields as a catalog entry)."""
    path = user_path(path)
    if kind_of_path(path) != "file":
        raise ConfigError(f"hardware file {shown(str(path))!r} does not exist")
    raw = parse_yaml(read_text(path), shown(str(path)))
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected one device as a mapping (name: ..., memory_bandwidth: "
                          f"..., memory_capacity: ..., peak: ...), got {type(raw).__name__}")
    return _parse_device(raw, str(path))


def with_overrides(
    hardware: Hardware,
    *,
    memory_bandwidth_bytes_per_s: float | None = None,
    memory_capacity_bytes: float | None = None,
    peak_flops_per_s: Mapping[str, float] | float | None = None,
    efficiency: Efficiency | None = None,
) -> Hardware:
    """``hardware`` with some numbers replaced; ``None`` keeps a value.

    memory_bandwidth_bytes_per_s: main-memory bandwidth (bytes/s).
    memory_capacity_bytes: memory the model may use (bytes).
    peak_flops_per_s: a mapping {precision: FLOP/s} merged into the device's peaks, or one
        number: the device's 16-bit dense peak (the larger of fp16/bf16, as a CLI
        ``--peak-tflops`` means it); every precision is then scaled by the same factor, so the
        device's ratios between precisions (int8 = 2 x fp16, ...) are kept.
    efficiency: an :class:`Efficiency` replacing the device's measured one.

    With any override the result is named ``"<name> (custom)"`` and its notes list what changed.
    """
    changes: dict[str, Any] = {}
    for field_name, value in (("memory_bandwidth_bytes_per_s", memory_bandwidth_bytes_per_s),
                              ("memory_capacity_bytes", memory_capacity_bytes)):
        if value is not None:
            changes[field_name] = _checked_number(value, field_name)
    if peak_flops_per_s is not None:
        changes["peak_flops_per_s"] = _overridden_peaks(hardware, peak_flops_per_s)
    if efficiency is not None:
        if not isinstance(efficiency, Efficiency):
            raise ConfigError(f"efficiency must be an Efficiency(compute_fraction, bandwidth_fraction, "
                              f"kernel_overhead_s), got {efficiency!r}")
        changes["efficiency"] = efficiency
    if not changes:
        return hardware
    name = hardware.name if hardware.name.endswith(" (custom)") else f"{hardware.name} (custom)"
    notes = f"{hardware.notes} Overridden by the user: {', '.join(changes)}.".strip()
    return replace(hardware, name=name, aliases=(), notes=notes, **changes)


def list_hardware() -> list[Hardware]:
    """Every bundled device, in catalog order."""
    return list(_catalog())


def hardware_names() -> list[str]:
    """Canonical names of the bundled devices, in catalog order."""
    return [hardware.name for hardware in _catalog()]


def all_hardware_names() -> list[str]:
    """Every name ``load_hardware`` accepts: each device's canonical name, then its aliases."""
    return [label for hardware in _catalog() for label in (hardware.name, *hardware.aliases)]


def normalize_name(name: str) -> str:
    """The lookup key of a name: lowercase, without ``-``, ``_``, spaces and dots."""
    return re.sub(r"[-_\s.]", "", name).lower()


# ------------------------------------------------------------------------------------------
# Catalog (read once per process; immutable)
# ------------------------------------------------------------------------------------------

@functools.cache
def _catalog() -> tuple[Hardware, ...]:
    text = resources.files(__package__).joinpath("catalog.yaml").read_text(encoding="utf-8")
    data = load_yaml(text, "bundled hardware catalog.yaml", bundled=True)
    return tuple(_parse_device(raw, f"bundled catalog.yaml, device #{i + 1}")
                 for i, raw in enumerate(data["devices"]))


@functools.cache
def _index() -> Mapping[str, Hardware]:
    return index_by_name(_catalog(), "catalog.yaml")


def index_by_name(entries, where: str) -> Mapping:
    """Catalog ``entries`` (each with ``name`` and ``aliases``) by normalized name and alias; two entries
    claiming one key are a ConfigError naming the file ``where``."""
    index: dict = {}
    for entry in entries:
        for label in (entry.name, *entry.aliases):
            key = normalize_name(label)
            if key in index:
                raise ConfigError(f"{where}: {label!r} of {entry.name} clashes with {index[key].name}")
            index[key] = entry
    return MappingProxyType(index)


def catalog_hardware(name: str) -> Hardware:
    """A bundled device by name or alias only (never a file): for names from untrusted clients."""
    device = _find(name)
    if device is None:
        raise UnknownNameError("hardware", name, all_hardware_names())
    return device


def _find(name: str) -> Hardware | None:
    """The catalog device called ``name``; a leading vendor name ("NVIDIA H100 PCIe") is optional."""
    key = normalize_name(name)
    index = _index()
    if key in index:
        return index[key]
    for prefix in VENDOR_PREFIXES:
        if key.startswith(prefix) and key[len(prefix):] in index:
            return index[key[len(prefix):]]
    return None


# ------------------------------------------------------------------------------------------
# Parsing one device
# ------------------------------------------------------------------------------------------

def _parse_device(raw: Any, where: str) -> Hardware:
    """A Hardware from one YAML mapping; ``where`` (file or catalog position) prefixes errors."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    unknown = sorted(str(k) for k in raw if k not in _FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}; valid fields: "
                          f"{', '.join(_FIELDS)}")
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError(f"{where}: field 'name' must be a non-empty string, got {name!r}")
    where = f"{where} ({name})" if name else where
    for key in _REQUIRED:
        if raw.get(key) is None:
            raise ConfigError(f"{where}: missing required field '{key}' (e.g. {key}: {_EXAMPLES[key]})")

    fields: dict[str, Any] = {"name": name}
    for key, (field_name, dimension) in _QUANTITIES.items():
        if raw.get(key) is not None:
            fields[field_name] = _quantity(raw[key], dimension, key, where)
    for field_name in ("memory_bandwidth_bytes_per_s", "memory_capacity_bytes"):
        _checked_number(fields[field_name], field_name, where)
    fields["peak_flops_per_s"] = _peaks(raw["peak"], where)
    fields["aliases"] = _aliases(raw.get("aliases"), where)
    for key in ("vendor", "source_url", "notes"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{where}: field '{key}' must be text, got {value!r}")
        fields[key] = (value or "").strip()
    kind = raw.get("kind", "gpu")
    if kind not in KINDS:
        raise ConfigError(f"{where}: field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    fields["kind"] = kind
    sm_count = raw.get("sm_count")
    if sm_count is not None:
        if isinstance(sm_count, bool) or not isinstance(sm_count, int) or sm_count <= 0:
            raise ConfigError(f"{where}: field 'sm_count' must be a positive integer, got {sm_count!r}")
        fields["sm_count"] = sm_count
    if raw.get("sparse_2to4") is not None:
        if not isinstance(raw["sparse_2to4"], bool):
            raise ConfigError(f"{where}: field 'sparse_2to4' must be true or false, got {raw['sparse_2to4']!r}")
        fields["sparse_2to4"] = raw["sparse_2to4"]
    if raw.get("efficiency") is not None:
        fields["efficiency"] = _efficiency(raw["efficiency"], where)
    if raw.get("calibration") is not None:  # measured curves (``llm-roofline measure``)
        from ..efficiency.measure_device import parse_calibration

        fields["calibration"] = parse_calibration(raw["calibration"], where)
    try:
        return Hardware(**fields)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _quantity(value: Any, dimension: str, key: str, where: str) -> float:
    """``"768 GB/s"`` -> 7.68e11: a number with a unit of ``dimension``, in SI base units."""
    try:
        return quantity(value, dimension, unit_required=True)
    except ValueError as exc:
        raise ConfigError(f"{where}: field '{key}': {exc}") from None


def _peaks(raw: Any, where: str) -> dict[str, float]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: field 'peak' must map precisions to dense peaks, "
                          f"e.g. {{fp16: 154.8 TFLOPS, int8: 309.7 TOPS}}; got {raw!r}")
    peaks: dict[str, float] = {}
    for precision, value in raw.items():
        if precision not in PRECISIONS:
            raise ConfigError(f"{where}: field 'peak': unknown precision {precision!r}; valid: "
                              f"{', '.join(PRECISIONS)}")
        peaks[precision] = _quantity(value, "FLOP/s", f"peak.{precision}", where)
        _checked_number(peaks[precision], f"peak_flops_per_s.{precision}", where)
    return peaks


def _aliases(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: field 'aliases' must be a list of names, got {raw!r}")
    aliases = []
    for alias in raw:
        if isinstance(alias, bool) or not isinstance(alias, str | int):
            raise ConfigError(f"{where}: field 'aliases': {alias!r} is not a name")
        aliases.append(str(alias))  # YAML reads an unquoted 4090 as an int
    return tuple(aliases)


def _efficiency(raw: Any, where: str) -> Efficiency:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: field 'efficiency' must be a mapping with "
                          f"{', '.join(_EFFICIENCY_FIELDS)}; got {raw!r}")
    unknown = sorted(str(k) for k in raw if k not in _EFFICIENCY_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: field 'efficiency': unknown key(s) {', '.join(unknown)}; "
                          f"valid: {', '.join(_EFFICIENCY_FIELDS)}")
    values = {}
    for key, value in raw.items():
        try:  # YAML 1.1 reads 4e-6 (no dot) as text
            values[key] = float(value) if isinstance(value, str) else value
        except ValueError:
            values[key] = None
        if isinstance(value, bool) or not isinstance(values[key], int | float):
            raise ConfigError(f"{where}: efficiency.{key} must be a number, got {value!r}")
    try:
        return Efficiency(**values)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


# ------------------------------------------------------------------------------------------
# Overrides
# ------------------------------------------------------------------------------------------

def _checked_number(value: Any, field_name: str, where: str = "") -> float:
    """``value`` as a float if it is a finite number in the field's plausible range (HARDWARE_RANGES)."""
    prefix = f"{where}: " if where else ""
    try:
        return hardware_number(field_name, value, field_name.split(".")[0])
    except ScenarioError as exc:
        raise ConfigError(f"{prefix}{exc}") from None


def _overridden_peaks(hardware: Hardware, value: Mapping[str, float] | float) -> dict[str, float]:
    if isinstance(value, Mapping):
        peaks = dict(hardware.peak_flops_per_s)
        for precision, peak in value.items():
            if precision not in PRECISIONS:
                raise ConfigError(f"peak_flops_per_s: unknown precision {precision!r}; valid: "
                                  f"{', '.join(PRECISIONS)}")
            peaks[precision] = _checked_number(peak, f"peak_flops_per_s.{precision}")
        return peaks
    peak16 = _checked_number(value, "peak_flops_per_s")
    reference = hardware.peak_16bit_flops_per_s
    peaks = {precision: peak16 if peak == reference else peak * peak16 / reference
             for precision, peak in hardware.peak_flops_per_s.items()}
    low, high, _ = HARDWARE_RANGES["peak_flops_per_s"]
    for precision, peak in peaks.items():
        if not low <= peak <= high:
            raise ConfigError(f"peak_flops_per_s: a 16-bit peak of {peak16:g} FLOP/s puts {precision} at {peak:g} "
                              f"FLOP/s (the device's ratios between precisions are kept), outside "
                              f"[{low:g}, {high:g}]; give a peak between {low * peak16 / peak:g} and "
                              f"{high * peak16 / max(peaks.values()):g}")
    return peaks
