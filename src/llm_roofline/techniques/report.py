"""The techniques part of one scenario's Report (``report.techniques``; JSON ``techniques``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..result import StageResult, stage_result


def _num(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class SpeculativeReport:
    """One iteration at the reported KV length: ``verify`` (the target on verify_tokens tokens per sequence)
    and ``draft`` (one draft pass, the widest; None without a draft network) as operator tables; times in
    seconds; speedup_at_kv_len = plain decode step / time_per_token_s; draft_* what the draft adds."""

    verify: StageResult
    draft: StageResult | None
    verify_tokens: int
    tokens_per_iteration: float
    draft_time_s: float
    verify_time_s: float
    iteration_time_s: float
    time_per_token_s: float
    plain_decode_step_s: float
    speedup_at_kv_len: float
    draft_prefill_s: float
    draft_decode_s: float
    draft_weights_bytes: float
    draft_kv_cache_bytes: float

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("verify", "draft")}
        return {"verify": self.verify.to_dict(), "draft": None if self.draft is None else self.draft.to_dict(), **out}


@dataclass(frozen=True)
class TechniquesReport:
    """``settings``: each technique's settings (None: off); ``notes``: what is assumed, one line each.
    With speculative decoding (else None): ``one_token``: TTFT, TPOT, e2e and throughput decoding one token
    per step (the other techniques as set); ``speedup``: one-token / speculative for TTFT, TPOT and e2e,
    speculative / one-token for throughput (None where undefined); ``speculative``: the iteration. The
    advisor (``llm-roofline advise``) compares any technique with the plain analysis."""

    settings: dict
    notes: tuple[str, ...]
    one_token: dict | None
    speedup: dict | None
    speculative: SpeculativeReport | None

    def to_dict(self) -> dict:
        return {"settings": self.settings, "notes": list(self.notes), "one_token": self.one_token,
                "speedup": self.speedup,
                "speculative": None if self.speculative is None else self.speculative.to_dict()}


def techniques_report(analysis, i: int) -> TechniquesReport | None:
    t = analysis.techniques
    if t is None:
        return None
    spec, one_token, speedup = None, None, None
    s = t.speculative
    if s is not None:
        p, g = t.one_token_generation, analysis.generation
        one_token = {"ttft_s": float(p.ttft_s[i]), "tpot_s": _num(p.tpot_s[i]), "e2e_s": float(p.e2e_s[i]),
                     "throughput_tokens_per_s": _num(p.throughput_tokens_per_s[i])}

        def ratio(a, b):
            a, b = _num(a), _num(b)
            return None if a is None or b is None or b == 0 else a / b

        speedup = {"ttft": ratio(p.ttft_s[i], g.ttft_s[i]), "tpot": ratio(p.tpot_s[i], g.tpot_s[i]),
                   "e2e": ratio(p.e2e_s[i], g.e2e_s[i]),
                   "throughput": ratio(g.throughput_tokens_per_s[i], p.throughput_tokens_per_s[i])}
        sc = analysis.scenario
        kv = int(sc.kv_len[i])
        verify = stage_result("verify", s.verify, i, s.verify_tokens, kv, s.verify_total)
        draft = None
        if s.draft is not None:
            draft = stage_result("draft", s.draft, i, s.draft_tokens, kv + 1, s.draft_total)
        plain_step = float(analysis.decode_total.time_s[i])
        per_token = float(s.time_per_token_s[i])
        spec = SpeculativeReport(
            verify=verify, draft=draft, verify_tokens=s.verify_tokens, tokens_per_iteration=s.tokens_per_iteration,
            draft_time_s=float(s.draft_time_s[i]), verify_time_s=float(s.verify_time_s[i]),
            iteration_time_s=float(s.iteration_time_s[i]), time_per_token_s=per_token,
            plain_decode_step_s=plain_step, speedup_at_kv_len=plain_step / per_token if per_token > 0 else 0.0,
            draft_prefill_s=float(s.draft_prefill_s[i]), draft_decode_s=float(s.draft_decode_s[i]),
            draft_weights_bytes=float(s.draft_weights_bytes[i]), draft_kv_cache_bytes=float(s.draft_kv_cache_bytes[i]))
    return TechniquesReport(settings=t.settings.to_dict(), notes=t.notes, one_token=one_token, speedup=speedup,
                            speculative=spec)
