"""Terminal and JSON views of systems (devices and links) for `llm-roofline hardware`. Formatting only."""

from __future__ import annotations

from .hardware.system import Link, System
from .units import seconds, si


def link_dict(link: Link | None) -> dict | None:
    if link is None:
        return None
    return {"name": link.name, "topology": link.topology, "bandwidth_bytes_per_s": link.bandwidth_bytes_per_s,
            "ports": link.ports, "device_bandwidth_bytes_per_s": link.device_bandwidth_bytes_per_s,
            "latency_s": link.latency_s, "fit": link.fit or None}


def system_dict(system: System) -> dict:
    return {"name": system.name, "aliases": list(system.aliases), "device": system.device.name,
            "devices_per_node": system.devices_per_node, "max_nodes": system.max_nodes,
            "scale_up": link_dict(system.scale_up), "scale_out": link_dict(system.scale_out),
            "source_url": system.source_url, "notes": system.notes}


def _link_text(link: Link | None) -> str:
    if link is None:
        return "none"
    ports = f"{link.ports:g} x {si(link.bandwidth_bytes_per_s, 'B/s')} = " if link.ports != 1 else ""
    fit = f", fitted curves: {link.fit}" if link.fit else ""
    return (f"{link.name}: {ports}{si(link.device_bandwidth_bytes_per_s, 'B/s')} per device per direction, "
            f"{seconds(link.latency_s)} per step ({link.topology}{fit})")


def system_detail(system: System) -> str:
    lines = [f"{system.name}  (system: {system.devices_per_node} x {system.device.name} per node, up to "
             f"{system.max_nodes} node{'s' if system.max_nodes > 1 else ''})",
             f"  scale-up   {_link_text(system.scale_up)}",
             f"  scale-out  {_link_text(system.scale_out)}"]
    if system.aliases:
        lines.append(f"  aliases: {', '.join(system.aliases)}")
    lines.append(f"  source: {system.source_url}")
    if system.notes:
        lines.append(f"  notes: {system.notes}")
    lines.append(f"  device: see `llm-roofline hardware {system.device.name}`")
    return "\n".join(lines) + "\n"


def systems_table(systems: list[System]) -> str:
    width = max(len(s.name) for s in systems)
    lines = ["SYSTEMS (for --tp / --pp / --ep / --dp / --attention-dp; bandwidth per device per direction)",
             f"{'name'.ljust(width)}  {'device':<14} {'per node':>8}  {'scale-up':>11}  {'scale-out':>11}  aliases"]
    for s in systems:
        out = "-" if s.scale_out is None else si(s.scale_out.device_bandwidth_bytes_per_s, "B/s")
        lines.append(f"{s.name.ljust(width)}  {s.device.name:<14} {s.devices_per_node:>8}  "
                     f"{si(s.scale_up.device_bandwidth_bytes_per_s, 'B/s'):>11}  {out:>11}  {', '.join(s.aliases)}")
    return "\n".join(lines) + "\n"
