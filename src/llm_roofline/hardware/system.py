"""System: devices and the links between them, as collectives see them (SI base units).

A *node* is the set of devices one scale-up link connects (an 8-GPU HGX board over NVLink + NVSwitch,
a 72-GPU GB200 NVL72 rack, a TPU slice over ICI, a PCIe box). Nodes talk over the scale-out link
(InfiniBand / RoCE NICs). Every bandwidth is **per direction**, the rate a ring collective moves
data at (NVIDIA quotes NVLink bidirectionally: H100 "900 GB/s" = 450 GB/s per direction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from .spec import Hardware

TOPOLOGIES = ("switch", "mesh", "torus", "pcie", "network")


@dataclass(frozen=True)
class Link:
    """One kind of link, per device.

    bandwidth_bytes_per_s: one port's bandwidth in one direction (bytes/s).
    ports: ports per device (NICs per device for a scale-out link; 1 when ``bandwidth`` is already
        the device's aggregate, as for NVLink).
    latency_s: latency of one step of a collective algorithm over this link (s): the alpha of the
        alpha-beta model.
    fit: key of the fitted efficiency curves measured on this link (``parallel/params``), or "".
    """

    name: str
    bandwidth_bytes_per_s: float
    latency_s: float
    ports: float = 1.0
    topology: str = "switch"
    fit: str = ""

    def __post_init__(self) -> None:
        for field_name in ("bandwidth_bytes_per_s", "ports"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value)
                                                                                    and value > 0):
                raise ConfigError(f"link {self.name!r}: {field_name} must be a positive number, got {value!r}")
        latency = self.latency_s
        if isinstance(latency, bool) or not isinstance(latency, int | float) or not 0 <= latency < 1:
            raise ConfigError(f"link {self.name!r}: latency_s must be in [0, 1) seconds, got {latency!r}")
        if self.topology not in TOPOLOGIES:
            raise ConfigError(f"link {self.name!r}: topology must be one of {', '.join(TOPOLOGIES)}, "
                              f"got {self.topology!r}")

    @property
    def device_bandwidth_bytes_per_s(self) -> float:
        """What one device can put on this link in one direction: ports x port bandwidth (bytes/s)."""
        return self.ports * self.bandwidth_bytes_per_s


@dataclass(frozen=True)
class System:
    """``devices_per_node`` devices of one kind per node, up to ``max_nodes`` nodes.

    scale_up: the link inside a node; scale_out: the link between nodes (None: a single box).
    """

    name: str
    device: Hardware
    devices_per_node: int
    scale_up: Link
    scale_out: Link | None = None
    max_nodes: int = 1
    aliases: tuple[str, ...] = ()
    source_url: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        for field_name in ("devices_per_node", "max_nodes"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"system {self.name!r}: {field_name} must be a positive integer, got {value!r}")
        if self.max_nodes > 1 and self.scale_out is None:
            raise ConfigError(f"system {self.name!r}: max_nodes > 1 needs a scale_out link between the nodes")
        object.__setattr__(self, "aliases", tuple(self.aliases))

    @property
    def max_devices(self) -> int:
        return self.devices_per_node * self.max_nodes


def single_device_system(device: Hardware) -> System:
    """A one-device 'system' (no links used): what a single-device analysis runs on."""
    host = device.host_bandwidth_bytes_per_s or device.memory_bandwidth_bytes_per_s
    return System(name=device.name, device=device, devices_per_node=1,
                  scale_up=Link("none", host / 2.0, 0.0, topology="pcie"))
