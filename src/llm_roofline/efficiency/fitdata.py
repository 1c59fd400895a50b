"""Measured kernel tables -> the engine's own roofline inputs, for fitting (needs pandas + pyarrow).

Every table row is rebuilt with the engine's primitives (ops.linear, attention.attention_core,
ffn.moe) and placed on the datasheet roofline by roofline.roofline, so the fit sees exactly the
FLOPs, bytes, shapes and precision rules that an analysis later uses. Rows are grouped by the
shape parameters the primitives take as integers (N and K of a GEMM, the head layout of an
attention kernel, the expert layout of an MoE layer) and vectorized within a group.

Tables (NVIDIA AIConfigurator, Apache-2.0; see params/NOTICE): ``<system>/<op>/<engine>/<version>``
with latencies in milliseconds. Kept: GEMM (all rows), context / generation attention, context /
generation MLA, MLA BMM, and MoE rows on one GPU (tensor-parallel rows as their per-GPU shapes;
no expert parallelism) with the routing distribution MOE_ROUTING (balanced; see there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..attention import attention_core
from ..ffn import moe as moe_block
from ..graph import sizes_for
from ..hardware.catalog import load_hardware
from ..hardware.spec import IDEAL
from ..models.spec import MLP, Attention, Layer, LayerGroup, ModelSpec, MoE
from ..ops import OpTableBuilder, batched_linear, linear
from ..roofline import roofline
from ..scenario import Scenario
from .catalog import FITTED
from .features import kernel_classes

ENGINES = ("trtllm", "vllm", "sglang")
MS = 1e-3
# Table quant mode -> (w_bits, a_bits, group_size) in the engine's named formats.
GEMM_FORMATS = {
    "bfloat16": ("bf16", "bf16", 0, "bf16"), "fp8": ("fp8-tensor", "fp8", 0, "fp8"),
    "fp8_block": ("fp8-block", "fp8", 0, "fp8_block"), "int4_wo": ("int4", "bf16", 0, "int4_wo"),
    "int8_wo": ("int8", "bf16", 0, "int8_wo"), "sq": ("int8", "int8", 0, "int8"),
    "nvfp4": ("nvfp4", "nvfp4", 0, "nvfp4"), "w4a16_mxfp4": ("mxfp4", "bf16", 0, "mxfp4"),
}
ATTENTION_FORMATS = {("bfloat16", "bfloat16"): "bf16", ("bfloat16", "fp8"): "fp8_kv", ("fp8", "fp8"): "fp8"}


@dataclass
class Term:
    """One operator of the modelled kernel, over all rows: its class, roofline times, traffic,
    shape and count. ``curve``: a fixed curve (a term not being fitted), else None."""

    cls: str
    count: float
    compute_time: np.ndarray
    memory_time: np.ndarray
    traffic: np.ndarray
    shape: dict | None
    curve: object = None


@dataclass
class FitSet:
    """The rows of one system x engine x class x format: measured seconds and the terms whose
    calibrated times sum to the prediction. ``groups``: a shape label per row (cross-validation)."""

    system: str
    kernels: str
    cls: str
    fmt: str
    measured: np.ndarray
    groups: np.ndarray
    terms: list[Term]
    bandwidth: float
    sms: int
    sources: list[str] = field(default_factory=list)


def table_dirs(root: Path, system: str, op: str, engines=ENGINES) -> dict[str, Path]:
    """engine -> the (newest) version folder of ``op`` for ``system``."""
    out = {}
    for engine in engines:
        versions = sorted((root / system / op / engine).glob("*"))
        if versions:
            out[engine] = versions[-1]
    return out


def _read(path: Path):
    import pandas as pd

    return pd.read_parquet(path)


def _rows_to_terms(table, costs, n: int, keep) -> list[Term]:
    terms = []
    for i, shape in enumerate(table.shapes):
        if not keep(shape):
            continue
        full = None if shape is None else {k: v if isinstance(v, str) else np.broadcast_to(
            np.asarray(v, dtype=np.float64), (n,)).copy() for k, v in shape.items()}
        terms.append(Term(cls=str(kernel_classes(shape, n)[0]), count=float(table.counts[i]),
                          compute_time=costs.compute_time_s[i].copy(), memory_time=costs.memory_time_s[i].copy(),
                          traffic=table.bytes[i].copy(), shape=full))
    return terms


def _concat(parts: list[list[Term]]) -> list[Term]:
    """Join the terms of several row groups (same operators in the same order)."""
    out = []
    for j, first in enumerate(parts[0]):
        group = [p[j] for p in parts]
        shape = None if first.shape is None else {
            k: v if isinstance(v, str) else np.concatenate([g.shape[k] for g in group]) for k, v in first.shape.items()}
        out.append(Term(cls=first.cls, count=first.count, shape=shape,
                        compute_time=np.concatenate([g.compute_time for g in group]),
                        memory_time=np.concatenate([g.memory_time for g in group]),
                        traffic=np.concatenate([g.traffic for g in group])))
    return out


def _scenario(n: int, w, a, kv, group_size: int, batch) -> Scenario:
    return Scenario.build(batch_size=batch, prompt_len=1, w_bits=w, a_bits=a, kv_bits=kv, group_size=group_size)


def gemm_sets(root: Path, system: str, engines=ENGINES) -> list[FitSet]:
    """GEMM rows: y[m, n] = x[m, k] W[k, n] through ops.linear."""
    hw = load_hardware(FITTED[system])
    sets = []
    for engine, folder in table_dirs(root, system, "gemm", engines).items():
        df = _read(folder / "gemm_perf.parquet")
        for dtype, rows in df.groupby("gemm_dtype"):
            if dtype not in GEMM_FORMATS:
                continue
            w, a, gs, fmt = GEMM_FORMATS[dtype]
            parts, measured, labels = [], [], []
            for (n_out, k_in), g in rows.groupby(["n", "k"]):
                m = g["m"].to_numpy(np.float64)
                sc = _scenario(len(m), w, a, 16, gs, m)
                ops = OpTableBuilder(n=len(m))
                linear(ops, sizes_for(sc, np.ones_like(m), np.zeros_like(m)), "gemm", 1, int(k_in), int(n_out), False)
                table = ops.build()
                parts.append(_rows_to_terms(table, roofline(table, sc, hw, IDEAL), len(m), lambda s: True))
                measured.append(g["latency"].to_numpy() * MS)
                labels += [f"{n_out}x{k_in}"] * len(m)
            sets.append(FitSet(system, engine, "gemm", fmt, np.concatenate(measured), np.array(labels),
                               _concat(parts), hw.memory_bandwidth_bytes_per_s, int(hw.sm_count),
                               sorted(rows["kernel_source"].unique())))
    return sets


def _attention_terms(hw, B, T, S, *, heads, kv_heads, qk_dim, v_dim, window, a_bits, kv_bits, mla_prefill=False,
                     shared_kv=False, kernel="attention") -> list[Term]:
    """The fused attention operator of one head layout over rows (B, T, S), through attention_core."""
    sc = Scenario.build(batch_size=B, prompt_len=1, a_bits=a_bits, kv_bits=kv_bits, group_size=0)
    ops = OpTableBuilder(n=len(B))
    attention_core(ops, sizes_for(sc, T, S), 1, heads=heads, kv_heads=kv_heads, qk_dim=qk_dim, v_dim=v_dim,
                   window=window, flash=True, kv_from_cache=not mla_prefill, shared_kv=shared_kv, kernel=kernel)
    table = ops.build()
    return _rows_to_terms(table, roofline(table, sc, hw, IDEAL), len(B), lambda s: True)


def _dtype(name: str) -> str:
    return "fp8" if name == "fp8" else "bf16"


def attention_sets(root: Path, system: str, engines=ENGINES) -> list[FitSet]:
    """Context (prefill: T = S = isl, causal) and generation (decode: T = 1, S = isl + step)
    attention rows; window_size <= 0 means none."""
    hw = load_hardware(FITTED[system])
    sets = []
    for engine, folder in table_dirs(root, system, "attention", engines).items():
        for phase, cls in (("context", "attention_prefill"), ("generation", "attention_decode")):
            df = _read(folder / f"{phase}_attention_perf.parquet")
            if "window_size" not in df:
                df["window_size"] = 0
            for (a_dt, kv_dt), rows in df.groupby(["attn_dtype", "kv_cache_dtype"]):
                fmt = ATTENTION_FORMATS.get((a_dt, kv_dt))
                if fmt is None:
                    continue
                parts, measured, labels = [], [], []
                for (N, K, d, w), g in rows.groupby(["num_heads", "num_key_value_heads", "head_dim", "window_size"]):
                    B = g["batch_size"].to_numpy(np.float64)
                    isl = g["isl"].to_numpy(np.float64)
                    step = g["step"].to_numpy(np.float64)
                    T, S = (isl, isl) if phase == "context" else (np.ones_like(isl), isl + step)
                    parts.append(_attention_terms(hw, B, T, S, heads=int(N), kv_heads=int(K), qk_dim=int(d),
                                                  v_dim=int(d), window=float(w) if w > 0 else np.inf,
                                                  a_bits=_dtype(a_dt), kv_bits=_dtype(kv_dt)))
                    measured.append(g["latency"].to_numpy() * MS)
                    labels += [f"{N}/{K}x{d}"] * len(g)
                sets.append(FitSet(system, engine, cls, fmt, np.concatenate(measured), np.array(labels),
                                   _concat(parts), hw.memory_bandwidth_bytes_per_s, int(hw.sm_count),
                                   sorted(rows["kernel_source"].unique())))
    return sets


# DeepSeek-V3's latent attention (the MLA tables' model): kv_lora_rank 512, rope 64, nope 128, v 128.
MLA_DIMS = {"rank": 512, "rope": 64, "nope": 128, "v": 128}


def mla_sets(root: Path, system: str, engines=ENGINES) -> list[FitSet]:
    """MLA kernels as graph._latent_attention builds them: prefill attends over decompressed K/V
    (N heads, d_qk = nope + rope, d_v = v); decode over the cached latent (one shared KV head,
    d_qk = rank + rope, d_v = rank). ``num_heads`` is the heads on one GPU."""
    hw = load_hardware(FITTED[system])
    r, rope, nope, v = MLA_DIMS["rank"], MLA_DIMS["rope"], MLA_DIMS["nope"], MLA_DIMS["v"]
    sets = []
    for engine, folder in table_dirs(root, system, "mla", engines).items():
        for phase, cls in (("context", "mla_prefill"), ("generation", "mla_decode")):
            path = folder / f"{phase}_mla_perf.parquet"
            if not path.exists():
                continue
            df = _read(path)
            for kv_dt, rows in df.groupby("kv_cache_dtype"):
                fmt = "bf16" if kv_dt == "bfloat16" else "fp8_kv"
                parts, measured, labels = [], [], []
                for N, g in rows.groupby("num_heads"):
                    B = g["batch_size"].to_numpy(np.float64)
                    isl = g["isl"].to_numpy(np.float64)
                    if phase == "context":
                        terms = _attention_terms(hw, B, isl, isl, heads=int(N), kv_heads=int(N), qk_dim=nope + rope,
                                                 v_dim=v, window=np.inf, a_bits="bf16", kv_bits=_dtype(kv_dt),
                                                 mla_prefill=True, kernel="mla")
                    else:
                        S = isl + g["step"].to_numpy(np.float64)
                        terms = _attention_terms(hw, B, np.ones_like(S), S, heads=int(N), kv_heads=1,
                                                 qk_dim=r + rope, v_dim=r, window=np.inf, a_bits="bf16",
                                                 kv_bits=_dtype(kv_dt), shared_kv=True, kernel="mla")
                    parts.append(terms)
                    measured.append(g["latency"].to_numpy() * MS)
                    labels += [f"{N}"] * len(g)
                sets.append(FitSet(system, engine, cls, fmt, np.concatenate(measured), np.array(labels),
                                   _concat(parts), hw.memory_bandwidth_bytes_per_s, int(hw.sm_count),
                                   sorted(rows["kernel_source"].unique())))
    return sets


def bmm_sets(root: Path, system: str, engines=ENGINES) -> list[FitSet]:
    """MLA's absorbed projections (mla_bmm): per head, [tokens, nope] x [nope, rank] before attention
    (mla_gen_pre) and [tokens, rank] x [rank, v] after it (mla_gen_post), as graph.py's q_absorb and
    out_absorb operators (batched matmuls with weights)."""
    hw = load_hardware(FITTED[system])
    r, nope, v = MLA_DIMS["rank"], MLA_DIMS["nope"], MLA_DIMS["v"]
    sets = []
    for engine, folder in table_dirs(root, system, "mla_bmm", engines).items():
        df = _read(folder / "mla_bmm_perf.parquet")
        for dt, rows in df.groupby("bmm_dtype"):
            w, a, gs, fmt = GEMM_FORMATS["bfloat16" if dt == "bfloat16" else "fp8_block"]
            parts, measured, labels = [], [], []
            for (op, N), g in rows.groupby(["op_name", "num_heads"]):
                m = g["num_tokens"].to_numpy(np.float64)
                d_in, d_out = (nope, r) if op == "mla_gen_pre" else (r, v)
                sc = _scenario(len(m), w, a, 16, gs, m)
                sz = sizes_for(sc, np.ones_like(m), np.zeros_like(m))
                ops = OpTableBuilder(n=len(m))
                batched_linear(ops, sz, str(op), 1, int(N), d_in, d_out)
                table = ops.build()
                parts.append(_rows_to_terms(table, roofline(table, sc, hw, IDEAL), len(m), lambda s: True))
                measured.append(g["latency"].to_numpy() * MS)
                labels += [f"{op}:{N}"] * len(g)
            sets.append(FitSet(system, engine, "bmm", fmt, np.concatenate(measured), np.array(labels),
                               _concat(parts), hw.memory_bandwidth_bytes_per_s, int(hw.sm_count),
                               sorted(rows["kernel_source"].unique())))
    return sets


# The tables' routing distribution the MoE curves are fitted on. The tables hold every shape with
# tokens routed evenly ("balanced") and by a power law over the experts ("power_law_1.01",
# "power_law_1.2": a few experts take most tokens). AIConfigurator, which measured them, prices MoE
# with power-law routing by default (ai-dynamo/aiconfigurator src/aiconfigurator/sdk/config.py,
# ModelConfig.workload_distribution = "power_law", "power_law_1.01" for its MoE models, 1.2 for
# Qwen3.5). Fitted on power_law_1.01 instead, the MoE curves' grouped CV median is 9.6 % (balanced
# 9.7 %), but serving-dev.csv's calibrated TTFT stays at 26.3 % (held out 28.5 / 28.4 %, balanced
# 28.4 / 28.3 %) and TPOT worsens from 14.3 to 15.4 % (held out 16.2 / 15.5 %, balanced 15.2 / 15.5 %):
# skewed rows are faster at small token counts (fewer distinct experts), which makes decode too fast.
# Balanced stays; the A100 TensorRT-LLM and vLLM tables, which hold only power-law rows, are unused.
MOE_ROUTING = "balanced"
MOE_FORMATS = {"bfloat16": "bfloat16", "fp8": "fp8", "fp8_block": "fp8_block", "int4_wo": "int4_wo",
               "w4a16_mxfp4": "w4a16_mxfp4"}


def moe_sets(root: Path, system: str, engines=ENGINES) -> list[FitSet]:
    """Fused MoE layers on one GPU (moe_ep_size 1; tensor-parallel rows as their per-GPU width),
    routed by MOE_ROUTING: ffn.moe's operators without the router GEMM (routing, the expert GEMMs,
    activation, combine). Gated (SwiGLU) unless the kernel says ``nongated``. int4_wo is GPTQ-style
    (group 128)."""
    hw = load_hardware(FITTED[system])
    sets = []
    for engine, folder in table_dirs(root, system, "moe", engines).items():
        path = folder / "moe_perf.parquet"
        if not path.exists():
            continue
        df = _read(path)
        df = df[(df["moe_ep_size"] == 1) & (df["distribution"] == MOE_ROUTING)]
        for dt, rows in df.groupby("moe_dtype"):
            if dt not in MOE_FORMATS:
                continue
            w, a, gs, fmt = GEMM_FORMATS[MOE_FORMATS[dt]]
            if dt == "int4_wo":
                w = "gptq"
            parts, measured, labels = [], [], []
            keys = ["hidden_size", "inter_size", "num_experts", "topk", "moe_tp_size", "kernel_source"]
            for (H, inter, E, k, tp, src), g in rows.groupby(keys):
                m = g["num_tokens"].to_numpy(np.float64)
                spec = MoE(num_experts=int(E), top_k=int(k), expert_intermediate_size=int(inter) // int(tp),
                           gated="nongated" not in src, activation="silu" if "nongated" not in src else "relu2")
                layer = Layer(mixer=Attention(1, 1, 1), ffn=MLP(1, gated=True))
                model = ModelSpec(name="moe", model_type="mixtral", hidden_size=int(H), vocab_size=2,
                                  layer_groups=(LayerGroup(layer, 1),))
                sc = _scenario(len(m), w, a, 16, gs, m)
                ops = OpTableBuilder(n=len(m))
                moe_block(ops, sizes_for(sc, np.ones_like(m), np.zeros_like(m)), model, spec, 1, "x")
                table = ops.build()
                parts.append(_rows_to_terms(table, roofline(table, sc, hw, IDEAL), len(m),
                                            lambda s: s is None or s["kernel"] != "gemm"))
                measured.append(g["latency"].to_numpy() * MS)
                labels += [f"{H}x{inter // tp}x{E}k{k}"] * len(g)
            # groups with different gating have different operators: keep the most common structure
            sizes = {}
            for p in parts:
                sizes[len(p)] = sizes.get(len(p), 0) + 1
            common = max(sizes, key=sizes.get)
            keep = [i for i, p in enumerate(parts) if len(p) == common]
            lab = np.array(labels)
            bounds = np.cumsum([0] + [len(x) for x in measured])
            idx = np.concatenate([np.arange(bounds[i], bounds[i + 1]) for i in keep])
            sets.append(FitSet(system, engine, "moe", fmt, np.concatenate([measured[i] for i in keep]), lab[idx],
                               _concat([parts[i] for i in keep]), hw.memory_bandwidth_bytes_per_s,
                               int(hw.sm_count), sorted(rows["kernel_source"].unique())))
    return sets
