"""One compact kernel-time curve, shared by every kernel class (GEMM, attention, MoE, ...).

For one kernel with roofline times tc = FLOPs / peak and tm = bytes / bandwidth (s, datasheet
ceilings, the precision rules of the roofline) and its shape features (see features.py):

    time = t0 + ( lat^p + (tc / eta_c)^p + (tm / eta_m)^p + (o_item * items + o_head * head_items)^p )^(1/p)
                + c_item * items + q * extra / bandwidth

- t0 (s): fixed cost of a kernel on the GPU (launch, prologue, epilogue), inside a CUDA graph;
- lat = t1 * depth / (depth + depth_half) (s): latency of the serial loop (GEMM: K; attention:
  the keys a query tile walks), saturating once split-K / split-KV spreads it over the GPU;
- eta_c = compute_eff * x / (x + compute_half): achieved fraction of the compute peak, rising
  with the parallel work x (waves of output tiles or CTAs per SM; MoE: tokens per expert);
- eta_m = memory_eff * y / (y + memory_half): achieved fraction of the bandwidth, rising with
  the parallel memory work y (small kernels never reach peak bandwidth);
- p >= 1 (``knee``): how well compute, memory and the serial loop overlap: p = 1 adds them
  (no overlap, e.g. W4A16 dequantization), p -> inf is the plain roofline max;
- c_item (s): cost per work item per SM (CTA set-up: per sequence and KV head in decode);
- o_item (s): the same, but overlapping with the other CTAs' streaming (inside the p-norm): a
  throughput limit of CTA set-up and epilogue, not a serial cost (decode attention);
- per-head kernels (decode attention; ``group_limit`` G > 0): an engine whose grouped kernel
  (one CTA per sequence and KV head, its g = heads / kv_heads query heads together) serves only
  group sizes 2..G runs a per-head kernel for g = 1 and g > G: one CTA per query head
  (head_items = items * g, at o_head each, overlapping), each re-reading its KV head, of which a
  fraction ``reread`` of the g - 1 repeated reads reaches memory, at ``head_memory_eff`` of the
  bandwidth: tm -> tm * (1 + reread * (g - 1)) / head_memory_eff (>= tm). TensorRT-LLM: XQA for
  2 <= g <= 32, masked MHA otherwise (G = 32);
- q (bytes per element): a separate pass over ``extra`` elements, as time at the memory bandwidth
  (FP8 GEMMs quantize their activations first; prefill attention's softmax exponentials per SM).

Because eta_c, eta_m <= 1 and the p-norm is at least the max of its terms, the time is never
below the roofline time max(tc, tm) plus t0. The report writes it as
``time = roofline_time / efficiency + fixed_time`` with fixed_time = t0 (+ host launch costs),
so ``efficiency`` = roofline_time / (time - fixed_time) lies in (0, 1].
Monotone by construction: eta_c in x, eta_m in y, lat in depth, and time in tc, tm, items, extra
(the group size g selects a kernel: a step, not a monotone feature).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from ..errors import ConfigError

# Parameter name -> (lower, upper) bound used by the fitter and checked on load.
BOUNDS: dict[str, tuple[float, float]] = {
    "t0_s": (0.0, 1e-3),
    "t1_s": (0.0, 1e-3),
    "depth_half": (1.0, 1e7),
    "compute_eff": (1e-3, 1.0),
    "compute_half": (0.0, 1e4),
    "memory_eff": (1e-3, 1.0),
    "memory_half": (0.0, 1e9),
    "knee": (1.0, 64.0),
    "item_s": (0.0, 1e-3),
    "extra_bytes": (0.0, 1e4),
    "item_overlap_s": (0.0, 1e-3),
    "group_limit": (0.0, 1e4),
    "head_item_s": (0.0, 1e-3),
    "reread": (0.0, 1.0),
    "head_memory_eff": (1e-3, 1.0),
}


@dataclass(frozen=True)
class Curve:
    """The fitted parameters of one device x engine x kernel class x format (SI units)."""

    t0_s: float = 0.0
    t1_s: float = 0.0
    depth_half: float = 1.0
    compute_eff: float = 1.0
    compute_half: float = 0.0
    memory_eff: float = 1.0
    memory_half: float = 0.0
    knee: float = 64.0
    item_s: float = 0.0
    extra_bytes: float = 0.0
    item_overlap_s: float = 0.0
    group_limit: float = 0.0
    head_item_s: float = 0.0
    reread: float = 0.0
    head_memory_eff: float = 1.0

    def __post_init__(self) -> None:
        for name, (low, high) in BOUNDS.items():
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and low <= value <= high):
                raise ConfigError(f"efficiency curve: {name} must be in [{low:g}, {high:g}], got {value!r}")

    @classmethod
    def from_dict(cls, data: dict) -> Curve:
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in data.items() if k in known})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Features:
    """Shape features of kernels (arrays broadcastable over scenarios; see features.py)."""

    depth: np.ndarray | float = 0.0
    x: np.ndarray | float = 1.0
    y: np.ndarray | float = 1.0
    items: np.ndarray | float = 0.0
    extra: np.ndarray | float = 0.0
    group: np.ndarray | float = 1.0


def _saturation(value, half: float):
    """value / (value + half): 1 when half is 0 (no saturation), 0 at value 0 (no parallel work)."""
    if half == 0.0:
        return 1.0
    value = np.asarray(value, dtype=np.float64)
    return value / (value + half)


def p_norm(terms: list, p: float) -> np.ndarray:
    """(sum t^p)^(1/p) of non-negative terms, computed relative to the largest (stable for large p)."""
    arrays = [np.asarray(t, dtype=np.float64) for t in terms]
    top = arrays[0]
    for a in arrays[1:]:
        top = np.maximum(top, a)
    positive = top > 0
    total = np.zeros(top.shape)
    for a in arrays:
        ratio = np.divide(a, top, out=np.zeros(top.shape), where=positive)
        total += ratio ** p
    return np.where(positive, top * total ** (1.0 / p), 0.0)


def kernel_time(curve: Curve, tc, tm, f: Features, bandwidth_bytes_per_s: float) -> np.ndarray:
    """The calibrated time of one kernel (s), never below t0 + max(tc, tm); see the module doc.
    Rows with work but no parallel units (x or y = 0) cannot occur: work implies units."""
    eta_c = curve.compute_eff * _saturation(f.x, curve.compute_half)
    eta_m = curve.memory_eff * _saturation(f.y, curve.memory_half)
    items, head_items, tm = np.asarray(f.items, dtype=np.float64), 0.0, np.asarray(tm, dtype=np.float64)
    if curve.group_limit > 0:  # per-head kernel for g = 1 and g > group_limit (module doc)
        g = np.asarray(f.group, dtype=np.float64)
        per_head = (g <= 1.0) | (g > curve.group_limit)
        head_items = np.where(per_head, items * g, 0.0)
        items = np.where(per_head, 0.0, items)
        tm = np.where(per_head, tm * (1.0 + curve.reread * (g - 1.0)) / curve.head_memory_eff, tm)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = [np.asarray(tc) / eta_c, tm / eta_m]
    if curve.t1_s > 0:
        depth = np.asarray(f.depth, dtype=np.float64)
        terms.append(curve.t1_s * depth / (depth + curve.depth_half))
    if curve.item_overlap_s or curve.head_item_s:
        terms.append(curve.item_overlap_s * items + curve.head_item_s * head_items)
    time = curve.t0_s + p_norm(terms, curve.knee)
    if curve.item_s:
        time = time + curve.item_s * items
    if curve.extra_bytes:
        time = time + curve.extra_bytes * np.asarray(f.extra) / bandwidth_bytes_per_s
    return time
