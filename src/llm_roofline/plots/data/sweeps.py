"""Serving sweeps: latency, throughput and memory against the batch size or the sequence length."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...defaults import DEFAULT_GEN_LEN, DEFAULT_SCALE_BITS
from ...errors import ScenarioError
from .common import as_list, grid_sweep, load_pair, scenario_label


@dataclass(frozen=True)
class Series:
    """One curve: a setting (the values that vary between curves) over the x axis."""

    label: str
    settings: dict
    x: np.ndarray
    latency_s: np.ndarray              # decode step time (gen_len 0) or TPOT (gen_len > 0)
    ttft_s: np.ndarray                 # prefill time
    throughput_tokens_per_s: np.ndarray
    total_bytes: np.ndarray
    weights_bytes: np.ndarray
    kv_cache_bytes: np.ndarray
    activations_bytes: np.ndarray
    fits: np.ndarray
    max_batch_size: np.ndarray


@dataclass(frozen=True)
class SweepData:
    model: str
    hardware: str
    x_name: str                        # "batch_size" or "prompt_len"
    fixed: dict                        # settings shared by every curve
    gen_len: int
    capacity_bytes: float
    series: tuple[Series, ...]


def _sweep(model, hardware, x_name, xs, *, batch_size, prompt_len, gen_len, kv_len, w_bits, a_bits, kv_bits,
           flash_attention, logits_all, group_size, scale_bits, efficiency) -> SweepData:
    spec, device = load_pair(model, hardware)
    axes = {"batch_size": batch_size, "prompt_len": prompt_len, "gen_len": gen_len, "kv_len": kv_len,
            "w_bits": w_bits, "a_bits": a_bits, "kv_bits": kv_bits}
    if len(as_list(gen_len)) > 1:
        raise ScenarioError("gen_len: one value per figure (it changes what latency means)")
    ordered, cols, result = grid_sweep(spec, device, x_name, xs, axes, flash_attention=flash_attention,
                                       logits_all=logits_all, group_size=group_size, scale_bits=scale_bits,
                                       efficiency=efficiency)
    a = result.analysis
    varying = [k for k in ordered if k != x_name and len(ordered[k]) > 1]
    fixed = {k: v[0] for k, v in ordered.items() if k != x_name and len(v) == 1}
    g = int(as_list(gen_len)[0]) if as_list(gen_len) else 0
    shape = cols["batch_size"].shape
    decode_time = a.decode_total.time_s.reshape(shape)
    series = []
    for index in itertools.product(*(range(n) for n in shape[:-1])):
        settings = {k: ordered[k][i] for k, i in zip(list(ordered)[:-1], index, strict=True) if k in varying}
        c = {k: v[index] for k, v in cols.items()}
        latency = c["tpot_s"] if g > 0 else decode_time[index]
        throughput = c["throughput_tokens_per_s"] if g > 0 else c["decode_tokens_per_s"]
        series.append(Series(label=scenario_label(settings) or scenario_label(fixed), settings=settings,
                             x=c[x_name].astype(float), latency_s=latency, ttft_s=c["ttft_s"],
                             throughput_tokens_per_s=throughput, total_bytes=c["total_bytes"],
                             weights_bytes=c["weights_bytes"], kv_cache_bytes=c["kv_cache_bytes"],
                             activations_bytes=c["activations_bytes"], fits=c["fits"].astype(bool),
                             max_batch_size=c["max_batch_size"]))
    return SweepData(model=spec.name, hardware=device.name, x_name=x_name, fixed=fixed, gen_len=g,
                     capacity_bytes=float(a.memory.capacity_bytes), series=tuple(series))


def batch_sweep(model, hardware, *, batch_size: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256),
                prompt_len=1024, gen_len=DEFAULT_GEN_LEN, kv_len=None, w_bits=16, a_bits=16, kv_bits=16,
                flash_attention=False, logits_all=False, group_size=128, scale_bits=DEFAULT_SCALE_BITS,
                efficiency="ideal") -> SweepData:
    """Latency, throughput and memory against the batch size; a curve for each combination of the other
    listed settings (e.g. ``prompt_len=[256, 512, 1024, 2048]``). Latency: the decode step at KV length
    ``kv_len`` (default: the prompt length) or, with ``gen_len > 0``, the mean time per output token."""
    return _sweep(model, hardware, "batch_size", as_list(batch_size), batch_size=None, prompt_len=prompt_len,
                  gen_len=gen_len, kv_len=kv_len, w_bits=w_bits, a_bits=a_bits, kv_bits=kv_bits,
                  flash_attention=flash_attention, logits_all=logits_all, group_size=group_size, scale_bits=scale_bits,
                  efficiency=efficiency)


def seq_sweep(model, hardware, *, prompt_len: Sequence[int] = (128, 256, 512, 1024, 2048, 4096, 8192, 16384),
              batch_size=1, gen_len=DEFAULT_GEN_LEN, w_bits=16, a_bits=16, kv_bits=16, flash_attention=False,
              logits_all=False, group_size=128, scale_bits=DEFAULT_SCALE_BITS, efficiency="ideal") -> SweepData:
    """As :func:`batch_sweep` against the sequence (prompt) length; the decode step reads a KV cache
    of the prompt's length."""
    return _sweep(model, hardware, "prompt_len", as_list(prompt_len), batch_size=batch_size, prompt_len=None,
                  gen_len=gen_len, kv_len=None, w_bits=w_bits, a_bits=a_bits, kv_bits=kv_bits,
                  flash_attention=flash_attention, logits_all=logits_all, group_size=group_size, scale_bits=scale_bits,
                  efficiency=efficiency)
