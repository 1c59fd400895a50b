"""The memory footprint by place: device memory and host memory (or disk), with the KV cache as the
allocation rule and a shared prefix make it (kv_memory.py) and the offloaded shares (offload.py).

device = (weights - offloaded weights) + (1 - f_kv) * KV + activations; host = offloaded weights +
f_kv * KV, where offloaded weights = f_w * the weights of ``offload_modules`` and KV = shared + B * own.
Each place is checked against its own capacity: the device's, and the host's (``host_memory``, default
the host CPU's capacity; a disk is taken as unlimited). The largest batch that fits is the smaller of
floor((capacity - fixed bytes) / bytes per sequence) over the two places (a place that holds no
per-sequence bytes sets no limit).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .kv_memory import kv_memory
from .modules import matches


def placed_memory(model, scenario, table, weights, activations, capacity, kb, sb, ab) -> dict:
    """The fields of report.Memory (arrays over scenarios) under the techniques; ``table``: the prefill
    operator table (for the weights of the offloaded modules)."""
    from ..report import op_sum

    t, B = scenario.optimizations, scenario.batch_size
    kvm = kv_memory(model, scenario, kb, sb, ab)
    kv = kvm.shared + B * kvm.per_sequence
    fw, fkv = t.offload_weights, t.offload_kv
    if t.offloads:
        chosen = np.array([any(matches(sel, name, model) for sel in t.offload_modules) for name in table.names])
        offloaded_weights = fw * op_sum(np.where(chosen[:, None], table.param_bytes, 0.0) * table.counts[:, None])
        host_capacity = np.inf if t.offload_to == "disk" else (t.host_memory_bytes or t.host.memory_capacity_bytes)
    else:
        offloaded_weights, host_capacity = np.zeros_like(weights), 0.0
    device = weights - offloaded_weights + (1.0 - fkv) * kv + activations
    host = offloaded_weights + fkv * kv
    per_sequence_device = (1.0 - fkv) * kvm.per_sequence + activations / B
    fixed_device = weights - offloaded_weights + (1.0 - fkv) * kvm.shared
    max_device = np.floor(np.maximum(capacity - fixed_device, 0.0) / per_sequence_device)
    per_sequence_host = fkv * kvm.per_sequence
    with np.errstate(divide="ignore", invalid="ignore"):
        max_host = np.where(per_sequence_host > 0, np.floor(np.maximum(host_capacity - offloaded_weights
                                                                        - fkv * kvm.shared, 0.0)
                                                             / per_sequence_host), np.inf)
    return dict(kv_cache_bytes=kv, kv_cache_shared_bytes=kvm.shared, total_bytes=weights + kv + activations,
                device_bytes=device, host_bytes=host, host_capacity_bytes=host_capacity,
                fits=(device <= capacity) & (host <= host_capacity), max_batch_size=np.minimum(max_device, max_host))


def with_extra(mem, weights, kv, activations_floor, sc):
    """Memory with more weights, more KV cache and activations at least ``activations_floor`` (bytes), all
    on the device. Under a placement (paged KV, a cached prefix, offloading: techniques/placement.py) the
    device's bytes are linear in the batch, fixed + B * per-sequence, with fixed = weights - offloaded
    weights + (1 - f_kv) * shared KV (offloaded weights = host bytes - f_kv * KV): the extra weights add to
    the fixed part, the extra KV and activations to the per-sequence part, and the host's limit on the
    batch (already inside the old max batch) still holds."""
    act = np.maximum(mem.activations_bytes, activations_floor)
    added_per_batch = kv + (act - mem.activations_bytes)
    w = mem.weights_bytes + weights
    kv_total = mem.kv_cache_bytes + kv
    total = w + kv_total + act
    if mem.device_bytes is None:
        per_sequence = (kv_total + act) / sc.batch_size
        max_batch = np.floor(np.maximum(mem.capacity_bytes - w, 0.0) / per_sequence)
        return replace(mem, weights_bytes=w, kv_cache_bytes=kv_total, activations_bytes=act, total_bytes=total,
                       fits=total <= mem.capacity_bytes, max_batch_size=max_batch)
    fkv = sc.optimizations.offload_kv
    shared = mem.kv_cache_shared_bytes
    fixed = mem.weights_bytes - (mem.host_bytes - fkv * mem.kv_cache_bytes) + (1.0 - fkv) * shared
    per_sequence = (mem.device_bytes - fixed + added_per_batch) / sc.batch_size
    device = mem.device_bytes + weights + added_per_batch
    max_device = np.floor(np.maximum(mem.capacity_bytes - fixed - weights, 0.0) / per_sequence)
    return replace(mem, weights_bytes=w, kv_cache_bytes=kv_total, activations_bytes=act, total_bytes=total,
                   device_bytes=device,
                   fits=(device <= mem.capacity_bytes) & (mem.host_bytes <= mem.host_capacity_bytes),
                   max_batch_size=np.minimum(max_device, mem.max_batch_size))
