"""The advisor: every registered technique that applies, evaluated on the user's scenario, ranked by its
gain in TPOT, TTFT, throughput or memory, with each stage's bound before and after and one sentence of why.

The baseline is ``llm_roofline.analyze`` with the user's arguments; each entry is ``analyze`` with the
entry's arguments (registry.py). Gains are ratios: TTFT, TPOT and memory baseline / technique (above 1:
better), throughput technique / baseline. Settings and assumptions are part of every entry; entries that
change the model's output are marked (the tool models speed, not quality).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import RooflineError, ScenarioError
from ..units import plain, seconds, si
from .registry import Technique, pick

RANK_BY = ("tpot", "ttft", "throughput", "memory")


@dataclass(frozen=True)
class Verdict:
    """One technique on the scenario: its settings, metrics (s, tokens/s, bytes), gains, bounds and why.
    ``reason``: why it was not evaluated (None when it was); ``error``: why its analysis failed."""

    name: str
    title: str
    family: str
    affects_accuracy: bool
    settings: dict
    note: str
    source: str
    reason: str | None = None
    error: str | None = None
    ttft_s: float | None = None
    tpot_s: float | None = None
    throughput_tokens_per_s: float | None = None
    memory_bytes: float | None = None
    fits: bool | None = None
    gains: dict | None = None
    decode_bound: str | None = None
    decode_intensity: float | None = None
    prefill_bound: str | None = None
    why: str = ""

    @property
    def evaluated(self) -> bool:
        return self.reason is None and self.error is None


@dataclass(frozen=True)
class Advice:
    """The baseline (metrics, bounds) and the ranked verdicts; ``rank_by`` names the gain they are sorted by."""

    model: str
    hardware: str
    scenario: dict
    rank_by: str
    baseline: dict
    verdicts: tuple[Verdict, ...]

    def to_dict(self) -> dict:
        return {"model": self.model, "hardware": self.hardware, "scenario": self.scenario, "rank_by": self.rank_by,
                "baseline": self.baseline, "techniques": [asdict(v) for v in self.verdicts]}


def _metrics(report) -> dict:
    g, m = report.generation, report.memory
    return {"ttft_s": g.ttft_s, "tpot_s": g.tpot_s, "throughput_tokens_per_s": g.throughput_tokens_per_s,
            "memory_bytes": m.total_bytes, "fits": m.fits, "max_batch_size": m.max_batch_size,
            "decode_bound": report.decode.total.bound, "decode_intensity": report.decode.total.arithmetic_intensity,
            "prefill_bound": report.prefill.total.bound}


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or not math.isfinite(a) or not math.isfinite(b):
        return None
    return a / b


def _gains(base: dict, new: dict) -> dict:
    return {"ttft": _ratio(base["ttft_s"], new["ttft_s"]), "tpot": _ratio(base["tpot_s"], new["tpot_s"]),
            "throughput": _ratio(new["throughput_tokens_per_s"], base["throughput_tokens_per_s"]),
            "memory": _ratio(base["memory_bytes"], new["memory_bytes"])}


def _per_token(report) -> dict:
    """Decode traffic and time per generated token and sequence at the reported KV length: one decode step,
    or one speculative iteration (verify + its draft passes) over its tokens."""
    t = report.decode.total
    B = (report.parallelism or {}).get("device_batch") or report.scenario["batch_size"]  # the tables' sequences
    spec = report.techniques.speculative if report.techniques is not None else None
    if spec is None:
        return {"weights": t.weight_bytes / B, "KV cache": t.kv_cache_bytes / B, "activations": t.activation_bytes / B,
                "FLOPs": t.flops / B, "time": t.time_s, "intensity": t.arithmetic_intensity, "bound": t.bound}
    v, E = spec.verify.total, spec.tokens_per_iteration
    passes = len(report.techniques.settings["speculative"]["draft_passes"])
    d = spec.draft.total if spec.draft is not None else None

    def part(name):
        return (getattr(v, name) + (passes * getattr(d, name) if d is not None else 0.0)) / (B * E)

    return {"weights": part("weight_bytes"), "KV cache": part("kv_cache_bytes"),
            "activations": part("activation_bytes"), "FLOPs": part("flops"), "time": spec.time_per_token_s,
            "intensity": v.arithmetic_intensity, "bound": v.bound, "verify_tokens": spec.verify_tokens,
            "tokens_per_iteration": E, "draft_time": spec.draft_time_s, "iteration": spec.iteration_time_s}


def why(base, new, ridge: float) -> str:
    """One sentence on what moved the decode step (per generated token), from the two reports."""
    devices = (new.parallelism or {}).get("devices", 1)
    if devices > 1:
        p = new.parallelism
        return (f"on {devices} devices (TP {p['tp']}, EP {p['ep']}, attention DP {p['attention_dp']}), each reads "
                f"its shard: " + _why(base, new, ridge) + f"; communication takes "
                f"{seconds(new.communication['decode_time_s'])} of each decode step")
    return _why(base, new, ridge)


def _why(base, new, ridge: float) -> str:
    b, n = _per_token(base), _per_token(new)
    if "verify_tokens" in n:
        state = ("stays memory-bound, so the extra tokens cost little more than one step's weight reads"
                 if n["bound"] == "memory" else "turns compute-bound: the extra tokens are no longer free, so "
                 "the gain shrinks as the batch grows")
        return (f"decode is {b['bound']}-bound at {plain(b['intensity'])} FLOP/B (ridge {plain(ridge)}); a verify step "
                f"checks {n['verify_tokens']} tokens per sequence against one read of the weights "
                f"({plain(n['intensity'])} FLOP/B) and {state}; {n['tokens_per_iteration']:.3g} tokens per "
                f"iteration of {seconds(n['iteration'])} (draft {seconds(n['draft_time'])}): "
                f"{seconds(b['time'])} -> {seconds(n['time'])} per token")
    if base.scenario["batch_size"] != new.scenario["batch_size"]:
        return (f"{new.scenario['batch_size']} sequences instead of {base.scenario['batch_size']} share each read of "
                f"the weights: decode intensity {plain(b['intensity'])} -> {plain(n['intensity'])} FLOP/B "
                f"(ridge {plain(ridge)}), {n['bound']}-bound; weight bytes per token {si(b['weights'], 'B')} -> "
                f"{si(n['weights'], 'B')}, the step {seconds(b['time'])} -> {seconds(n['time'])}")
    moved = {k: b[k] - n[k] for k in ("weights", "KV cache", "activations", "FLOPs")}
    # bytes weigh by the bandwidth, FLOPs by the ridge (FLOPs / ridge is their byte-time equivalent)
    moved["FLOPs"] /= ridge
    key = max(moved, key=lambda k: abs(moved[k]))
    unit = "" if key == "FLOPs" else "B"
    before, after = b[key], n[key]
    if before == after:
        pb, pn = base.prefill.total, new.prefill.total
        return (f"decode does not change; prefill ({pb.bound}-bound) {seconds(pb.time_s)} -> {seconds(pn.time_s)}: "
                f"bytes {si(pb.bytes, 'B')} -> {si(pn.bytes, 'B')}, FLOPs {si(pb.flops)} -> {si(pn.flops)}")
    change = f"fall {before / after:.3g}x" if after and before > after else (
        f"rise {after / before:.3g}x" if before else "appear")
    return (f"decode is {b['bound']}-bound at {plain(b['intensity'])} FLOP/B (ridge {plain(ridge)}): {key} per token "
            f"{change} ({si(before, unit)} -> {si(after, unit)}), so the step takes {seconds(b['time'])} -> "
            f"{seconds(n['time'])} ({n['bound']}-bound after)")


def advise(model, hardware, *, rank_by: str = "tpot", only=None, draft_model=None, draft_alpha: float = 0.7,
           efficiency="ideal", force_llama_like: bool = False, **scenario) -> Advice:
    """Evaluate every technique that applies (``only``: those named) on ``model`` / ``hardware`` and the
    scenario (``analyze``'s keyword arguments), ranked by ``rank_by`` (tpot, ttft, throughput, memory).
    ``draft_model``: also a draft-model entry (chain of 4, acceptance ``draft_alpha``, an assumption)."""
    from ..api import analyze, load_hardware, load_model
    from ..roofline import ceilings

    if rank_by not in RANK_BY:
        raise ScenarioError(f"rank_by must be one of {', '.join(RANK_BY)}, got {rank_by!r}")
    spec = load_model(model, force_llama_like=force_llama_like)
    device = load_hardware(hardware)
    base_args = {**scenario, "efficiency": efficiency}
    baseline = analyze(spec, device, **base_args)
    base = _metrics(baseline)
    entries = pick(only)
    if draft_model is not None:
        entries.append(Technique(
            name="speculative-draft", title="speculative decoding with a draft model", family="speculative",
            settings={"speculative": {"method": "draft", "draft_model": draft_model, "k": 4, "alpha": draft_alpha}},
            note=f"a chain of 4, acceptance rate {draft_alpha:g} (assumed; Leviathan et al. measured 0.5-0.9)",
            source="Leviathan et al. 2023, https://arxiv.org/abs/2211.17192"))
    from ..api import resolve_efficiency

    peaks, bandwidth, ridges = ceilings(device, resolve_efficiency(efficiency, device))
    ridge = max(peaks.get("fp16", 0.0), peaks.get("bf16", 0.0)) / bandwidth
    verdicts = [_verdict(t, spec, device, base_args, baseline, base, ridge, analyze) for t in entries]
    verdicts.sort(key=lambda v: _rank_key(v, rank_by))
    return Advice(model=spec.name, hardware=device.name, scenario=dict(baseline.scenario), rank_by=rank_by,
                  baseline=base, verdicts=tuple(verdicts))


def _rank_key(v: Verdict, rank_by: str):
    if not v.evaluated:
        return (2, 0.0, v.name)
    gain = (v.gains or {}).get(rank_by)
    return (0 if v.fits else 1, -(gain if gain is not None else 0.0), v.name)


def _verdict(t: Technique, spec, device, base_args, baseline, base, ridge, analyze) -> Verdict:
    info = dict(name=t.name, title=t.title, family=t.family, affects_accuracy=t.affects_accuracy, note=t.note,
                source=t.source)
    reason = t.reason_not(spec, base_args)
    if reason:
        return Verdict(**info, settings=dict(t.settings), reason=reason)
    try:
        arguments = t.arguments(base_args, baseline)
    except RooflineError as exc:
        return Verdict(**info, settings=dict(t.settings), reason=str(exc))
    settings = _shown(t.describe_settings(arguments, base_args))
    if not settings:
        return Verdict(**info, settings={}, reason="changes nothing in this scenario")
    try:
        report = analyze(spec, device, **arguments)
    except RooflineError as exc:
        return Verdict(**info, settings=settings, error=str(exc))
    new = _metrics(report)
    return Verdict(**info, settings=settings, ttft_s=new["ttft_s"], tpot_s=new["tpot_s"],
                   throughput_tokens_per_s=new["throughput_tokens_per_s"], memory_bytes=new["memory_bytes"],
                   fits=new["fits"], gains=_gains(base, new), decode_bound=new["decode_bound"],
                   decode_intensity=new["decode_intensity"], prefill_bound=new["prefill_bound"],
                   why=why(baseline, report, ridge))


def _shown(settings: dict) -> dict:
    """Settings as JSON-ready values (a draft ModelSpec by its name)."""
    out = {}
    for k, v in settings.items():
        if isinstance(v, dict):
            v = {kk: getattr(vv, "name", vv) if not isinstance(vv, str | int | float | bool | type(None)) else vv
                 for kk, vv in v.items()}
        out[k] = v
    return out
