"""Time per weight bit-width and the memory breakdown of each format (Fig. 7-9)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ... import api
from ...defaults import DEFAULT_SCALE_BITS
from ...errors import ScenarioError
from .common import as_list, grid_sweep, load_pair

DEFAULT_MEMORY_CONFIGS = (("FP16", 16, 16, 16), ("W4", 4, 16, 16), ("W4KV4", 4, 16, 4), ("W4A4", 4, 4, 4))


@dataclass(frozen=True)
class MemoryBreakdown:
    """Footprint of each format (columns) in each scenario (rows): weights, KV cache, activations."""

    configs: tuple[str, ...]
    scenarios: tuple[tuple[int, int], ...]    # (batch size, prompt length)
    weights_bytes: np.ndarray                 # [n_scenarios, n_configs]
    kv_cache_bytes: np.ndarray
    activations_bytes: np.ndarray
    total_bytes: np.ndarray
    fractions: np.ndarray                     # [n_scenarios, n_configs, 3]: each config's own shares, sum 1
    relative: np.ndarray                      # [n_scenarios, n_configs, 3]: shares of the first config's total


@dataclass(frozen=True)
class QuantizationData:
    model: str
    hardware: str
    w_bits: tuple
    a_bits: int | str
    kv_bits: int | str
    batch_sizes: np.ndarray
    decode_prompt_len: int
    decode_time_s: np.ndarray                 # [n_w_bits, n_batch]
    prompt_lens: np.ndarray
    prefill_batch_size: int
    prefill_time_s: np.ndarray                # [n_w_bits, n_prompt]
    memory: MemoryBreakdown


def memory_breakdown(model, hardware, *, configs=DEFAULT_MEMORY_CONFIGS,
                     scenarios: Sequence[tuple[int, int]] = ((1, 1024), (1, 4096), (16, 1024)), gen_len=0,
                     group_size=128, scale_bits=DEFAULT_SCALE_BITS) -> MemoryBreakdown:
    """The engine's memory footprint (weights, KV cache of prompt + generated tokens, peak activations)
    for each format ``(label, w_bits, a_bits, kv_bits)`` and each ``(batch size, prompt length)``."""
    spec, device = load_pair(model, hardware)
    configs = tuple(configs)
    n_s, n_c = len(scenarios), len(configs)
    b = [s[0] for s in scenarios for _ in configs]
    p = [s[1] for s in scenarios for _ in configs]
    w, ab, kv = ([c[i] for _ in scenarios for c in configs] for i in (1, 2, 3))
    a = api.analyze_many(spec, device, batch_size=b, prompt_len=p, gen_len=gen_len, w_bits=w, a_bits=ab,
                         kv_bits=kv, group_size=group_size, scale_bits=scale_bits)
    m = a.memory
    parts = np.stack([m.weights_bytes, m.kv_cache_bytes, m.activations_bytes], -1).reshape(n_s, n_c, 3)
    total = m.total_bytes.reshape(n_s, n_c)
    return MemoryBreakdown(configs=tuple(c[0] for c in configs), scenarios=tuple(tuple(s) for s in scenarios),
                           weights_bytes=parts[..., 0], kv_cache_bytes=parts[..., 1],
                           activations_bytes=parts[..., 2], total_bytes=total,
                           fractions=parts / total[..., None], relative=parts / total[:, :1, None])


def quantization(model, hardware, *, w_bits: Sequence[int] = (16, 8, 4), a_bits=16, kv_bits=16,
                 batch_size: Sequence[int] = tuple(range(1, 65)), decode_prompt_len: int = 1024,
                 prompt_len: Sequence[int] = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
                 prefill_batch_size: int = 1, memory_configs=DEFAULT_MEMORY_CONFIGS,
                 memory_scenarios=((1, 1024), (1, 4096), (16, 1024)), group_size=128, scale_bits=DEFAULT_SCALE_BITS,
                 efficiency="ideal") -> QuantizationData:
    """Decode step time against the batch size (KV length ``decode_prompt_len``) and prefill time against
    the prompt length (batch ``prefill_batch_size``) for each weight bit-width, and the memory breakdown
    of ``memory_configs`` (paper Fig. 7-9)."""
    spec, device = load_pair(model, hardware)
    w_bits = tuple(as_list(w_bits))
    if any(isinstance(v, str) for v in w_bits) and len(w_bits) > 1:
        raise ScenarioError("w_bits: a list of bit-widths takes numbers")
    common = dict(flash_attention=False, logits_all=False, group_size=group_size, scale_bits=scale_bits,
                  efficiency=efficiency)
    axes = {"w_bits": w_bits, "a_bits": a_bits, "kv_bits": kv_bits}
    _, dec, dec_r = grid_sweep(spec, device, "batch_size", as_list(batch_size),
                          {**axes, "prompt_len": decode_prompt_len}, **common)
    _, pre, pre_r = grid_sweep(spec, device, "prompt_len", as_list(prompt_len),
                          {**axes, "batch_size": prefill_batch_size}, **common)
    n_w = len(w_bits)
    return QuantizationData(
        model=spec.name, hardware=device.name, w_bits=w_bits, a_bits=a_bits, kv_bits=kv_bits,
        batch_sizes=np.asarray(as_list(batch_size), dtype=float), decode_prompt_len=int(decode_prompt_len),
        decode_time_s=dec_r.analysis.decode_total.time_s.reshape(n_w, -1),
        prompt_lens=np.asarray(as_list(prompt_len), dtype=float), prefill_batch_size=int(prefill_batch_size),
        prefill_time_s=pre_r.analysis.prefill_total.time_s.reshape(n_w, -1),
        memory=memory_breakdown(spec, device, configs=memory_configs, scenarios=memory_scenarios,
                                group_size=group_size, scale_bits=scale_bits))
