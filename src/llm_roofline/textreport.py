"""Terminal rendering of a Report: the paper's Table 1 layout plus totals, generation and memory.
Formatting only: every number comes from the Report."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, fields

from .result import OpResult, Report, StageResult
from .units import seconds, si


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def stage_table(stage: StageResult) -> str:
    headers = ["operator", "count", "FLOPs", "bytes", "weights", "act", "KV", "intensity",
               "perf", "bound", "time", "share"]
    rows = []
    for op in stage.ops:
        rows.append([op.name, str(op.count), si(op.flops), si(op.bytes, "B"), si(op.weight_bytes, "B"),
                     si(op.activation_bytes, "B"), si(op.kv_cache_bytes, "B"),
                     f"{op.arithmetic_intensity:.3g}", si(op.performance_flops_per_s, "FLOP/s"), op.bound,
                     seconds(op.time_s), f"{100 * op.time_share:.1f}%"])
    t = stage.total
    rows.append(["total (x count)", "", si(t.flops), si(t.bytes, "B"), si(t.weight_bytes, "B"),
                 si(t.activation_bytes, "B"), si(t.kv_cache_bytes, "B"),
                 f"{t.arithmetic_intensity:.3g}", si(t.performance_flops_per_s, "FLOP/s"),
                 "", seconds(t.time_s), "100%"])
    return _table(headers, rows, right=set(range(1, 12)) - {9})


def _efficiency_text(eff: dict) -> str:
    if eff.get("mode") == "calibrated":  # per-operator curves: each op's efficiency is in the JSON / CSV
        return f"efficiency: calibrated ({eff['engine']} engine, curves {eff['curves']})"
    return (f"efficiency: compute {eff['compute_fraction']:g}, bandwidth {eff['bandwidth_fraction']:g}, "
            f"overhead {seconds(eff['kernel_overhead_s'])}")


def render(report: Report) -> str:
    m, h, s, g, mem = report.model, report.hardware, report.scenario, report.generation, report.memory
    peaks = ", ".join(f"{k} {si(v, 'FLOP/s')}" for k, v in h["peak_flops_per_s"].items())
    eff = h["efficiency"]
    fa = "on" if s["flash_attention"] else "off"
    lines = [
        f"model     {m['name']} ({m['model_type']}, {m['num_layers']} layers, "
        f"{si(m['params_total'])} params, {si(m['params_active'])} active)",
        f"hardware  {h['name']}: {si(h['memory_bandwidth_bytes_per_s'], 'B/s')}, "
        f"{si(h['memory_capacity_bytes'], 'B')}, {peaks}",
        f"scenario  batch {s['batch_size']}, prompt {s['prompt_len']}, generate {s['gen_len']}, "
        f"W{s['w_bits']:g} A{s['a_bits']:g} KV{s['kv_bits']:g}, FlashAttention {fa}, "
        + _efficiency_text(eff),
        "",
        f"PREFILL ({report.prefill.tokens} tokens per sequence)",
        stage_table(report.prefill),
        "",
        f"DECODE (one step, KV length {report.decode.kv_len})",
        stage_table(report.decode),
        "",
        "GENERATION",
        f"  TTFT {seconds(g.ttft_s)}   TPOT {seconds(g.tpot_s)}   end-to-end {seconds(g.e2e_s)}   "
        f"throughput {_rate(g.throughput_tokens_per_s)}   ({g.gen_len} tokens x batch {g.batch_size})",
        "",
        "MEMORY",
        f"  weights {si(mem.weights_bytes, 'B')}   KV cache {si(mem.kv_cache_bytes, 'B')}   "
        f"activations {si(mem.activations_bytes, 'B')}   total {si(mem.total_bytes, 'B')} "
        f"of {si(mem.capacity_bytes, 'B')}",
        f"  {'fits' if mem.fits else 'DOES NOT FIT'}; largest batch that fits: {mem.max_batch_size}",
    ]
    return "\n".join(lines) + "\n"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} tokens/s"


def ops_csv(report: Report) -> str:
    """Both stages' operator tables as CSV, one row per operator, with a ``stage`` column."""
    out = io.StringIO()
    names = ["stage", *(f.name for f in fields(OpResult))]
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for stage in (report.prefill, report.decode):
        for op in stage.ops:
            writer.writerow({"stage": stage.stage, **asdict(op)})
    return out.getvalue()
