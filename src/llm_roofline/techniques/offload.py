"""Offloading (FlexGen, Sheng et al. 2023, https://arxiv.org/abs/2303.06865; the paper's Fig. 17-18):
weights and/or the KV cache partly held in host memory (or on disk) and streamed over the host link.

Which bytes (``offload_table``): a fraction f_w of the weights of the ``offload_modules`` and a fraction
f_kv of the KV cache (and recurrent states) live off the device; every step reads (and for the cache
also writes) that share of the operator's weight and cache traffic there, f_w * weight_bytes and
f_kv * KV bytes. The operator's work splits the same way: its host share is f_w (an operator with
offloaded weights) or f_kv (one that reads the cache).

How long (``offload_times``), per operator, device memory bandwidth B_d, host link b per direction
(the device's ``host_bandwidth`` is both directions together: b = host_bandwidth / 2, as PCIe Gen4 x16
gives 32 GB/s each way of its 64; NVLink-C2C on GH200 450 of 900), or the disk's bandwidth when that is
lower and the data is on disk:

- compute on the device: the offloaded bytes are copied over the link into device memory and the
  kernel reads them there (FlexGen's and DeepSpeed's staging buffers), so device memory also carries
  the copies: t_link_in = host_read / b, t_link_out = host_write / b, t_mem = (bytes + host_read +
  host_write) / B_d (the landing write of what comes in, the read of what goes out);
  overlapped (prefetching the next layer while this one computes, as FlexGen schedules it):
  t = max(t_compute, t_mem, t_link_in, t_link_out), the roofline with a second, lower memory slope
  (attainable = min(peak, b * I) for a fully offloaded operator); not overlapped: t = t_link_in +
  t_link_out + max(t_compute, t_mem).
- compute on the host CPU (FlexGen's CPU attention over an offloaded cache): the host share phi of the
  work runs on the CPU, at its peak and its memory bandwidth (a disk's when on disk), concurrently with
  the device's (1 - phi); the CPU's share of the activations crosses the link (both ways over the
  link's two directions): t = max(t_compute_dev, t_mem_dev, phi * F / P_cpu, host bytes / B_cpu,
  phi * activation bytes / (2b)), the last term added instead when not overlapped. Two processors and
  two memories working at once, this can beat the device alone for a small host share (FlexGen's cost
  model finds the same); on the device, offloading never makes a step faster (the copies only add).

Every term is affine in the KV length, so the whole generation is still summed exactly
(generation.windowed_step_sum_lines). Capacity: the device holds what is not offloaded, the host (or
disk) the rest (report.memory: each checked against its own capacity).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import ScenarioError
from .modules import matches


def offload_table(table, model, scenario):
    """The table with host_read_bytes, host_write_bytes and host_share set (module doc)."""
    t = scenario.optimizations
    fw, fkv = t.offload_weights[None, :], t.offload_kv[None, :]
    chosen = np.array([any(matches(sel, name, model) for sel in t.offload_modules) for name in table.names])
    weights = np.where(chosen[:, None], fw * table.weight_bytes, 0.0)
    host_read = weights + fkv * table.kv_read_bytes
    host_write = fkv * table.kv_write_bytes
    # Row-level tests (any scenario), so that a decode step at KV length 0 (no cache read yet) keeps the
    # share it has at every other length: each term stays affine in the KV length.
    has_weights = chosen & (table.weight_bytes > 0).any(axis=1)
    reads_cache = (table.kv_read_bytes > 0).any(axis=1)
    share = np.where(has_weights[:, None], fw, np.where(reads_cache[:, None], fkv, 0.0))
    return replace(table, host_read_bytes=host_read, host_write_bytes=host_write, host_share=share)


def link_bandwidth(hardware, techniques) -> float:
    """Per direction, bytes/s: half the host link (both directions together), or the disk's bandwidth
    when the data is on disk and that is lower."""
    both = techniques.host_bandwidth_bytes_per_s or hardware.host_bandwidth_bytes_per_s
    if both is None:
        raise ScenarioError(f"offloading: {hardware.name} has no host link bandwidth in its spec; give "
                            "host_bandwidth (--host-bandwidth), both directions together")
    per_direction = both / 2.0
    if techniques.offload_to == "disk":
        return min(per_direction, techniques.disk_bandwidth_bytes_per_s)
    return per_direction


def offload_times(table, scenario, hardware, efficiency, peak, compute_time, memory_bandwidth):
    """(device compute time, device memory time, overlapped host times, serial host time), each
    [n_ops, n] in seconds (module doc); ``peak``: the device's ceiling per operator (FLOP/s)."""
    t = scenario.optimizations
    link = link_bandwidth(hardware, t) * efficiency.bandwidth_fraction
    host_bytes = table.host_read_bytes + table.host_write_bytes
    if t.offload_compute == "device":
        memory_time = (table.bytes + host_bytes) / memory_bandwidth  # the kernel's traffic and the copies
        link_in, link_out = table.host_read_bytes / link, table.host_write_bytes / link
        if t.offload_overlap:
            return compute_time, memory_time, (link_in, link_out), np.zeros_like(compute_time)
        return compute_time, memory_time, (), link_in + link_out
    from ..hardware.spec import IDEAL
    from ..roofline import op_peaks

    memory_time = (table.bytes - host_bytes) / memory_bandwidth  # the CPU works on the host's share in place
    host = t.host
    phi = table.host_share
    cpu_peak = op_peaks(table, scenario, host, IDEAL) * efficiency.compute_fraction
    cpu_bandwidth = host.memory_bandwidth_bytes_per_s * efficiency.bandwidth_fraction
    if t.offload_to == "disk":
        cpu_bandwidth = min(cpu_bandwidth, t.disk_bandwidth_bytes_per_s)
    cpu_compute = phi * table.flops / cpu_peak
    cpu_memory = host_bytes / cpu_bandwidth
    activations = phi * table.activation_bytes / (2.0 * link)
    device_compute = (1.0 - phi) * table.flops / peak
    if t.offload_overlap:
        return device_compute, memory_time, (cpu_compute, cpu_memory, activations), np.zeros_like(compute_time)
    return device_compute, memory_time, (cpu_compute, cpu_memory), activations
