"""Compute roles the techniques add, and the peak each runs at (roofline.op_peaks asks here).

A role names the operands that pick an operator's peak (ops.COMPUTE_ROLES). The techniques add:
``weights:<i>`` (the weights are in ``tensor_formats[i]``'s format: activations x that format, the
wider of the two as precision.compute_peak says), ``<role>:fp8`` (FlashAttention-3's FP8 path: both
operands FP8) and a ``+sparse`` suffix (a sparse kernel: the peak times ``sparse_efficiency``).
"""

from __future__ import annotations

import numpy as np

from ..precision import Format, compute_peak


def role_peak(role: str, peak_of: dict[str, float], scenario, base: dict[str, np.ndarray]) -> np.ndarray:
    """Peak (FLOP/s) of a technique's compute role; ``base``: the peaks of the plain roles."""
    t = scenario.optimizations
    scale = 1.0
    if role.endswith("+sparse"):
        role, scale = role.removesuffix("+sparse"), t.sparse_efficiency
    if role in base:
        return base[role] * scale
    kind, _, detail = role.partition(":")
    if detail == "fp8":
        fp8 = Format(np.full(scenario.size, 8.0), "float")
        return compute_peak(peak_of, fp8, fp8) * scale
    fmt = t.tensor_formats[int(detail)][1]
    return compute_peak(peak_of, scenario.activations, fmt) * scale
