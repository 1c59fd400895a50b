"""Plain-text reports of serving simulations and deployment searches (the CLI's table format)."""

from __future__ import annotations

from .units import seconds, si


def _rate(value) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _layout(d: dict, prefix: str) -> str:
    """A worker's devices, e.g. " of tp 2 x ep 2", " of tp 4 x pp 2"; nothing for one device."""
    if f"{prefix}tp" not in d:
        return ""
    parts = [f"{name.replace('_', '-')} {d[prefix + name]}" for name in ("tp", "ep", "attention_dp", "pp")
             if d.get(prefix + name, 1) > 1]
    return " of " + " x ".join(parts)


def _per_micro_batch(d: dict) -> str:
    """" per micro-batch" when a worker is pipelined (its budget applies to each micro-batch)."""
    return " per micro-batch" if any(d.get(f"{p}pp", 1) > 1 for p in ("", "prefill_", "decode_")) else ""


def overhead_text(profile: dict | None) -> str:
    """A serving profile's frontend time as the reports print it: "20 ms request overhead + 15 us per prompt
    token in TTFT", with ", set by the user" when the user replaced the fitted one (its ``source``); "" without
    one."""
    from .serving.profiles import USER_OVERHEAD_SOURCE

    profile = profile or {}
    overhead = profile.get("request_overhead_s") or 0.0
    per_token = profile.get("prompt_token_s") or 0.0
    by_user = str(profile.get("source", "")).startswith(USER_OVERHEAD_SOURCE)
    if not overhead and not per_token and not by_user:
        return ""
    tokens = f" + {per_token * 1e6:.3g} us per prompt token" if per_token else ""
    return f"{seconds(overhead)} request overhead{tokens} in TTFT" + (", set by the user" if by_user else "")


def render_simulation(report) -> str:
    r, d, w, s = report.simulation, report.deployment, report.workload, report.scheduler
    gpus = f"{d['gpus']} GPU{'s' if d['gpus'] > 1 else ''}"
    if d["mode"] == "agg":
        pools = f"aggregated, {d['workers']} worker{'s' if d['workers'] > 1 else ''}{_layout(d, '')} ({gpus})"
    else:
        pools = (f"disaggregated, {d['prefill_workers']} prefill{_layout(d, 'prefill_')} + {d['decode_workers']} "
                 f"decode workers{_layout(d, 'decode_')} ({gpus}), KV over "
                 f"{si(d['link_bandwidth_bytes_per_s'], 'B/s')}")
    chunk = "budget" if s["chunk"] is None else f"{s['chunk']}"
    e = report.efficiency
    setting = f" (calibrated, {e['engine']})" if e.get("mode") == "calibrated" else ""
    overhead = overhead_text(e.get("serving_profile"))
    if overhead:  # the frontend's latency, in every TTFT and end to end (serving/simulate.py)
        setting = f"{setting[:-1]}; {overhead})"
    lines = [f"{report.model['name']} on {report.hardware['name']}{setting}: {w['arrivals']}; {w['requests']} "
             f"requests of "
             f"{w['mean_input_tokens']:,.0f} -> {w['mean_output_tokens']:,.0f} tokens (mean)",
             f"{pools}; scheduler: {s['max_batch_tokens']} tokens/iteration{_per_micro_batch(d)}, "
             f"{s['max_seqs']} running, chunk "
             f"{chunk}, KV blocks of {s['block_size']}",
             "",
             f"{'':<8}{'mean':>11}{'p50':>11}{'p90':>11}{'p99':>11}"]
    for label, dist in (("TTFT", r.ttft_s), ("TPOT", r.tpot_s), ("ITL", r.itl_s), ("E2E", r.e2e_s)):
        lines.append(f"{label:<8}" + "".join(f"{seconds(getattr(dist, q)):>11}" for q in ("mean", "p50", "p90", "p99")))
    lines += ["",
              f"throughput  {r.requests_per_s:,.2f} requests/s; output {_rate(r.output_tokens_per_s)} tokens/s "
              f"({_rate(r.output_tokens_per_s_per_gpu)} per GPU, {_rate(r.output_tokens_per_s_per_user)} per user); "
              f"input {_rate(r.input_tokens_per_s)} tokens/s",
              f"KV cache    {r.kv_capacity_tokens:,.0f} tokens ({si(r.kv_budget_bytes, 'B')}); occupancy mean "
              f"{r.kv_mean_occupancy:.0%}, peak {r.kv_peak_occupancy:.0%}; {r.requests_waited_for_kv} requests "
              f"waited for KV memory, {r.preemptions} preemptions",
              f"simulated   {r.iterations:,} iterations over {seconds(r.duration_s)}"]
    if r.kv_transfer_s is not None:
        lines.append(f"KV transfer mean {seconds(r.kv_transfer_s.mean)} per request")
    st = report.steady
    if st is not None:
        lines.append(f"closed form TTFT {seconds(st['ttft_s'])}, TPOT {seconds(st['tpot_s'])}, "
                     f"{_rate(st['requests_per_s'])} requests/s (steady state at the mean lengths; limited by "
                     f"{st['limited_by']})")
    return "\n".join(lines) + "\n"


def layout_text(row: dict) -> str:
    """A worker's layout: "tp4", "adp8 ep8" (attention DP, expert parallelism), "tp4 pp2" (pipeline
    stages); "" for one device."""
    parts = [f"{name}{row[key]}" for name, key in (("tp", "tp"), ("adp", "attention_dp"), ("ep", "ep"), ("pp", "pp"))
             if row.get(key, 1) > 1]
    return " ".join(parts)


def _config(row: dict, compact: bool = False) -> str:
    if row["mode"] == "agg":
        where = f"agg x{row.get('workers', row['gpus'])}"
    else:
        where = f"disagg {row['prefill_workers']}P+{row['decode_workers']}D"
    layout = layout_text(row)
    where = f"{where} {layout}" if layout else where
    chunk = "" if row.get("chunk") is None else f" chunk {row['chunk']}"
    if compact:
        return f"{where}, {row['format']}, {row['max_batch_tokens']} tokens/iteration{chunk}"
    return f"{where:<24}{row['format']:<10}{row['max_batch_tokens']:>6}{chunk}"


def render_plan(result, *, model: str, device: str, max_rate: bool = False) -> str:
    slo = result.slo
    goals = ", ".join(f"{k} <= {seconds(v)}" for k, v in (("TTFT", slo.ttft_s), ("TPOT", slo.tpot_s)) if v) or "none"
    search = result.search
    profile = result.serving_profile
    overhead = overhead_text(profile)
    setting = f" (calibrated, {profile['engine']}{'; ' + overhead if overhead else ''})" if profile else ""
    lines = [f"{model} on {result.gpus} x {device}{setting}: {result.isl:,.0f} -> {result.osl:,.0f} tokens; "
             f"SLOs: {goals}",
             f"searched {search['configurations']} configurations, {search['points']} points in "
             f"{search['seconds']:.2f} s ({search['processes']} process{'es' if search['processes'] > 1 else ''})",
             "", "Pareto front (tokens/s per GPU vs tokens/s per user):",
             f"  {'configuration':<46}{'batch':>7}{'tok/s/GPU':>11}{'tok/s/user':>11}{'TTFT':>10}{'TPOT':>10}  SLO"]
    cols = result.columns
    ok = slo.met(cols["ttft_s"], cols["tpot_s"])
    for i in result.pareto.tolist():
        row = result.row(i)
        lines.append(f"  {_config(row):<46}{row['batch']:>7g}{row['tokens_per_s_per_gpu']:>11,.0f}"
                     f"{row['tokens_per_s_per_user']:>11,.1f}{seconds(row['ttft_s']):>10}{seconds(row['tpot_s']):>10}"
                     f"  {'ok' if ok[i] else '-'}")
    lines.append("")
    if result.best is None and not len(result.pareto):
        lines.append("best under the SLOs: none: no configuration could be evaluated (each is skipped below, with "
                     "the reason)")
    elif result.best is None:
        lines.append("best under the SLOs: none of the configurations meets them")
    else:
        b = result.row(result.best)
        lines.append(f"best under the SLOs: {_config(b, True)}, batch {b['batch']:g} per worker: "
                     f"{b['tokens_per_s_per_gpu']:,.0f} tokens/s per GPU, {b['tokens_per_s_per_user']:,.1f} per user, "
                     f"TTFT {seconds(b['ttft_s'])}, TPOT {seconds(b['tpot_s'])}, {b['requests_per_s']:,.2f} requests/s")
    if max_rate:
        rate = result.max_rate_at_slo
        lines.append("largest rate at the SLOs: " + ("none" if rate is None else f"{rate:,.2f} requests/s "
                                                     f"on {result.gpus} devices (closed-loop steady state)"))
    if result.target is not None:
        t = result.target
        if t.get("gpus") is None:
            lines.append(f"target {t['target_rate_per_s']:g} requests/s: {t['reason']}")
        else:
            p = t["point"]
            size = p.get("devices_per_worker", 1)
            replicas = f"{t['gpus'] // size} aggregated replicas" + (f" of {layout_text(p)}" if size > 1 else "")
            how = (f"{replicas}, {p['format']}, {p['max_batch_tokens']} tokens/iteration, batch {p['batch']:g}"
                   if t["mode"] == "agg" else _config(p, True) + f", batch {p['batch']:g}")
            lines.append(f"target {t['target_rate_per_s']:g} requests/s: {t['gpus']} devices ({how}; "
                         f"{t['rate_per_s']:,.2f} requests/s)")
    for item in result.skipped[:5]:
        layout = layout_text(item) or ("tp1" if "tp" in item else None)
        what = " ".join(str(v) for v in (item.get("mode"), item.get("format"), layout) if v)
        lines.append(f"skipped {what}: {item['reason']}")
    if len(result.skipped) > 5:
        lines.append(f"({len(result.skipped) - 5} more skipped: --format json lists them)")
    return "\n".join(lines) + "\n"
