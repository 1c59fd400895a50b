"""Cost primitives and the operator table.

Convention, stated once: FLOPs count multiplies and adds separately (2 per multiply-accumulate).
Bytes are main-memory traffic, split into weights, activations read / written and KV cache
read / written. Every value is per single occurrence of the operator, for the whole batch,
as an array over scenarios; ``count`` says how often the operator occurs in the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

# Which operands decide an operator's compute precision (see precision.compute_format):
# "weights": activations x weights (projections); "attention": activations x KV cache;
# "elementwise": activations only (norms, softmax, activations, adds).
COMPUTE_ROLES = ("weights", "attention", "elementwise")

# FLOPs per element of elementwise work (documented nominal counts; these operators are
# memory-bound on every device in the catalog, so the exact constant moves no time).
# rms: square, sum, scale, weight; ln adds mean, sub, bias; weightless rms (Llama 4's L2Norm): no weight.
NORM_FLOPS = {"rmsnorm": 4, "layernorm": 7, "weightless_rmsnorm": 3}
# clamped_swiglu (gpt-oss experts): clamp gate (1) and up (2), scale the gate by alpha (1), gate *
# sigmoid (4, as silu), up + 1 (1); the gated product adds 1 more, as for every gated activation.
ACT_FLOPS = {"silu": 4, "gelu": 8, "gelu_tanh": 8, "relu": 1, "relu2": 2, "swiglu_fused": 4, "clamped_swiglu": 9}
SOFTMAX_FLOPS = 5  # max, subtract, exp, sum, divide


@dataclass(frozen=True)
class OpTable:
    """Operators x scenarios, as a struct of arrays (shape [n_ops] or [n_ops, n_scenarios])."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    compute: tuple[str, ...]
    inputs: tuple[tuple[str, ...], ...]
    counts: np.ndarray
    params: np.ndarray
    active_params: np.ndarray
    kv_window: np.ndarray
    kv_chunk: np.ndarray
    flops: np.ndarray
    param_bytes: np.ndarray
    weight_bytes: np.ndarray
    act_read_bytes: np.ndarray
    act_write_bytes: np.ndarray
    kv_read_bytes: np.ndarray
    kv_write_bytes: np.ndarray
    link_bytes: np.ndarray | None = None
    link_time_s: np.ndarray | None = None
    parts: tuple[str, ...] = ()
    # Kernel shape of each operator (None where unknown): which kernel class runs it and its sizes
    # (see efficiency/features.py), for the calibrated efficiency model. Values are scalars or
    # arrays over scenarios. Set by the primitives (linear, attention_core, expert linears) and the
    # communication operators (a collective family).
    shapes: tuple[dict | None, ...] = ()
    # Where each operator sits: "model" (embedding, final norm, lm_head), "layer" (a decoder layer's norms and
    # residual adds), "mixer" (its attention / SSM block) or "ffn" (its feed-forward block); () if unknown.
    scopes: tuple[str, ...] = ()
    # Offloading (techniques/offload.py; None when nothing is offloaded): the bytes of each operator's
    # traffic that live in host memory (or on disk) and cross the host link, read and written (a part
    # of ``bytes``), and the share of its work whose data is there (what a host CPU would compute).
    host_read_bytes: np.ndarray | None = None
    host_write_bytes: np.ndarray | None = None
    host_share: np.ndarray | None = None

    def __post_init__(self) -> None:
        """Tables built without communication rows get zero link bytes and link time (bytes, s);
        ``parts`` says where each row sits: "head" (model input end), "layer", "handoff" (between
        pipeline stages) or "tail" (final norm, lm_head)."""
        zeros = np.zeros_like(self.flops)
        if self.link_bytes is None:
            object.__setattr__(self, "link_bytes", zeros)
        if self.link_time_s is None:
            object.__setattr__(self, "link_time_s", zeros)
        if not self.parts:
            object.__setattr__(self, "parts", ("layer",) * len(self.names))

    @cached_property
    def bytes(self) -> np.ndarray:
        """All main-memory traffic of one occurrence (bytes)."""
        total = self.weight_bytes + self.act_read_bytes
        total += self.act_write_bytes
        total += self.kv_read_bytes
        total += self.kv_write_bytes
        return total

    @property
    def activation_bytes(self) -> np.ndarray:
        return self.act_read_bytes + self.act_write_bytes

    @property
    def kv_cache_bytes(self) -> np.ndarray:
        return self.kv_read_bytes + self.kv_write_bytes


LAYER_INPUT = "layer_input"  # pseudo-producer: a decoder layer's input (previous layer or embeddings)


@dataclass
class OpTableBuilder:
    """Collects operators (Python loops run over operators, never over scenarios).

    Each operator records ``inputs``: the operators whose outputs it reads (the dataflow edges);
    by default the operator added just before it. ``last`` is the most recent operator's name.
    """

    n: int
    rows: list[dict] = field(default_factory=list)
    last: str | None = None
    part: str = "head"
    scope: str = "model"

    @contextmanager
    def scoped(self, scope: str) -> Iterator[None]:
        """Operators added inside the block carry ``scope`` (see OpTable.scopes)."""
        outer, self.scope = self.scope, scope
        try:
            yield
        finally:
            self.scope = outer

    def add(self, name: str, kind: str, count: int, *, flops=0.0, weight_bytes=0.0, act_read=0.0,
            act_write=0.0, kv_read=0.0, kv_write=0.0, params=0, active_params=None, param_bytes=0.0,
            compute: str = "elementwise", kv_window: float = np.inf, kv_chunk: float = np.inf,
            inputs=None, link_bytes=0.0, link_time=0.0, shape: dict | None = None) -> str:
        """``link_bytes`` / ``link_time``: what a communication operator puts on its link (bytes per
        device) and how long the collective takes there (s). ``shape``: the kernel family and sizes
        (OpTable.shapes)."""
        if inputs is None:
            inputs = (self.last,) if self.last else ()
        self.last = name
        self.rows.append(dict(inputs=tuple(inputs),
            name=name, kind=kind, count=count, flops=flops, weight_bytes=weight_bytes,
            act_read=act_read, act_write=act_write, kv_read=kv_read, kv_write=kv_write,
            params=params, active_params=params if active_params is None else active_params,
            param_bytes=param_bytes, compute=compute, kv_window=kv_window, kv_chunk=kv_chunk,
            link_bytes=link_bytes, link_time=link_time, part=self.part, shape=shape,
            scope=self.scope))
        return name

    def build(self) -> OpTable:
        rows = _topological(_merge_by_name(self.rows))

        def stack(key: str) -> np.ndarray:
            out = np.empty((len(rows), self.n))
            for i, row in enumerate(rows):
                out[i] = row[key]
            return out

        communicates = any(row["kind"] == "communication" for row in rows)

        return OpTable(
            names=tuple(r["name"] for r in rows), kinds=tuple(r["kind"] for r in rows),
            compute=tuple(r["compute"] for r in rows), inputs=tuple(r["inputs"] for r in rows),
            counts=np.array([r["count"] for r in rows], dtype=np.float64),
            params=np.array([r["params"] for r in rows], dtype=np.float64),
            active_params=np.array([r["active_params"] for r in rows], dtype=np.float64),
            kv_window=np.array([r["kv_window"] for r in rows], dtype=np.float64),
            kv_chunk=np.array([r["kv_chunk"] for r in rows], dtype=np.float64),
            flops=stack("flops"), param_bytes=stack("param_bytes"), weight_bytes=stack("weight_bytes"),
            act_read_bytes=stack("act_read"), act_write_bytes=stack("act_write"),
            kv_read_bytes=stack("kv_read"), kv_write_bytes=stack("kv_write"),
            link_bytes=stack("link_bytes") if communicates else None,
            link_time_s=stack("link_time") if communicates else None, parts=tuple(r["part"] for r in rows),
            shapes=tuple(r["shape"] for r in rows),
            scopes=tuple(r["scope"] for r in rows),
        )


def slice_shapes(shapes: tuple[dict | None, ...], part: slice, total: int) -> tuple[dict | None, ...]:
    """The kernel shapes restricted to the scenarios ``part`` of ``total`` (arrays over scenarios
    are cut; scalars are kept)."""
    def cut(value):
        return value[part] if isinstance(value, np.ndarray) and value.ndim == 1 and value.size == total else value

    return tuple(None if s is None else {k: cut(v) for k, v in s.items()} for s in shapes)


# The cheap, most discriminating values first: _same stops at the first difference.
_VALUE_KEYS = ("kind", "compute", "part", "kv_window", "kv_chunk", "params", "active_params", "flops",
               "weight_bytes", "act_read", "act_write", "kv_read", "kv_write", "param_bytes", "link_bytes",
               "link_time")


def _same(a: dict, b: dict) -> bool:
    return all(a[k] is b[k] or np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in _VALUE_KEYS)


def _topological(rows: list[dict]) -> list[dict]:
    """Dataflow order: each operator after its inputs; ties keep the order of first appearance
    (merging identical operators of several layer groups can put a consumer before a producer)."""
    index = {row["name"]: i for i, row in enumerate(rows)}
    done: set[str] = set()
    ordered: list[dict] = []
    pending = list(rows)
    while pending:
        for i, row in enumerate(pending):
            if all(src in done or src not in index for src in row["inputs"]):
                ordered.append(pending.pop(i))
                done.add(row["name"])
                break
        else:  # a cycle cannot arise from the builder; keep the rest as they are
            ordered.extend(pending)
            break
    return ordered


def _merge_by_name(rows: list[dict]) -> list[dict]:
    """Identical operators of different layer groups become one row with the summed count;
    same-named operators that differ keep distinct names (suffix ``[2]``, ``[3]``...)."""
    merged: list[dict] = []
    by_name: dict[str, list[dict]] = {}
    for row in rows:
        twins = by_name.setdefault(row["name"], [])
        match = next((t for t in twins if _same(t, row)), None)
        if match is not None:
            match["count"] += row["count"]
            match["inputs"] += tuple(i for i in row["inputs"] if i not in match["inputs"])
            continue
        row = dict(row)
        if twins:
            row["name"] = f"{row['name']}[{len(twins) + 1}]"
        twins.append(row)
        merged.append(row)
    return merged


@dataclass(frozen=True)
class Sizes:
    """Per-scenario sizes shared by every primitive: B sequences, T new tokens each, S KV length;
    bytes per element of weights (wb, with group scales), activations (ab), KV cache (kb) and
    recurrent states (sb: the SSM / delta-rule state; conv states are activations)."""

    B: np.ndarray
    T: np.ndarray
    S: np.ndarray
    wb: np.ndarray
    ab: np.ndarray
    kb: np.ndarray
    sb: np.ndarray
    # Graph options of the techniques (techniques/graph_options.py), None when all are off: how each
    # operator's weights are stored and multiplied (precision, sparsity, low rank) and how the
    # attention kernel reads K and V (tiling, split-KV, paged blocks).
    weights: object | None = None
    attention: object | None = None

    @property
    def M(self) -> np.ndarray:
        """Tokens processed by a token-wise operator: B * T."""
        return self.B * self.T

    def weight_of(self, name: str) -> tuple[np.ndarray, str]:
        """(bytes per stored weight element, compute role) of operator ``name``'s weights: the
        scenario's weights format, or what the techniques' weight options say for that operator."""
        return (self.wb, "weights") if self.weights is None else self.weights.weight_of(self, name)


def linear(ops: OpTableBuilder, sz: Sizes, name: str, count: int, d_in: int, d_out: int, bias: bool,
           *, tokens: np.ndarray | None = None, kv_out: int = 0, kind: str = "matmul", inputs=None) -> str:
    """y[M, d_out] = x[M, d_in] @ W[d_in, d_out] (+ b), M = B*T tokens (or ``tokens``): see linear_row.
    With the techniques' weight options (``sz.weights``), those decide the storage and the kernel
    (techniques/tensors.py)."""
    M = sz.M if tokens is None else tokens
    if sz.weights is not None:
        return sz.weights.linear(ops, sz, name, count, d_in, d_out, bias, M=M, kv_out=kv_out, kind=kind,
                                 inputs=inputs)
    return linear_row(ops, sz, name, count, d_in, d_out, bias, M=M, kv_out=kv_out, kind=kind, inputs=inputs)


def linear_row(ops: OpTableBuilder, sz: Sizes, name: str, count: int, d_in: int, d_out: int, bias: bool, *,
               M: np.ndarray, kv_out: int = 0, kind: str = "matmul", inputs=None, wb=None,
               compute: str = "weights", flops_factor=1.0) -> str:
    """y[M, d_out] = x[M, d_in] @ W[d_in, d_out] (+ b). FLOPs 2*M*d_in*d_out (+ M*d_out for the bias);
    reads W (d_in*d_out at wb, bias at ab) and x; writes y, of which the last ``kv_out`` columns go
    to the KV cache (at kb) instead of the activations. ``wb``: bytes per stored weight element (default
    the scenario's); ``compute``: the role that picks the peak; ``flops_factor``: the share of the
    multiply-adds a sparse kernel performs (techniques/sparsity.py)."""
    wb = sz.wb if wb is None else wb
    w_params = d_in * d_out
    b_params = d_out if bias else 0
    param_bytes = w_params * wb + b_params * sz.ab
    return ops.add(name, kind, count, compute=compute, inputs=inputs,
            shape={"kernel": "gemm", "m": M, "n": d_out, "k": d_in},
            flops=2.0 * flops_factor * M * d_in * d_out + M * b_params,
            weight_bytes=param_bytes, param_bytes=param_bytes, params=w_params + b_params,
            act_read=M * d_in * sz.ab, act_write=M * (d_out - kv_out) * sz.ab,
            kv_write=M * kv_out * sz.kb)


def norm(ops: OpTableBuilder, sz: Sizes, name: str, count: int, width: int, kind: str, bias: bool,
         *, tokens: np.ndarray | None = None, params: int | None = None, inputs=None) -> str:
    """RMSNorm / LayerNorm over ``width`` for M tokens: NORM_FLOPS per element; reads x and the
    weight (and bias) vector(s), writes y. Norm parameters are kept at activation precision.
    ``params``: the weight (and bias) elements when they are not one ``width``-wide vector each
    (a weight per head: StableLM); a weightless RMSNorm has none."""
    M = sz.M if tokens is None else tokens
    if params is None:
        params = 0 if kind == "weightless_rmsnorm" else width * (2 if bias else 1)
    return ops.add(name, "norm", count, flops=NORM_FLOPS[kind] * M * width, inputs=inputs,
            weight_bytes=params * sz.ab, param_bytes=params * sz.ab, params=params,
            act_read=M * width * sz.ab, act_write=M * width * sz.ab)


def elementwise(ops: OpTableBuilder, sz: Sizes, name: str, count: int, elements: np.ndarray,
                flops_per_element: float, reads: float, writes: float, kind: str = "elementwise",
                inputs=None) -> str:
    """An elementwise operator over ``elements`` outputs: reads ``reads`` and writes ``writes``
    activation elements per output element."""
    return ops.add(name, kind, count, flops=flops_per_element * elements, inputs=inputs,
            act_read=reads * elements * sz.ab, act_write=writes * elements * sz.ab)


def rope(ops: OpTableBuilder, sz: Sizes, count: int, rotated_per_token: int, inputs: tuple[str, ...],
         name: str = "rope") -> str:
    """Rotary embedding: 3 FLOPs per rotated element (x*cos + rot(x)*sin), read and write once."""
    return elementwise(ops, sz, name, count, sz.M * rotated_per_token, 3, 1, 1, inputs=inputs)


def communicate(plan, role: str, ops: OpTableBuilder, sz: Sizes, block, count: int, src: str, **info) -> str:
    """The deployment plan's communication operators after ``src`` (none without a plan, i.e. on one
    device); returns the operator that now produces the block's output. ``role`` says where the block
    sits (``parallel.plan.DevicePlan.after``); ``block`` is its mixer or feed-forward spec."""
    return src if plan is None else plan.after(role, ops, sz, block, count, src, **info)


def batched_linear(ops: OpTableBuilder, sz: Sizes, name: str, count: int, heads: int, d_in: int, d_out: int,
                   *, tokens: np.ndarray | None = None, inputs=None, weights_of: str | None = None) -> str:
    """Per-head projections y[M, h, d_out] = x[M, h, d_in] @ W[h, d_in, d_out] (MLA's absorbed
    W_UK / W_UV): FLOPs 2*M*h*d_in*d_out; reads W (h*d_in*d_out at wb) and x, writes y. The
    weights are another operator's parameters in a different layout (``weights_of``: kv_b_proj), so
    none are counted here; they are stored in that operator's format (Sizes.weight_of)."""
    M = sz.M if tokens is None else tokens
    w = heads * d_in * d_out
    wb, role = sz.weight_of(weights_of or name)
    return ops.add(name, "matmul", count, compute=role, inputs=inputs,
                   shape={"kernel": "bmm", "batch": heads, "m": M, "n": d_out, "k": d_in},
                   flops=2.0 * M * w, weight_bytes=w * wb, act_read=M * heads * d_in * sz.ab,
                   act_write=M * heads * d_out * sz.ab)
