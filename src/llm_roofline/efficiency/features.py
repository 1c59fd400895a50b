"""Kernel classes and the shape features their curves depend on.

An operator's kernel shape (``OpTable.shapes``, set by the primitives) names its kernel family:
``gemm`` (linear layers: M tokens x N outputs x K inputs), ``bmm`` (batched matmuls: naive
attention, MLA's absorbed projections), ``moe`` (grouped expert GEMMs), ``attention`` and
``mla`` (fused attention over B sequences, T queries, S keys). Operators without a shape (norms,
activations, residual adds, rope, embeddings, scans) are memory-bound ``elementwise`` kernels.
Attention and MLA split into prefill (T > 1) and decode (T = 1) classes, per scenario. A shape
naming another kernel family gets no curve: it keeps its roofline time. Communication operators
(``collective``: all-reduce, all-gather, reduce-scatter, all-to-all, point-to-point) keep the
collective model's link time (parallel/collectives.py), already fitted on measured NCCL tables in
the ``fitted`` mode: no second efficiency is applied. Kernels without measured tables and their
class: the scans (Mamba's selective scan, Mamba-2's SSD, the gated delta rule), conv1d, norms,
rope and the indexers' top-k are ``elementwise`` (their efficiency follows the bytes they move; a
prefill scan is compute-heavy, so its calibrated time there is a rough estimate); the lightning
indexers' scoring and DeepSeek-V4's grouped o_a_proj are ``bmm``; DeepSeek Sparse Attention's core
is ``mla`` over its at most index_topk selected keys (the dense MLA curve at that key count);
DeepSeek-V4's window and compressed attention cores are ``attention`` (keys x key_fraction).

Features (see curves.py), with SMs = the device's multiprocessors (compute units):
- GEMM / BMM: tiles = batch * M * N / 128^2 output tiles; x = y = items = tiles / SMs (waves);
  depth = K; extra = batch * M * K activation elements (a quantization pass);
- MoE: x = tokens per active expert = M * top_k / distinct experts (grouped-GEMM efficiency);
  y = items = M * top_k * N / 128^2 / SMs; depth = K; extra = M * top_k * K;
- attention prefill: CTAs = B * heads * ceil(T / 128); x = y = items = CTAs / SMs; depth = keys;
  extra = B * heads * causal pairs / SMs: the softmax exponentials per SM, which run on the
  special-function units at a fixed rate (the fitted cost, ~60-110 "bytes" per score at the
  bandwidth on an H100, is 16-27 exponentials per clock per SM);
- attention decode: x = B * heads / SMs; items = B * kv_heads / SMs (one CTA per sequence and
  KV head); group = heads / kv_heads (the query heads a CTA serves; an engine's per-head kernel
  for some group sizes is a curve parameter, see curves.py); depth = keys = min(S, W + T - 1) (the
  keys a query sees, W the sliding window; from the start of its chunk for chunked attention;
  x key_fraction for DeepSeek-V4's compressed entries); y = split-KV CTAs per SM =
  max(items, min(items * keys / SPLIT_KEYS, 1)): when the sequences and KV heads do not fill the
  SMs, the kernels split each sequence's keys over more CTAs (TensorRT-LLM's multi-block mode,
  FlashAttention / FlashInfer split-KV), in chunks of at least SPLIT_KEYS keys, up to one wave;
- MLA decode: as attention decode without the split (y = items; FlashMLA's own split is in its fit);
- elementwise: y = bytes / SMs (bytes moved per SM); nothing else.
"""

from __future__ import annotations

import numpy as np

from ..attention import causal_pairs, keys_touched
from .curves import Features

UNCALIBRATED = "roofline"  # a kernel family without curves keeps its roofline time
COLLECTIVE = "collective"  # communication operators: the collective model's link time is their calibration
CLASSES = ("gemm", "bmm", "moe", "attention_prefill", "attention_decode", "mla_prefill", "mla_decode",
           "elementwise")
TILE = 128.0  # output tile edge of the tensor-core kernels (elements)
DEFAULT_SMS = 100  # multiprocessors assumed for a device whose entry does not say
SPLIT_KEYS = 512.0  # keys per split-KV chunk of decode attention (chosen among 64..4096 by the fit's error)


def sms_of(hardware) -> int:
    """The device's multiprocessor count (SMs / CUs), or DEFAULT_SMS when the entry lacks it."""
    return int(hardware.sm_count) if getattr(hardware, "sm_count", None) else DEFAULT_SMS


def kernel_classes(shape: dict | None, n: int) -> np.ndarray:
    """The kernel class of one operator, per scenario (array of n class names)."""
    if shape is None:
        return np.full(n, "elementwise", dtype=object)
    kernel = shape["kernel"]
    if kernel in ("attention", "mla"):
        T = np.broadcast_to(np.asarray(shape["T"], dtype=np.float64), (n,))
        return np.where(T > 1, f"{kernel}_prefill", f"{kernel}_decode").astype(object)
    if kernel in ("gemm", "bmm", "moe", COLLECTIVE):
        return np.full(n, kernel, dtype=object)
    return np.full(n, UNCALIBRATED, dtype=object)  # a kernel family without curves (collectives ...)


def features(kernel_class: str, shape: dict | None, traffic_bytes, sms: int) -> Features:
    """The shape features of one operator for ``kernel_class`` (arrays over scenarios)."""
    if kernel_class == "elementwise" or shape is None:
        return Features(y=np.asarray(traffic_bytes, dtype=np.float64) / sms)
    s = {k: np.asarray(v, dtype=np.float64) if not isinstance(v, str) else v for k, v in shape.items()}
    if kernel_class in ("gemm", "bmm"):
        batch = s.get("batch", 1.0)
        waves = batch * s["m"] * s["n"] / TILE**2 / sms
        return Features(depth=s["k"], x=waves, y=waves, items=waves, extra=batch * s["m"] * s["k"])
    if kernel_class == "moe":
        routed = s["m"] * s["top_k"]
        waves = routed * s["n"] / TILE**2 / sms
        per_expert = routed / np.maximum(s["distinct"], 1e-12)
        return Features(depth=s["k"], x=per_expert, y=waves, items=waves, extra=routed * s["k"])
    chunk, fraction = s.get("chunk", np.inf), s.get("key_fraction", 1.0)
    keys = keys_touched(s["T"], s["S"], s["window"], chunk) * fraction
    if kernel_class.endswith("_prefill"):
        waves = s["B"] * s["heads"] * np.ceil(s["T"] / TILE) / sms
        scores = s["B"] * s["heads"] * causal_pairs(s["T"], s["S"], s["window"], chunk) * fraction / sms
        return Features(depth=keys, x=waves, y=waves, items=waves, extra=scores)
    kv_units = s["B"] * s["kv_heads"] / sms
    group = s["heads"] / s["kv_heads"]
    split = np.maximum(kv_units, np.minimum(kv_units * keys / SPLIT_KEYS, 1.0)) \
        if kernel_class == "attention_decode" else kv_units
    return Features(depth=keys, x=s["B"] * s["heads"] / sms, y=split, items=kv_units, group=group)


def interpolate_shape(shape0: dict | None, shape1: dict | None, x) -> dict | None:
    """The shape at KV length x from the shapes at 0 and 1 (every entry is affine in the visible
    keys at T = 1, as the FLOPs and bytes are)."""
    if shape0 is None or shape1 is None:
        return shape0
    out = {}
    for key, v0 in shape0.items():
        v1 = shape1[key]
        if isinstance(v0, str):
            out[key] = v0
            continue
        a0, a1 = np.asarray(v0, dtype=np.float64), np.asarray(v1, dtype=np.float64)
        with np.errstate(invalid="ignore"):  # inf windows: inf - inf
            slope = np.where(a0 == a1, 0.0, a1 - a0)
        out[key] = a0 + slope * x
    return out
