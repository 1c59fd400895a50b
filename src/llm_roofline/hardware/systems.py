"""The bundled systems catalog (``systems.yaml``) and a user's own system file.

In YAML every quantity carries its unit (``bandwidth: 450 GB/s`` per port and direction,
``latency: 0.8 us`` per collective step); the loaded :class:`System` holds SI base units. A system
names its device from the device catalog (``device: h100-sxm``) or describes it inline (the fields
of a device file). Names match as device names do (case, ``-``, ``_``, spaces and dots ignored).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError, UnknownNameError
from ..files import kind_of_path, parse_yaml, read_text, shown, user_path
from ..units import quantity
from ..yaml_load import load_yaml
from .catalog import _find as find_device
from .catalog import _parse_device, index_by_name, load_hardware, normalize_name
from .spec import Hardware
from .system import TOPOLOGIES, Link, System

_FIELDS = ("name", "aliases", "device", "devices_per_node", "max_nodes", "scale_up", "scale_out",
           "source_url", "notes")
_REQUIRED = ("name", "device", "devices_per_node", "scale_up")
_LINK_FIELDS = ("name", "topology", "bandwidth", "ports", "latency", "fit")
SYSTEM_KEYS = ("scale_up", "devices_per_node")  # a YAML file with these describes a system


def list_systems() -> list[System]:
    """Every bundled system, in catalog order."""
    return list(_catalog())


def all_system_names() -> list[str]:
    return [label for system in _catalog() for label in (system.name, *system.aliases)]


def find_system(name: str) -> System | None:
    """The catalog system called ``name`` (or one of its aliases), else None."""
    return _index().get(normalize_name(name))


def load_system(name_or_path: str | os.PathLike[str]) -> System:
    """A catalog system by name or alias, or the system described in a ``.yaml`` file."""
    text = os.fspath(name_or_path)
    system = find_system(text)
    if system is not None:
        return system
    if Path(text).suffix.lower() in (".yaml", ".yml"):
        return load_system_file(text)
    raise UnknownNameError("system", text, all_system_names())


def systems_with_device(device: Hardware) -> list[System]:
    """Catalog systems built from ``device`` (matched by name)."""
    return [s for s in _catalog() if s.device.name == device.name]


def is_system_file(path: str | os.PathLike[str]) -> bool:
    """Whether a YAML file describes a system (it has ``scale_up`` / ``devices_per_node``)."""
    raw = _read(path)
    return isinstance(raw, dict) and any(key in raw for key in SYSTEM_KEYS)


def load_system_file(path: str | os.PathLike[str]) -> System:
    raw = _read(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected one system as a mapping (name, device, devices_per_node, "
                          f"scale_up, ...), got {type(raw).__name__}")
    return _parse_system(raw, str(path))


def _read(path: str | os.PathLike[str]) -> Any:
    """A user's YAML file, read as every file is (files.py: size, encoding, nesting and alias limits)."""
    path = user_path(path)
    if kind_of_path(path) != "file":
        raise ConfigError(f"system file {shown(str(path))!r} does not exist")
    return parse_yaml(read_text(path), shown(str(path)))


@functools.cache
def _catalog() -> tuple[System, ...]:
    text = resources.files(__package__).joinpath("systems.yaml").read_text(encoding="utf-8")
    data = load_yaml(text, "bundled systems.yaml", bundled=True)
    return tuple(_parse_system(raw, f"bundled systems.yaml, system #{i + 1}")
                 for i, raw in enumerate(data["systems"]))


@functools.cache
def _index() -> Mapping[str, System]:
    return index_by_name(_catalog(), "systems.yaml")


def _parse_system(raw: dict, where: str) -> System:
    unknown = sorted(str(k) for k in raw if k not in _FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}; valid fields: {', '.join(_FIELDS)}")
    name = raw.get("name")
    where = f"{where} ({name})" if name else where
    for key in _REQUIRED:
        if raw.get(key) is None:
            raise ConfigError(f"{where}: missing required field '{key}' (see docs/parallelism.md)")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: field 'name' must be a non-empty string, got {name!r}")
    aliases = raw.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str | int) and not isinstance(a, bool)
                                                for a in aliases):
        raise ConfigError(f"{where}: field 'aliases' must be a list of names, got {aliases!r}")
    for key in ("source_url", "notes"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ConfigError(f"{where}: field '{key}' must be text, got {raw[key]!r}")
    scale_out = raw.get("scale_out")
    try:
        return System(name=name, device=_device(raw["device"], where),
                      devices_per_node=raw["devices_per_node"], max_nodes=raw.get("max_nodes", 1),
                      scale_up=_link(raw["scale_up"], f"{where}: scale_up"),
                      scale_out=None if scale_out is None else _link(scale_out, f"{where}: scale_out"),
                      aliases=tuple(str(a) for a in aliases), source_url=(raw.get("source_url") or "").strip(),
                      notes=(raw.get("notes") or "").strip())
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(message if message.startswith(where) else f"{where}: {message}") from None


def _device(raw: Any, where: str) -> Hardware:
    if isinstance(raw, str):
        device = find_device(raw)
        if device is None:
            return load_hardware(raw)  # a device file, or UnknownNameError with suggestions
        return device
    if isinstance(raw, dict):
        return _parse_device(raw, f"{where}: device")
    raise ConfigError(f"{where}: field 'device' must be a catalog device name or a device mapping, got {raw!r}")


def _link(raw: Any, where: str) -> Link:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with {', '.join(_LINK_FIELDS)}, got {raw!r}")
    unknown = sorted(str(k) for k in raw if k not in _LINK_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}; valid: {', '.join(_LINK_FIELDS)}")
    for key in ("bandwidth", "latency"):
        if raw.get(key) is None:
            raise ConfigError(f"{where}: missing required field '{key}' (e.g. bandwidth: 450 GB/s, latency: 1 us)")
    topology = raw.get("topology", "switch")
    if topology not in TOPOLOGIES:
        raise ConfigError(f"{where}: topology must be one of {', '.join(TOPOLOGIES)}, got {topology!r}")
    ports = raw.get("ports", 1)
    if isinstance(ports, bool) or not isinstance(ports, int | float) or ports <= 0:
        raise ConfigError(f"{where}: ports must be a positive number, got {ports!r}")
    try:
        bandwidth = quantity(raw["bandwidth"], "B/s", unit_required=True)
        latency = quantity(raw["latency"], "s", unit_required=True)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    fit = raw.get("fit") or ""
    if not isinstance(fit, str):
        raise ConfigError(f"{where}: fit must be the name of a fitted table set, got {fit!r}")
    return Link(name=str(raw.get("name") or "link"), bandwidth_bytes_per_s=bandwidth, latency_s=latency,
                ports=float(ports), topology=topology, fit=fit)


def resolve_system(target, *, multi_device: bool) -> System:
    """The system an analysis runs on. ``target``: a System, a Hardware, or a name / YAML path of a
    system or a device. One device (``multi_device`` False): a device name is that device, a system
    name is its device. Several devices: a system name is that system; a device name is the first
    catalog system built from that device; a device without one is an error that lists the systems."""
    from .system import single_device_system

    if isinstance(target, System):
        return target
    if isinstance(target, Hardware):
        device = target
    elif not isinstance(target, str | os.PathLike):
        return single_device_system(load_hardware(target))  # load_hardware names what it takes
    else:
        text = os.fspath(target)
        system = find_system(text)
        is_yaml = Path(text).suffix.lower() in (".yaml", ".yml")
        if system is None and is_yaml and kind_of_path(user_path(text)) == "file" and is_system_file(text):
            system = load_system_file(text)
        if system is not None and (multi_device or find_device(text) is None):
            return system
        if find_device(text) is None and not is_yaml:
            raise UnknownNameError("hardware", text, [*all_system_names(), *all_device_names()])
        device = load_hardware(text)
    if not multi_device:
        return single_device_system(device)
    systems = systems_with_device(device)
    if not systems:
        names = ", ".join(s.name for s in _catalog())
        raise ConfigError(f"no bundled system is built from {device.name}; name a system ({names}) or describe "
                          "one in a YAML file (docs/parallelism.md)")
    return systems[0]


def all_device_names() -> list[str]:
    from .catalog import all_hardware_names

    return all_hardware_names()
