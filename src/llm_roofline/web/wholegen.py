"""Per-operator numbers of a whole generation: the prefill plus every one of the G decode steps.

The engine reports whole-generation totals (TTFT, e2e); the page's "whole generation" stage also
needs each operator's share. This uses the engine's own closed-form step sum
(:func:`llm_roofline.generation.windowed_step_sum`) on the engine's decode costs at KV length 0
and 1 (windows ignored), exactly as :func:`llm_roofline.report.generation` does, but keeps the
per-operator values: a test pins sum(count x decode time) to the engine's ``e2e - ttft``.

FLOPs and bytes of one decode step are affine in the keys an operator sees, min(S, W), so their
sums over S = P+1 .. P+G use the same series with both lines equal.
"""

from __future__ import annotations

import numpy as np

from ..engine import Analysis
from ..generation import windowed_step_sum
from ..graph import build_ops
from ..roofline import roofline
from ..scenario import tiled

FIELDS = ("flops", "bytes", "weight_bytes", "act_read_bytes", "act_write_bytes", "kv_read_bytes",
          "kv_write_bytes")


def _decode_coefficients(a: Analysis):
    sc = a.scenario
    pair = tiled(sc, 2)
    n = sc.size
    costs = roofline(build_ops(a.model, pair, "decode", T=np.ones(2 * n), S=np.repeat([0.0, 1.0], n),
                               apply_window=False), pair, a.hardware, a.efficiency)
    return costs, n


def whole_generation_ops(a: Analysis, i: int = 0) -> list[dict]:
    """One dict per operator (in the decode table's order): the prefill and decode-sum parts of
    time, FLOPs and bytes, their totals, and the share of the end-to-end time."""
    costs, n = _decode_coefficients(a)
    sc = a.scenario
    t = costs.table
    P, G = float(sc.prompt_len[i]), float(sc.gen_len[i])
    first, last = P + 1.0, P + G
    window = t.kv_window
    j0, j1 = i, n + i  # columns at S = 0 and S = 1 for scenario i

    def series(v0: np.ndarray, v1: np.ndarray) -> np.ndarray:
        return windowed_step_sum(first, last, window, v0, v1 - v0, v0, v1 - v0) if G > 0 else np.zeros_like(v0)

    c0, c1 = costs.compute_time_s[:, j0], costs.compute_time_s[:, j1] - costs.compute_time_s[:, j0]
    m0, m1 = costs.memory_time_s[:, j0], costs.memory_time_s[:, j1] - costs.memory_time_s[:, j0]
    decode_time = windowed_step_sum(first, last, window, c0, c1, m0, m1) if G > 0 else np.zeros_like(c0)
    works = (t.flops[:, j0] > 0) | (t.bytes[:, j0] > 0) | (t.flops[:, j1] > 0) | (t.bytes[:, j1] > 0)
    decode_time = decode_time + np.where(works, a.efficiency.kernel_overhead_s, 0.0) * G
    sums = {f: series(getattr(t, f)[:, j0], getattr(t, f)[:, j1]) for f in FIELDS}

    prefill = {name: k for k, name in enumerate(a.prefill.table.names)}
    decode_step = {name: k for k, name in enumerate(a.decode.table.names)}
    e2e = float(a.generation.e2e_s[i])
    out = []
    for k, name in enumerate(t.names):
        p = prefill.get(name)
        pt = a.prefill.table
        pre = {f: float(getattr(pt, f)[p, i]) if p is not None else 0.0 for f in FIELDS}
        pre_time = float(a.prefill.time_s[p, i]) if p is not None else 0.0
        total = {f: pre[f] + float(sums[f][k]) for f in FIELDS}
        time = pre_time + float(decode_time[k])
        count = int(t.counts[k])
        d = decode_step.get(name)
        if pre_time >= float(decode_time[k]) and p is not None:
            bound = "compute" if a.prefill.compute_bound[p, i] else "memory"
        elif d is not None:
            bound = "compute" if a.decode.compute_bound[d, i] else "memory"
        else:
            bound = "memory"
        flops, traffic = total["flops"], total["bytes"]
        out.append({
            "name": name, "kind": t.kinds[k], "count": count, **total,
            "activation_bytes": total["act_read_bytes"] + total["act_write_bytes"],
            "kv_cache_bytes": total["kv_read_bytes"] + total["kv_write_bytes"],
            "arithmetic_intensity": flops / traffic if traffic > 0 else 0.0,
            "performance_flops_per_s": flops / time if time > 0 else 0.0,
            "bound": bound, "time_s": time, "prefill_time_s": pre_time, "decode_time_s": float(decode_time[k]),
            "time_share": time * count / e2e if e2e > 0 else 0.0,
        })
    # Prefill-only operators (MLA's kv_b_proj: decode uses the absorbed form) keep their prefill numbers.
    names = set(t.names)
    for p, name in enumerate(a.prefill.table.names):
        if name in names:
            continue
        pt = a.prefill.table
        time = float(a.prefill.time_s[p, i])
        vals = {f: float(getattr(pt, f)[p, i]) for f in FIELDS}
        out.append({"name": name, "kind": pt.kinds[p], "count": int(pt.counts[p]), **vals,
                    "activation_bytes": vals["act_read_bytes"] + vals["act_write_bytes"],
                    "kv_cache_bytes": vals["kv_read_bytes"] + vals["kv_write_bytes"],
                    "arithmetic_intensity": float(a.prefill.arithmetic_intensity[p, i]),
                    "performance_flops_per_s": float(a.prefill.performance_flops_per_s[p, i]),
                    "bound": "compute" if a.prefill.compute_bound[p, i] else "memory", "time_s": time,
                    "prefill_time_s": time, "decode_time_s": 0.0,
                    "time_share": time * int(pt.counts[p]) / e2e if e2e > 0 else 0.0})
    return out


def check_against_engine(a: Analysis, i: int = 0) -> tuple[float, float]:
    """(sum of count x time over operators, the engine's e2e) for tests."""
    ops = whole_generation_ops(a, i)
    return sum(op["time_s"] * op["count"] for op in ops), float(a.generation.e2e_s[i])

