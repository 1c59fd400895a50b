"""Terminal rendering of a report's fast-decoding techniques: what was assumed (one line per technique),
the speculative iteration at the reported KV length, and its verify and draft steps as operator tables.
Formatting only: every number comes from the Report."""

from __future__ import annotations

from .result import Report
from .units import plain, seconds, si


def technique_lines(report: Report, width: int | None, wrap) -> list[str]:
    """The TECHNIQUES section (empty without a technique)."""
    t = report.techniques
    if t is None:
        return []
    lines = ["TECHNIQUES (the tool models speed, not quality)"]
    for note in t.notes:
        lines += wrap(f"  - {note}", width, 4)
    s = t.speculative
    if s is not None:
        sp = t.speedup or {}
        lines += wrap(f"  one iteration at KV length {s.verify.kv_len}: draft {seconds(s.draft_time_s)} + verify "
                      f"{seconds(s.verify_time_s)} ({s.verify_tokens} tokens per sequence, {s.verify.total.bound}-"
                      f"bound, {plain(s.verify.total.arithmetic_intensity)} FLOP/B) = {seconds(s.iteration_time_s)} "
                      f"for {s.tokens_per_iteration:.3g} tokens: {seconds(s.time_per_token_s)} per token against "
                      f"{seconds(s.plain_decode_step_s)} for a one-token step ({s.speedup_at_kv_len:.3g}x)", width, 4)
        if sp.get("tpot") is not None:
            lines += wrap(f"  whole generation: TPOT {sp['tpot']:.3g}x, throughput {sp['throughput']:.3g}x, TTFT "
                          f"{sp['ttft']:.3g}x of one-token decoding (the draft's prefill "
                          f"{seconds(s.draft_prefill_s)}); the draft adds {si(s.draft_weights_bytes, 'B')} of "
                          f"weights and {si(s.draft_kv_cache_bytes, 'B')} of KV cache", width, 4)
    return lines


def technique_stages(report: Report) -> list:
    """The speculative iteration's stages to show as operator tables (verify, then draft)."""
    s = report.techniques.speculative if report.techniques is not None else None
    if s is None:
        return []
    return [s.verify] + ([s.draft] if s.draft is not None else [])
