"""Terminal rendering of a Report: the headline first (TTFT, TPOT, throughput, memory, what bounds
each stage, the efficiency assumed), then the model and device, then each stage's operator table
(the paper's Table 1 layout) fitted to the terminal's width. Formatting only: every number comes
from the Report; ``units`` formats it."""

from __future__ import annotations

import csv
import io
import textwrap
from dataclasses import asdict, fields

from .result import OpResult, Report, StageResult
from .textreport_optimizations import optimization_words
from .texttable import Column, fit_table
from .units import percent, plain, rate, seconds, si

STAGES = ("prefill", "decode")
MIN_WIDTH = 40  # a narrower terminal gets lines of this width (and wraps them itself)
_BOUND_SHORT = {"memory": "mem", "compute": "comp", "link": "link", "host": "host", "": ""}


def render(report: Report, *, width: int | None = None, stages=STAGES, summary: bool = False) -> str:
    """The whole report as text, each line at most ``width`` characters (None: no limit).
    ``summary``: the headline only; ``stages``: the operator tables to show."""
    width = None if width is None else max(width, MIN_WIDTH)
    from .textreport_techniques import technique_lines, technique_stages

    lines = headline(report, width)
    techniques = technique_lines(report, width, _wrap)
    if techniques:
        lines += ["", *techniques]
    if not summary:
        lines += ["", *details(report, width)]
        dropped: list[str] = []
        shown = [getattr(report, name) for name in stages]
        if "decode" in stages:
            shown += technique_stages(report)
        for stage in shown:
            section, left_out = stage_section(stage, width)
            lines += ["", *section]
            dropped += [d for d in left_out if d not in dropped]
        lines += ["", *legend(dropped, width)]
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int | None, indent: int = 0) -> list[str]:
    """One logical line wrapped at word boundaries; continuation lines are indented."""
    if width is None or len(text) <= width:
        return [text]
    indent = indent if indent < width // 2 else 4
    return textwrap.wrap(text, width, subsequent_indent=" " * indent, break_on_hyphens=False)


def _bits(s: dict) -> str:
    return f"W{s['w_bits']:g}A{s['a_bits']:g}KV{s['kv_bits']:g}"


def _bound(total) -> str:
    return f"{total.bound}-bound ({percent(total.bound_time_share)} of its time)"


def headline(report: Report, width: int | None) -> list[str]:
    """What a reader looks for first: the generation's latency and throughput, memory, the bounds."""
    m, h, s, g, mem = report.model, report.hardware, report.scenario, report.generation, report.memory
    pre, dec = report.prefill.total, report.decode.total
    options = [o for o, on in (("FlashAttention", s["flash_attention"]), ("logits for every prompt token",
                                                                          s["logits_all"])) if on]
    scenario = (f"batch {s['batch_size']}, prompt {s['prompt_len']} tokens, generating {s['gen_len']} tokens, "
                f"{_bits(s)}" + "".join(f", {o}" for o in options))
    spec = report.techniques.speculative if report.techniques is not None else None
    if g.tpot_s is not None and spec is not None:
        tpot = (seconds(g.tpot_s), f"{g.gen_len} tokens in {g.gen_len / spec.tokens_per_iteration:.4g} speculative "
                                   f"iterations of {spec.tokens_per_iteration:.3g} tokens (see TECHNIQUES)")
    elif g.tpot_s is None:
        tpot = ("-", "no tokens generated (--gen-len 0); one decode step at KV length "
                     f"{report.decode.kv_len} takes {seconds(dec.time_s)}, {_bound(dec)}")
    if g.tpot_s is not None and spec is None:
        tpot = (seconds(g.tpot_s), f"mean of {g.gen_len} decode steps; the step at KV length "
                                   f"{report.decode.kv_len} is {_bound(dec)}")
    fits = "fits" if mem.fits else "DOES NOT FIT"
    used = f"{si(mem.total_bytes, 'B')} of {si(mem.capacity_bytes, 'B')}"
    if mem.host_bytes:  # offloading: each place against its own capacity
        host = si(mem.host_capacity_bytes, "B") if mem.host_capacity_bytes else "disk"
        used = (f"{si(mem.device_bytes, 'B')} of {si(mem.capacity_bytes, 'B')} + host {si(mem.host_bytes, 'B')} "
                f"of {host}")
    par = report.parallelism
    several = par["devices"] > 1
    per_device = (f"; {rate(g.throughput_tokens_per_s_per_device)} per device of {par['devices']}"
                  if several and g.throughput_tokens_per_s_per_device is not None else "")
    rows = [
        ("TTFT", seconds(g.ttft_s), f"prefill of {report.prefill.tokens} tokens, {_bound(pre)}"),
        ("TPOT", *tpot),
        ("throughput", rate(g.throughput_tokens_per_s),
         f"{g.gen_len} tokens x batch {g.batch_size} in {seconds(g.e2e_s)} end-to-end, TTFT included"
         + per_device if g.throughput_tokens_per_s is not None else "no tokens generated"),
        ("memory", used, f"{'per device, ' if several else ''}{fits}; largest batch that fits: "
                         f"{mem.max_batch_size:,}"),
        *([_communication_row(report)] if several else []),
        ("efficiency", *_efficiency(h["efficiency"])),
    ]
    value_width = max(len(v) for _, v, _ in rows)
    where = (f"{par['devices']} x {h['name']} ({par['system']['name']}: {_degrees(par)})" if several
             else h["name"])
    lines = [*_wrap(f"{m['name']} on {where}", width, 2), *_wrap(scenario, width, 2)]
    if report.optimizations.get("active"):
        lines += _wrap("optimizations: " + optimization_words(report.optimizations), width, 2)
    lines.append("")
    indent = 12 + value_width + 2
    aligned = width is None or (indent <= width - 30 and indent < width // 2)  # details fit beside the values
    for label, value, detail in rows:
        if aligned:
            lines += _wrap(f"{label:<10}  {value:<{value_width}}  {detail}", width, indent)
        else:  # narrow: the details go under the value
            lines += [f"{label:<10}  {value}", *_wrap(" " * 12 + detail, width, 12)]
    for note in m.get("notes", ()):
        lines += _wrap(f"note: {note}", width, 6)
    return lines


def _degrees(par: dict) -> str:
    shown = [f"{k.replace('_', '-')} {par[k]}" for k in ("tp", "pp", "ep", "attention_dp", "dp") if par[k] > 1]
    return ", ".join(shown)


def _communication_row(report: Report) -> tuple[str, str, str]:
    """The share of each stage in communication, how collectives are costed, whether they overlap."""
    c, coll = report.communication, report.parallelism["collectives"]
    how = (f"fitted {coll['library']} curves" if coll["mode"] == "fitted"
           else f"ideal alpha-beta, {coll['algorithm']} all-reduce")
    return ("comm", percent(c["decode_share"]),
            f"of the decode step ({si(c['decode_link_bytes'], 'B')} on the link per device), "
            f"{percent(c['prefill_share'])} of prefill; {how}; "
            f"{'overlapped with compute (optimistic)' if c['overlapped'] else 'not overlapped'}")


def _efficiency(e: dict) -> tuple[str, str]:
    if e.get("mode") == "calibrated":  # per-operator curves: each op's efficiency is in the JSON / CSV
        return "calibrated", (f"{e['engine']} engine, kernel curves {e['curves']} ({e['curves_from']}); "
                              "collectives keep their own model")
    if e["compute_fraction"] == 1 and e["bandwidth_fraction"] == 1 and e["kernel_overhead_s"] == 0:
        return "ideal", "the paper's roofline: full peak FLOP/s and bandwidth, no launch overhead"
    return "custom", (f"{percent(e['compute_fraction'])} of peak FLOP/s, {percent(e['bandwidth_fraction'])} "
                      f"of bandwidth, {seconds(e['kernel_overhead_s'])} launch overhead per kernel")


def details(report: Report, width: int | None) -> list[str]:
    """The model, the device and the precision options, one wrapped line each."""
    m, h, s = report.model, report.hardware, report.scenario
    peaks = ", ".join(f"{k} {si(v, 'FLOP/s')}" for k, v in h["peak_flops_per_s"].items())
    scales = (f"below 16 bits one {s['scale_bits']}-bit scale per {s['group_size']} elements"
              if s["group_size"] else "no group scales")
    return [
        *_parallel_details(report, width),
        *_wrap(f"model     {m['name']}: {m['model_type']}, {m['num_layers']} layers, "
               f"{si(m['params_total'])} parameters, {si(m['params_active'])} active per token", width, 10),
        *_wrap(f"hardware  {h['name']}: {si(h['memory_bandwidth_bytes_per_s'], 'B/s')}, "
               f"{si(h['memory_capacity_bytes'], 'B')}; peak {peaks}", width, 10),
        *_wrap(f"precision weights {s['w_bits']:g}-bit {s['w_family']}, activations {s['a_bits']:g}-bit "
               f"{s['a_family']}, KV cache {s['kv_bits']:g}-bit {s['kv_family']}; {scales}", width, 10),
    ]


def _parallel_details(report: Report, width: int | None) -> list[str]:
    """The deployment: system and links, placement, which device the tables show, pipeline bubbles."""
    p = report.parallelism
    if p["devices"] == 1:
        return []
    s, up, out = p["system"], p["system"]["scale_up"], p["system"]["scale_out"]
    links = f"{up['name']} {si(up['bandwidth_bytes_per_s'], 'B/s')} per direction"
    if out is not None:
        links += f"; between nodes {out['name']} {si(out['bandwidth_bytes_per_s'], 'B/s')}"
    m = report.memory
    experts = f"; expert TP {p['moe_tp']}" if p["ep"] > 1 else ""
    return [
        *_wrap(f"devices   {p['devices']} on {p['nodes']} node(s) of {s['name']} ({p['devices_per_node']} used per "
               f"node): {_degrees(p)}{experts}; {p['micro_batches']} micro-batch(es); {links}",
               width, 10),
        *_wrap(f"tables    one device: {p['straggler']}; {p['device_batch']} sequence(s) per micro-batch; "
               f"comm buffers {si(m.comm_buffer_bytes, 'B')}; pipeline bubbles: prefill "
               f"{percent(p['prefill_bubble_fraction'])}, decode {percent(p['decode_bubble_fraction'])}",
               width, 10),
    ]


def stage_section(stage: StageResult, width: int | None) -> tuple[list[str], list[str]]:
    """A stage's title and operator table; also the headers of the columns left out to fit."""
    t = stage.total
    what = {"prefill": f"{stage.tokens} tokens per sequence",
            "verify": f"the speculative verify step, {stage.tokens} tokens per sequence at KV length {stage.kv_len}",
            "draft": f"one draft pass, {stage.tokens} tokens per sequence at KV length {stage.kv_len}",
            }.get(stage.stage, f"one step at KV length {stage.kv_len}")
    title = f"{stage.stage.upper()}: {what}, {seconds(t.time_s)}, {t.bound}-bound"
    table = fit_table(stage_columns(stage), width)
    return [*_wrap(title, width, 2), *table.lines], table.dropped


def stage_columns(stage: StageResult) -> list[Column]:
    """The operator table's columns, with their priority when the terminal is narrow (``keep``)."""
    ops, t = stage.ops, stage.total

    def col(header, per_op, total, keep, **kw):
        return Column(header, [per_op(o) for o in ops] + [total], keep=keep, **kw)

    bounds = [o.bound for o in ops] + [t.bound]
    link = [col("link", lambda o: si(o.link_bytes, "B") if o.link_bytes else "", si(t.link_bytes, "B"), 9)
            ] if any(o.link_bytes for o in ops) else []
    return [
        col("operator", lambda o: o.name, "total (x count)", 0, right=False, min_width=10),
        col("count", lambda o: str(o.count), "", 6),
        col("FLOPs", lambda o: si(o.flops), si(t.flops), 5),
        col("bytes", lambda o: si(o.bytes, "B"), si(t.bytes, "B"), 7),
        col("weights", lambda o: si(o.weight_bytes, "B"), si(t.weight_bytes, "B"), 10),
        col("act", lambda o: si(o.activation_bytes, "B"), si(t.activation_bytes, "B"), 12),
        col("KV", lambda o: si(o.kv_cache_bytes, "B"), si(t.kv_cache_bytes, "B"), 11),
        *link,
        col("FLOP/B", lambda o: plain(o.arithmetic_intensity), plain(t.arithmetic_intensity), 4),
        col("perf", lambda o: si(o.performance_flops_per_s, "FLOP/s"), si(t.performance_flops_per_s, "FLOP/s"), 8),
        Column("bound", bounds, right=False, keep=2, short=[_BOUND_SHORT[b] for b in bounds]),
        col("time", lambda o: seconds(o.time_s), seconds(t.time_s), 0),
        col("share", lambda o: percent(o.time_share), "100%", 3),
    ]


def legend(dropped: list[str], width: int | None) -> list[str]:
    text = ("Per operator and occurrence: FLOPs, bytes moved (weights, activations, KV cache; link: bytes a "
            "device puts on its link), arithmetic intensity (FLOP/B), attained FLOP/s, bound and time; share: "
            "of the stage's time, all occurrences (count) included.")
    lines = _wrap(text, width)
    if dropped:
        lines += _wrap(f"Left out to fit {width} columns: {', '.join(dropped)} (a wider terminal shows them; "
                       "--format csv or json has every field).", width)
    return lines


def ops_csv(report: Report, stages=STAGES) -> str:
    """The operator tables of ``stages`` as CSV, one row per operator, with a ``stage`` column."""
    out = io.StringIO()
    names = ["stage", *(f.name for f in fields(OpResult))]
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for stage in (getattr(report, name) for name in stages):
        for op in stage.ops:
            writer.writerow({"stage": stage.stage, **asdict(op)})
    return out.getvalue()
