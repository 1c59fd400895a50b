"""Fit the kernel curves on the measured tables and write params/<system>.json (needs the
``calibrate`` extra: pandas, pyarrow, scipy).

Each (system, engine, class, format) is fitted by robust least squares (scipy's soft-L1 loss,
scale 0.1) on log(predicted / measured), so every row counts by its relative error. Parameters are
mapped to their bounds by smooth transforms (exp for scales, a logistic for efficiencies, 1 + exp
for the knee) and the fit starts from one fixed point per class: the result is deterministic. A
``pooled`` fit joins the three engines' rows (the generic engine). Rows are thinned to at most
MAX_ROWS per fit by a fixed stride, which keeps a full refit to minutes.

``elementwise`` has no table of its own: it is fitted on the memory-bound GEMM rows (M <= 16,
K <= 1024: weight streaming with a short reduction, the closest measured kernel to a copy) and
marked as derived. MoE is fitted with its elementwise operators (routing, activation, combine)
at that derived curve.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from .curves import BOUNDS, Curve, Features, kernel_time
from .features import features
from .fitdata import FitSet

MAX_ROWS = 6000
# Free parameters per class (the rest keep Curve's defaults).
FREE = {
    "gemm": ("t0_s", "t1_s", "depth_half", "compute_eff", "memory_eff", "knee", "extra_bytes"),
    "bmm": ("t0_s", "t1_s", "depth_half", "compute_eff", "memory_eff", "knee", "extra_bytes"),
    "moe": ("t0_s", "t1_s", "depth_half", "compute_eff", "compute_half", "memory_eff", "knee", "item_s"),
    "attention_prefill": ("t0_s", "t1_s", "depth_half", "compute_eff", "compute_half", "memory_eff", "knee",
                          "item_s", "extra_bytes"),
    "mla_decode": ("t0_s", "t1_s", "depth_half", "compute_eff", "compute_half", "memory_eff", "memory_half",
                   "knee", "item_s"),
    "elementwise": ("t0_s", "memory_eff", "memory_half", "knee"),
}
FREE["mla_prefill"] = FREE["attention_prefill"]
FREE["attention_decode"] = FREE["mla_decode"] + ("item_overlap_s",)
# Kernel rules an engine's tables follow, fixed before the fit: TensorRT-LLM's decode attention runs
# XQA (one CTA per KV head) only for query-head groups of 2..32 and masked MHA (one CTA per query
# head) otherwise (TensorRT-LLM cpp/tensorrt_llm/kernels/decoderMaskedMultiheadAttention/
# decoderXQAImplJIT/kernelUtils.cpp: supportConfigCommon refuses vanilla MHA, supportConfigQGMMA /
# HMMA refuse head_grp_size > 32); the per-head kernel's own parameters are then fitted too.
RULES = {("trtllm", "attention_decode"): {"group_limit": 32.0}}
PER_HEAD_FREE = ("head_item_s", "reread", "head_memory_eff")
START = {"t0_s": 3e-6, "t1_s": 3e-6, "depth_half": 1000.0, "compute_eff": 0.7, "compute_half": 0.5,
         "memory_eff": 0.8, "memory_half": 0.01, "knee": 3.0, "item_s": 1e-6, "extra_bytes": 0.5,
         "item_overlap_s": 3e-6, "head_item_s": 1e-6, "reread": 0.5, "head_memory_eff": 0.8}
EFFICIENCIES = ("compute_eff", "memory_eff", "reread", "head_memory_eff")  # logistic maps onto their bounds


def _to_params(z: np.ndarray, names: tuple[str, ...], base: dict) -> dict:
    p = dict(base)
    for name, value in zip(names, z, strict=True):
        low, high = BOUNDS[name]
        if name in EFFICIENCIES:
            p[name] = low + (high - low) / (1.0 + np.exp(-value))
        elif name == "knee":
            p[name] = min(1.0 + np.exp(value), high)
        else:
            p[name] = float(np.clip(np.exp(value), low, high))
    return p


def _from_params(p: dict, names: tuple[str, ...]) -> np.ndarray:
    z = []
    for name in names:
        low, high = BOUNDS[name]
        v = p[name]
        if name in EFFICIENCIES:
            frac = (v - low) / (high - low)
            z.append(np.log(frac / (1.0 - frac)))
        elif name == "knee":
            z.append(np.log(max(v - 1.0, 1e-6)))
        else:
            z.append(np.log(max(v, 1e-30)))
    return np.array(z)


def predict(fs: FitSet, curve: Curve, rows=slice(None), feats=None) -> np.ndarray:
    """The modelled time of each row (s): the sum over its terms of count x calibrated time."""
    total = 0.0
    for j, term in enumerate(fs.terms):
        c = term.curve if term.curve is not None else curve
        f = feats[j] if feats is not None else _features(term, fs.sms, rows)
        total = total + term.count * kernel_time(c, term.compute_time[rows], term.memory_time[rows], f, fs.bandwidth)
    return total


def _features(term, sms: int, rows) -> Features:
    shape = None if term.shape is None else {k: v if isinstance(v, str) else v[rows] for k, v in term.shape.items()}
    return features(term.cls, shape, term.traffic[rows], sms)


def thin(n: int, limit: int = MAX_ROWS) -> np.ndarray:
    """A fixed, evenly spread subset of at most ``limit`` row indices."""
    return np.arange(n) if n <= limit else np.linspace(0, n - 1, limit).round().astype(int)


def fit(fs: FitSet, rows: np.ndarray | None = None) -> Curve:
    """The curve of one FitSet, fitted on ``rows`` (default: the thinned rows)."""
    from scipy.optimize import least_squares

    rows = thin(len(fs.measured)) if rows is None else rows
    base = {**Curve().to_dict(), **RULES.get((fs.kernels, fs.cls), {})}
    names = FREE[fs.cls] + (PER_HEAD_FREE if base["group_limit"] else ())
    feats = [_features(t, fs.sms, rows) for t in fs.terms]
    target = np.log(fs.measured[rows])

    def residuals(z):
        curve = Curve(**_to_params(z, names, base))
        return np.log(np.maximum(predict(fs, curve, rows, feats), 1e-12)) - target

    # t0 starts just below the fastest rows (2nd percentile, shared by the fitted operators):
    # the floor every kernel of the set pays.
    fitted_terms = sum(t.count for t in fs.terms if t.curve is None)
    floor = 0.8 * float(np.quantile(fs.measured[rows], 0.02)) / max(fitted_terms, 1.0)
    start = _from_params({**base, **START, "t0_s": float(np.clip(floor, 1e-7, 5e-4))}, names)
    result = least_squares(residuals, start, loss="soft_l1", f_scale=0.1, method="trf", max_nfev=400 * len(names))
    return Curve(**_to_params(result.x, names, base))


def errors(fs: FitSet, curve: Curve, rows=slice(None)) -> np.ndarray:
    """|predicted / measured - 1| per row."""
    return np.abs(predict(fs, curve, rows) / fs.measured[rows] - 1.0)


def entry(fs: FitSet, curve: Curve, derived: str = "") -> dict:
    e = errors(fs, curve)
    out = {"params": {k: float(f"{v:.6g}") for k, v in curve.to_dict().items()}, "rows": int(len(e)),
           "median_error": round(float(np.median(e)), 4), "p90_error": round(float(np.quantile(e, 0.9)), 4),
           "kernels": fs.sources}
    if derived:
        out["derived"] = derived
    return out


def pooled(sets: list[FitSet]) -> FitSet:
    """The generic engine's rows: for every shape measured by any of the engines, the fastest of
    them (a well-tuned server picks the best kernel it has). Rows are the same shape when all their
    roofline inputs agree."""
    first = sets[0]
    terms = []
    for j, t in enumerate(first.terms):
        group = [s.terms[j] for s in sets]
        shape = None if t.shape is None else {
            k: v if isinstance(v, str) else np.concatenate([g.shape[k] for g in group]) for k, v in t.shape.items()}
        terms.append(replace(t, shape=shape, compute_time=np.concatenate([g.compute_time for g in group]),
                             memory_time=np.concatenate([g.memory_time for g in group]),
                             traffic=np.concatenate([g.traffic for g in group])))
    measured = np.concatenate([s.measured for s in sets])
    columns = [a for t in terms for a in (t.compute_time, t.memory_time, t.traffic)]
    columns += [np.broadcast_to(v, measured.shape) for t in terms if t.shape is not None
                for v in t.shape.values() if not isinstance(v, str)]
    key = np.stack([np.round(np.log(np.maximum(np.asarray(a, dtype=np.float64), 1e-30)), 9) for a in columns], axis=1)
    _, first_row, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    best = np.full(len(first_row), np.inf)
    np.minimum.at(best, inverse.ravel(), measured)
    order = np.sort(first_row)  # keep the first occurrence of each shape, in table order
    rank = np.empty(len(first_row), dtype=int)
    rank[np.argsort(first_row)] = np.arange(len(first_row))
    best_sorted = np.empty_like(best)
    best_sorted[rank] = best

    def pick(t):
        shape = None if t.shape is None else {k: v if isinstance(v, str) else v[order] for k, v in t.shape.items()}
        return replace(t, shape=shape, compute_time=t.compute_time[order], memory_time=t.memory_time[order],
                       traffic=t.traffic[order])

    groups = np.concatenate([s.groups for s in sets])[order]
    return replace(first, kernels="pooled", measured=best_sorted, groups=groups,
                   terms=[pick(t) for t in terms], sources=sorted({k for s in sets for k in s.sources}))


def elementwise_set(gemm: FitSet) -> FitSet:
    """The memory-bound rows of a GEMM FitSet (M <= 16, K <= 1024) as elementwise kernels."""
    t = gemm.terms[0]
    keep = (t.shape["m"] <= 16) & (t.shape["k"] <= 1024)
    term = replace(t, cls="elementwise", shape=None, compute_time=t.compute_time[keep],
                   memory_time=t.memory_time[keep], traffic=t.traffic[keep])
    return replace(gemm, cls="elementwise", fmt="bf16", measured=gemm.measured[keep], groups=gemm.groups[keep],
                   terms=[term])


def write_params(path: Path, system: str, hardware: str, curves: dict) -> None:
    doc = {"system": system, "hardware": hardware,
           "source": "NVIDIA AIConfigurator kernel tables (ai-dynamo/aiconfigurator 095f58a, Apache-2.0); "
                     "fitted by `llm-roofline calibrate`",
           "curves": curves}
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


ELEMENTWISE_NOTE = "no elementwise table: the memory-bound GEMM rows (M <= 16, K <= 1024) of the {} tables"


def _with_pooled(sets: list[FitSet]) -> list[FitSet]:
    """The engines' sets followed, per (class, format), by the generic (pooled) set."""
    out, by_key = [], {}
    for fs in sets:
        by_key.setdefault((fs.cls, fs.fmt), []).append(fs)
    for group in by_key.values():
        out += group
        if len(group) > 1 and len({len(g.terms) for g in group}) == 1:
            out.append(pooled(group))
        elif len(group) == 1:
            out.append(replace(group[0], kernels="pooled"))
    return out


def fit_sets(root: Path, system: str) -> list[FitSet]:
    """Every FitSet of one system, the generic (pooled) ones included; the elementwise operators
    inside MoE layers carry their (fixed) elementwise curve."""
    from . import fitdata

    gemm = _with_pooled(fitdata.gemm_sets(root, system))
    elementwise = [elementwise_set(fs) for fs in gemm if fs.fmt == "bf16"]
    curves = {fs.kernels: fit(fs) for fs in elementwise}
    sets = gemm + elementwise
    for loader in (fitdata.attention_sets, fitdata.mla_sets, fitdata.bmm_sets):
        sets += _with_pooled(loader(root, system))
    moe = fitdata.moe_sets(root, system)
    for fs in moe:
        for term in fs.terms:
            if term.cls == "elementwise":
                term.curve = curves.get(fs.kernels, curves["pooled"])
    moe = _with_pooled(moe)
    for fs in moe:  # the pooled MoE sets: the generic elementwise curve
        if fs.kernels == "pooled":
            for term in fs.terms:
                if term.cls == "elementwise":
                    term.curve = curves["pooled"]
    return sets + moe


def fit_system(root: Path, system: str, progress=None) -> dict:
    """Every curve of one system: {kernels: {class: {format: entry}}} (see catalog.py)."""
    say = progress or (lambda text: None)
    curves: dict = {}
    for fs in fit_sets(root, system):
        say(f"{system} {fs.kernels} {fs.cls} {fs.fmt}: {len(fs.measured)} rows")
        derived = ELEMENTWISE_NOTE.format(fs.kernels) if fs.cls == "elementwise" else ""
        curves.setdefault(fs.kernels, {}).setdefault(fs.cls, {})[fs.fmt] = entry(fs, fit(fs), derived)
    return curves


def calibrate(root: Path, out: Path, systems=None, progress=None) -> list[Path]:
    """Refit every system's curves from the tables under ``root``; write ``out``/<system>.json."""
    from .catalog import FITTED

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for system in systems or FITTED:
        path = out / f"{system}.json"
        write_params(path, system, FITTED[system], fit_system(root, system, progress))
        written.append(path)
    return written
