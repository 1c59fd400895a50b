"""Memory traffic and time with and without FlashAttention (Fig. 16)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ... import api
from ...defaults import DEFAULT_SCALE_BITS, DEFAULT_STATE_BITS
from ...inputs import grid_points
from ..options import check_series
from .common import as_list, load_pair


@dataclass(frozen=True)
class FlashAttentionData:
    """Arrays [kernel, n_batch, n_prompt]: index 0 without FlashAttention, 1 with its ideal single read
    of Q, K, V, and 2 (where the device states its on-chip memory and SM count) as FlashAttention-2
    really tiles (K and V re-read per query block; Flash-Decoding for decode): ``kernels`` names them."""

    model: str
    hardware: str
    batch_sizes: np.ndarray
    prompt_lens: np.ndarray
    prefill_bytes: np.ndarray
    prefill_time_s: np.ndarray
    decode_bytes: np.ndarray
    decode_time_s: np.ndarray
    settings: dict = field(default_factory=dict)
    kernels: tuple[str, ...] = ("naive", "ideal")


def flash_attention(model, hardware, *, batch_size: Sequence[int] = (1, 16),
                    prompt_len: Sequence[int] = (512, 1024, 2048, 4096, 8192, 16384), w_bits=16, a_bits=16,
                    kv_bits=16, group_size=128, scale_bits=DEFAULT_SCALE_BITS, state_bits=DEFAULT_STATE_BITS,
                    efficiency="ideal") -> FlashAttentionData:
    """Memory traffic and time of prefill and of one decode step (KV length = prompt length), without
    and with the fused FlashAttention kernel (paper Fig. 16), ideal and tiled (see FlashAttentionData)."""
    bs, ps = as_list(batch_size), as_list(prompt_len)
    check_series(len(bs), "batch sizes (one curve each)")
    grid_points({"batch_size": len(bs), "prompt_len": len(ps)}, "the figure's grid")
    spec, device = load_pair(model, hardware)
    out = {k: [] for k in ("prefill_bytes", "prefill_time_s", "decode_bytes", "decode_time_s")}
    kernels = ("naive", "ideal", "fa2") if device.sram_per_sm_bytes and device.sm_count else ("naive", "ideal")
    for kernel in kernels:
        r = api.sweep(spec, device, batch_size=bs, prompt_len=ps, w_bits=w_bits, a_bits=a_bits, kv_bits=kv_bits,
                      attention=kernel, group_size=group_size, scale_bits=scale_bits,
                      state_bits=state_bits, efficiency=efficiency)
        a, shape = r.analysis, (len(bs), len(ps))
        out["prefill_bytes"].append(a.prefill_total.bytes.reshape(shape))
        out["prefill_time_s"].append(a.prefill_total.time_s.reshape(shape))
        out["decode_bytes"].append(a.decode_total.bytes.reshape(shape))
        out["decode_time_s"].append(a.decode_total.time_s.reshape(shape))
    return FlashAttentionData(model=spec.name, hardware=device.name, batch_sizes=np.asarray(bs, dtype=float),
                              prompt_lens=np.asarray(ps, dtype=float), **{k: np.stack(v) for k, v in out.items()},
                              settings={"w_bits": w_bits, "a_bits": a_bits, "kv_bits": kv_bits}, kernels=kernels)
