"""Decode time against memory bandwidth (Fig. 20) and one scenario on several devices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ... import api
from ...defaults import DEFAULT_GEN_LEN, DEFAULT_SCALE_BITS
from ...errors import ScenarioError
from .common import Progress, as_list, load_pair


@dataclass(frozen=True)
class BandwidthData:
    model: str
    hardware: str                      # the base device
    device_bandwidth_bytes_per_s: float
    peak_flops_per_s: float            # its 16-bit peak
    bandwidths: np.ndarray             # bytes/s
    batch_sizes: np.ndarray
    prompt_len: int
    decode_time_s: np.ndarray          # [n_batch, n_bandwidths]
    throughput_tokens_per_s: np.ndarray


def bandwidth(model, hardware, *, bandwidths: Sequence[float], batch_size: Sequence[int] = (1,),
              prompt_len: int = 1024, w_bits=16, a_bits=16, kv_bits=16, flash_attention=False, group_size=128,
              scale_bits=DEFAULT_SCALE_BITS, efficiency="ideal", progress: Progress = None) -> BandwidthData:
    """Decode step time (KV length = prompt length) of a device whose memory bandwidth is replaced by
    each of ``bandwidths`` (bytes/s); everything else is the device's (paper Fig. 20)."""
    spec, device = load_pair(model, hardware)
    bws = [float(b) for b in as_list(bandwidths)]
    if not bws:
        raise ScenarioError("bandwidths: give at least one value")
    bs = as_list(batch_size)
    times = np.empty((len(bs), len(bws)))
    rates = np.empty_like(times)
    for j, bw in enumerate(bws):
        dev = api.load_hardware(device, memory_bandwidth_bytes_per_s=bw)
        a = api.analyze_many(spec, dev, batch_size=bs, prompt_len=prompt_len, w_bits=w_bits, a_bits=a_bits,
                             kv_bits=kv_bits, flash_attention=flash_attention, group_size=group_size,
                             scale_bits=scale_bits, efficiency=efficiency)
        times[:, j] = a.decode_total.time_s
        rates[:, j] = a.decode_total.tokens_per_s
        if progress:
            progress(j + 1, len(bws))
    batch = np.asarray(bs, dtype=float)
    return BandwidthData(model=spec.name, hardware=device.name,
                         device_bandwidth_bytes_per_s=device.memory_bandwidth_bytes_per_s,
                         peak_flops_per_s=device.peak_16bit_flops_per_s, bandwidths=np.asarray(bws), batch_sizes=batch,
                         prompt_len=int(prompt_len), decode_time_s=times,
                         throughput_tokens_per_s=rates)


@dataclass(frozen=True)
class HardwareData:
    model: str
    devices: tuple[str, ...]
    scenario: dict
    ttft_s: np.ndarray
    decode_time_s: np.ndarray          # one decode step at KV length = prompt length
    e2e_s: np.ndarray                  # NaN without gen_len
    throughput_tokens_per_s: np.ndarray
    total_bytes: np.ndarray
    capacity_bytes: np.ndarray
    fits: np.ndarray
    prices: np.ndarray | None          # USD, as given
    throughput_per_usd: np.ndarray | None


def hardware_comparison(model, devices: Sequence, *, batch_size: int = 1, prompt_len: int = 1024,
                        gen_len: int = DEFAULT_GEN_LEN, w_bits=16, a_bits=16, kv_bits=16, flash_attention=False,
                        group_size=128, scale_bits=DEFAULT_SCALE_BITS, efficiency="ideal",
                        prices: Sequence[float] | None = None, progress: Progress = None) -> HardwareData:
    """One scenario on each device. Throughput: decode tokens/s (``batch / decode step``) without
    ``gen_len``, else the whole generation's tokens/s; per USD when ``prices`` (one per device) are given."""
    devices = list(devices)
    if not devices:
        raise ScenarioError("give at least one device")
    if prices is not None and len(prices) != len(devices):
        raise ScenarioError(f"{len(prices)} prices for {len(devices)} devices; give one price per device")
    spec = api.load_model(model)
    rows = []
    for i, d in enumerate(devices):
        r = api.analyze(spec, d, batch_size=batch_size, prompt_len=prompt_len, gen_len=gen_len, w_bits=w_bits,
                        a_bits=a_bits, kv_bits=kv_bits, flash_attention=flash_attention, group_size=group_size,
                        scale_bits=scale_bits, efficiency=efficiency)
        rows.append(r)
        if progress:
            progress(i + 1, len(devices))
    dec = np.array([r.decode.total.time_s for r in rows])
    if gen_len > 0:
        thr = np.array([r.generation.throughput_tokens_per_s for r in rows], dtype=float)
        e2e = np.array([r.generation.e2e_s for r in rows])
    else:
        thr = np.array([r.decode.total.tokens_per_s for r in rows])
        e2e = np.full(len(rows), np.nan)
    price = None if prices is None else np.asarray(prices, dtype=float)
    return HardwareData(model=spec.name, devices=tuple(r.hardware["name"] for r in rows), scenario=rows[0].scenario,
                        ttft_s=np.array([r.generation.ttft_s for r in rows]), decode_time_s=dec, e2e_s=e2e,
                        throughput_tokens_per_s=thr, total_bytes=np.array([r.memory.total_bytes for r in rows]),
                        capacity_bytes=np.array([r.memory.capacity_bytes for r in rows]),
                        fits=np.array([r.memory.fits for r in rows]), prices=price,
                        throughput_per_usd=None if price is None else thr / price)
