"""Per-operator numbers of a whole generation: the prefill plus every one of the G decode steps.

With speculative decoding, the G / E verify steps (times summed exactly by the engine; FLOPs and bytes
those of the verify step at the reported KV length times the iterations) and one row for the draft
network (its exact time; FLOPs and bytes of its widest pass times the passes).

The engine sums each operator's decode time over the G steps in closed form
(``Generation.decode_s_per_op``) and gives the decode costs at KV length 0 and 1
(``Analysis.decode_at0`` / ``decode_at1``), from which :func:`llm_roofline.report.summed_over_steps`
sums FLOPs and bytes the same way. This adds the prefill and shapes the result for the page.
"""

from __future__ import annotations

from ..engine import Analysis
from ..report import summed_over_steps

FIELDS = ("flops", "bytes", "weight_bytes", "act_read_bytes", "act_write_bytes", "kv_read_bytes",
          "kv_write_bytes")


def whole_generation_ops(a: Analysis, i: int = 0) -> list[dict]:
    """One dict per operator (in the decode table's order, then prefill-only ones): the prefill and
    decode-sum parts of time, FLOPs and bytes, their totals, and the share of the end-to-end time."""
    sc = a.scenario
    at0, at1 = a.decode_at0.table, a.decode_at1.table
    t = at0
    decode_time = a.generation.decode_s_per_op[:, i]
    spec = a.techniques.speculative if a.techniques is not None else None
    if spec is None:
        sums = {f: summed_over_steps(getattr(at0, f)[:, i:i + 1], getattr(at1, f)[:, i:i + 1], at0.kv_window,
                                     sc.prompt_len[i:i + 1], sc.gen_len[i:i + 1], at0.kv_chunk)[:, 0] for f in FIELDS}
    else:  # G / E verify steps; their FLOPs and bytes taken at the reported KV length (times are exact sums)
        iterations = float(sc.gen_len[i]) / spec.tokens_per_iteration
        sums = {f: getattr(spec.verify.table, f)[:, i] * iterations for f in FIELDS}

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
    if spec is not None and spec.draft is not None:  # the draft network's passes, as one row
        d, dt = spec.draft.table, float(spec.draft_decode_s[i] + spec.draft_prefill_s[i])
        iterations = float(sc.gen_len[i]) / spec.tokens_per_iteration
        passes = len(a.techniques.settings.speculative.draft_passes()) * iterations  # FLOPs, bytes: widest pass's
        vals = {f: float((getattr(d, f)[:, i] * d.counts).sum()) * passes for f in FIELDS}
        out.append({"name": "draft (every pass)", "kind": "draft", "count": 1, **vals,
                    "activation_bytes": vals["act_read_bytes"] + vals["act_write_bytes"],
                    "kv_cache_bytes": vals["kv_read_bytes"] + vals["kv_write_bytes"],
                    "arithmetic_intensity": vals["flops"] / vals["bytes"] if vals["bytes"] > 0 else 0.0,
                    "performance_flops_per_s": vals["flops"] / dt if dt > 0 else 0.0,
                    "bound": "memory", "time_s": dt, "prefill_time_s": float(spec.draft_prefill_s[i]),
                    "decode_time_s": float(spec.draft_decode_s[i]), "time_share": dt / e2e if e2e > 0 else 0.0,
                    "iterations": iterations})
    return out

