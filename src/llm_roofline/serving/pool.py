"""A pool of identical engine instances, and what moves between pools (the KV cache over a link).

A worker is one device, or a group of devices under a parallel Deployment (tensor, expert and
attention-data parallelism); ``gpus_per_worker`` is its size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cache import cache_bytes_per_sequence
from ..errors import ScenarioError
from ..hardware.spec import Hardware
from ..precision import format_storage_bytes
from .capacity import KVCapacity
from .engine_cost import EngineCost
from .scheduler import SchedulerConfig
from .step_cost import StepCost


@dataclass(frozen=True)
class Pool:
    """``workers`` identical workers, each with this iteration cost, KV capacity and scheduler settings."""

    cost: StepCost | EngineCost
    kv: KVCapacity
    config: SchedulerConfig
    workers: int = 1
    gpus_per_worker: int = 1

    @property
    def gpus(self) -> int:
        return self.workers * self.gpus_per_worker


def prompt_kv_bytes(cost: StepCost | EngineCost, isl) -> np.ndarray:
    """Bytes of the KV cache (and recurrent states) a prompt of ``isl`` tokens leaves: the engine's
    cache.cache_bytes_per_sequence at the scenario's precisions. This is what a disaggregated prefill
    worker sends."""
    s = cost.settings
    kb = format_storage_bytes(s.kv_cache, s.group_size, s.scale_bits)[0]
    sb = format_storage_bytes(s.state, s.group_size, s.scale_bits)[0]
    return cache_bytes_per_sequence(cost.model, np.asarray(isl, dtype=np.float64), kb, sb, s.activations.bits[0] / 8.0)


def link_bandwidth(hardware: Hardware, override: float | None = None) -> float:
    """Bytes/s one KV transfer gets, one direction: ``override``, else half the device's bidirectional
    scale-up interconnect (NVLink ...), else half its host link (PCIe). The parallel engine's systems will
    supply the real inter-node fabric."""
    if override is not None:
        if not override > 0:
            raise ScenarioError(f"link bandwidth must be positive, got {override!r}")
        return float(override)
    for value in (hardware.interconnect_bandwidth_bytes_per_s, hardware.host_bandwidth_bytes_per_s):
        if value:
            return float(value) / 2.0
    raise ScenarioError(f"{hardware.name} lists no interconnect or host link; give the KV-transfer link "
                        "bandwidth (--link-bandwidth)")


def transfer_bandwidth(prefill: Pool, decode: Pool, link: float) -> float:
    """Bytes/s of one request's KV transfer between workers of several devices: every device of the
    smaller worker sends or receives its part at once over its own link (``link`` per device)."""
    return link * min(prefill.gpus_per_worker, decode.gpus_per_worker)
