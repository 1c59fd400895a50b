"""Terminal rendering of the advisor's ranking: the baseline, a table of gains, then each technique's why,
settings and assumptions. Formatting only: every number and sentence comes from the Advice."""

from __future__ import annotations

import textwrap

from .texttable import Column, fit_table
from .units import plain, rate, seconds, si


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}x"


def _wrap(text: str, width: int | None, indent: int) -> list[str]:
    if width is None or len(text) <= width:
        return [text]
    return textwrap.wrap(text, max(width, 40), subsequent_indent=" " * indent, break_on_hyphens=False)


def render_advice(advice, width: int | None) -> str:
    b, s = advice.baseline, advice.scenario
    lines = _wrap(f"{advice.model} on {advice.hardware}: batch {s['batch_size']}, prompt {s['prompt_len']} tokens, "
                  f"generating {s['gen_len']} tokens, W{s['w_bits']:g}A{s['a_bits']:g}KV{s['kv_bits']:g}", width, 2)
    lines += _wrap(f"baseline: TTFT {seconds(b['ttft_s'])}, TPOT {seconds(b['tpot_s'])}, "
                   f"{rate(b['throughput_tokens_per_s'])}, memory {si(b['memory_bytes'], 'B')} "
                   f"({'fits' if b['fits'] else 'DOES NOT FIT'}); decode {b['decode_bound']}-bound at "
                   f"{plain(b['decode_intensity'])} FLOP/B, prefill {b['prefill_bound']}-bound", width, 2)
    done = [v for v in advice.verdicts if v.evaluated]
    metric = advice.rank_by.upper() if advice.rank_by in ("tpot", "ttft") else advice.rank_by
    lines += ["", *_wrap(f"ranked by the gain in {metric} (x: baseline / technique for times and memory, technique /"
                         " baseline for throughput; * changes the model's output):", width, 2)]
    rows = list(enumerate(done, start=1))
    columns = [
        Column("#", [str(i) for i, _ in rows]),
        Column("technique", [v.name + (" *" if v.affects_accuracy else "") for _, v in rows], right=False,
               min_width=12),
        Column("TPOT", [_x(v.gains["tpot"]) for _, v in rows]),
        Column("TTFT", [_x(v.gains["ttft"]) for _, v in rows], keep=3),
        Column("tokens/s", [_x(v.gains["throughput"]) for _, v in rows], keep=2),
        Column("memory", [_x(v.gains["memory"]) for _, v in rows], keep=4),
        Column("fits", ["yes" if v.fits else "NO" for _, v in rows], keep=5),
        Column("decode", [f"{v.decode_bound} {plain(v.decode_intensity)}" for _, v in rows], right=False, keep=1),
    ]
    lines += fit_table(columns, width).lines
    lines.append("")
    for i, v in rows:
        lines += _wrap(f"{i}. {v.title}: {v.why}.", width, 3)
        shown = ", ".join(f"{k}={_setting(val)}" for k, val in v.settings.items())
        lines += _wrap(f"   settings: {shown}; assumed: {v.note}", width, 3)
    skipped = [v for v in advice.verdicts if not v.evaluated]
    if skipped:
        lines += ["", "not evaluated:"]
        for v in skipped:
            lines += _wrap(f"  {v.name}: {v.reason or v.error}", width, 4)
    return "\n".join(lines) + "\n"


def _setting(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)
