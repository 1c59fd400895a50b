"""Which fitted format an operator's kernel runs in, from the scenario's formats.

Format keys follow the kernel tables (AIConfigurator's quant modes):
- GEMM, BMM, MoE (weights x activations): ``bf16`` (16-bit), ``fp8`` (FP8 weights and activations,
  per-tensor scales), ``fp8_block`` (the fp8-block format), ``int8`` (W8A8, SmoothQuant),
  ``int8_wo`` / ``int4_wo`` (weight-only integer: W8A16, W4A16), ``nvfp4`` (FP4 weights and
  activations), ``mxfp4`` (FP4 weights with 16-bit activations, W4A16);
- attention (activations x KV cache): ``bf16``, ``fp8_kv`` (FP8 cache, 16-bit math), ``fp8``
  (FP8 cache and FP8 math);
- elementwise kernels: ``bf16``.
A format without a key of its own (fp32, 2-bit...) uses the nearest one (FALLBACK).
"""

from __future__ import annotations

import numpy as np

from ..precision import Format

# Where a missing (class, format) fit is looked for next, in order.
FALLBACK = {
    "fp8_block": ("fp8",), "fp8": ("fp8_block",), "int8": ("fp8",), "nvfp4": ("fp8",),
    "mxfp4": ("int4_wo",), "int4_wo": ("mxfp4", "int8_wo"), "int8_wo": ("int4_wo",),
    "fp8_kv": ("bf16",), "fp8_wo": ("int8_wo", "int4_wo"),
}


def weight_format_keys(weights: Format, activations: Format) -> np.ndarray:
    """Format key of a weights x activations kernel, per scenario."""
    w, a = np.asarray(weights.bits), np.asarray(activations.bits)
    w_float = weights.family != "int"
    a_low = a <= 8
    low8 = "fp8_block" if weights.name == "fp8-block" else ("fp8" if w_float else "int8")
    low4 = ("nvfp4" if w_float else "int4_wo")
    wo4 = "mxfp4" if w_float else "int4_wo"
    wo8 = "fp8_wo" if w_float else "int8_wo"
    keys = np.where(w >= 16, "bf16",
                    np.where(w > 4, np.where(a_low, low8, wo8),
                             np.where(a <= 4, low4, np.where(a_low, "int4_wo", wo4))))
    return np.where(a >= 16, np.where(w >= 16, "bf16", keys), keys).astype(object)


def attention_format_keys(activations: Format, kv_cache: Format) -> np.ndarray:
    """Format key of an attention kernel (activations x KV cache), per scenario."""
    a, kv = np.asarray(activations.bits), np.asarray(kv_cache.bits)
    return np.where(kv >= 16, "bf16", np.where(a <= 8, "fp8", "fp8_kv")).astype(object)


def format_keys(role: str, weights: Format, activations: Format, kv_cache: Format, n: int) -> np.ndarray:
    """Format key per scenario for an operator of compute ``role`` (ops.COMPUTE_ROLES)."""
    if role == "weights":
        return np.broadcast_to(weight_format_keys(weights, activations), (n,))
    if role == "attention":
        return np.broadcast_to(attention_format_keys(activations, kv_cache), (n,))
    return np.full(n, "bf16", dtype=object)
