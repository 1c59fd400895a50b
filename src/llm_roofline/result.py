"""Typed results of one scenario: what ``analyze`` returns and ``to_dict`` / JSON shows.

Values are SI base units (FLOPs, bytes, seconds, FLOP/s, bytes/s); a value that does not exist
(TPOT without decode steps) is None. ``to_dict()`` is exactly the CLI's ``--format json``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, fields
from typing import Any

from .engine import Analysis
from .roofline import OpCosts, ceilings
from .techniques.summary import optimizations_summary

BOUND_COMPUTE, BOUND_MEMORY, BOUND_LINK, BOUND_HOST = "compute", "memory", "link", "host"


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """The field names of a dataclass, in order (dataclasses.fields once per class, not per record)."""
    return tuple(f.name for f in fields(cls))


def _flat(record) -> dict:
    """A dataclass of plain values as a dict (dataclasses.asdict without its deep copies)."""
    return {name: getattr(record, name) for name in _field_names(type(record))}


def _record(cls: type, values: dict):
    """A frozen dataclass ``cls`` holding ``values`` (every field, in field order) without its
    ``__init__``, which sets each field through ``object.__setattr__``: the same object, built
    once per operator per stage on the hot path."""
    record = object.__new__(cls)
    record.__dict__.update(values)
    return record


def _num(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class OpResult:
    """One operator, per single occurrence; ``count`` occurrences in the whole model."""

    name: str
    kind: str
    count: int
    flops: float
    bytes: float
    weight_bytes: float
    activation_bytes: float
    act_read_bytes: float
    act_write_bytes: float
    kv_cache_bytes: float
    kv_read_bytes: float
    kv_write_bytes: float
    link_bytes: float
    link_time_s: float
    arithmetic_intensity: float
    peak_flops_per_s: float
    attainable_flops_per_s: float
    performance_flops_per_s: float
    bound: str
    time_s: float
    time_share: float
    roofline_time_s: float
    efficiency: float
    fixed_time_s: float
    efficiency_source: str
    host_bytes: float = 0.0
    host_time_s: float = 0.0


@dataclass(frozen=True)
class StageTotal:
    """The whole model in one stage: sums of operators x counts; intensity = FLOPs / bytes,
    performance = FLOPs / time, tokens_per_s = tokens processed (B*T) / time;
    compute_bound_time_s: time of the compute-bound operators (s, counts included); bound: ``link`` when
    communication operators take more than half of the stage's time, else ``compute`` when compute-bound
    ones do, else ``memory``; bound_time_share: the share of the stage's time in operators of that bound;
    link_bytes: bytes the device puts on links; link_time_s: time of the communication operators (s)."""

    flops: float
    bytes: float
    weight_bytes: float
    activation_bytes: float
    kv_cache_bytes: float
    time_s: float
    arithmetic_intensity: float
    performance_flops_per_s: float
    tokens_per_s: float
    compute_bound_time_s: float
    bound: str
    bound_time_share: float
    link_bytes: float
    link_time_s: float


@dataclass(frozen=True)
class StageResult:
    """One stage (prefill, or one decode step at ``kv_len``): its operators and totals."""

    stage: str
    tokens: int
    kv_len: int
    ops: tuple[OpResult, ...]
    total: StageTotal

    def to_dict(self) -> dict:
        return {"stage": self.stage, "tokens": self.tokens, "kv_len": self.kv_len,
                "ops": [_flat(op) for op in self.ops], "total": _flat(self.total)}

    def to_dataframe(self):
        """The operator table as a pandas DataFrame (needs pandas: pip install llm-roofline[dataframe])."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install 'llm-roofline[dataframe]'") from exc
        return pd.DataFrame([_flat(op) for op in self.ops], columns=[f.name for f in fields(OpResult)])


@dataclass(frozen=True)
class GenerationResult:
    """The whole deployment: throughput counts every replica; per device divides by all devices."""

    prompt_len: int
    gen_len: int
    batch_size: int
    ttft_s: float
    tpot_s: float | None
    e2e_s: float
    throughput_tokens_per_s: float | None
    throughput_tokens_per_s_per_device: float | None


@dataclass(frozen=True)
class MemoryResult:
    """Per device (the one the tables show); comm_buffer_bytes: staging buffers of its collectives."""

    weights_bytes: float
    kv_cache_bytes: float
    activations_bytes: float
    comm_buffer_bytes: float
    total_bytes: float
    capacity_bytes: float
    fits: bool
    max_batch_size: int
    kv_cache_shared_bytes: float = 0.0
    device_bytes: float | None = None
    host_bytes: float = 0.0
    host_capacity_bytes: float | None = None


@dataclass(frozen=True)
class Report:
    model: dict
    hardware: dict
    scenario: dict
    prefill: StageResult
    decode: StageResult
    generation: GenerationResult
    memory: MemoryResult
    parallelism: dict
    communication: dict
    techniques: Any = None  # techniques.report.TechniquesReport when a fast-decoding technique is on
    optimizations: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"model": self.model, "hardware": self.hardware, "scenario": self.scenario,
                "parallelism": self.parallelism, "optimizations": self.optimizations, "prefill": self.prefill.to_dict(),
                "decode": self.decode.to_dict(), "generation": _flat(self.generation), "memory": _flat(self.memory),
                "communication": self.communication,
                "techniques": None if self.techniques is None else self.techniques.to_dict()}


_OP_COLUMNS = {  # OpResult field -> (object, attribute) in the vectorized results
    "flops": ("table", "flops"), "bytes": ("table", "bytes"), "weight_bytes": ("table", "weight_bytes"),
    "activation_bytes": ("table", "activation_bytes"), "act_read_bytes": ("table", "act_read_bytes"),
    "act_write_bytes": ("table", "act_write_bytes"), "kv_cache_bytes": ("table", "kv_cache_bytes"),
    "kv_read_bytes": ("table", "kv_read_bytes"), "kv_write_bytes": ("table", "kv_write_bytes"),
    "link_bytes": ("table", "link_bytes"), "link_time_s": ("costs", "link_time_s"),
    "arithmetic_intensity": ("costs", "arithmetic_intensity"), "peak_flops_per_s": ("costs", "peak_flops_per_s"),
    "attainable_flops_per_s": ("costs", "attainable_flops_per_s"),
    "performance_flops_per_s": ("costs", "performance_flops_per_s"), "time_s": ("costs", "time_s"),
    "roofline_time_s": ("costs", "roofline_time_s"), "efficiency": ("costs", "efficiency"),
    "fixed_time_s": ("costs", "fixed_time_s"),
}


def _stage(stage: str, costs: OpCosts, i: int, tokens: int, kv_len: int, totals) -> StageResult:
    t = costs.table
    total_time = float(totals.time_s[i])
    source = {"table": t, "costs": costs}
    columns = {name: getattr(source[obj], attr)[:, i].tolist() for name, (obj, attr) in _OP_COLUMNS.items()}
    bounds = costs.compute_bound[:, i].tolist()
    links = costs.link_bound[:, i].tolist()
    counts = t.counts.astype(int).tolist()
    n = len(t.names)
    if t.host_read_bytes is not None:  # offloading: the host side may bound an operator
        columns["host_bytes"] = (t.host_read_bytes[:, i] + t.host_write_bytes[:, i]).tolist()
        columns["host_time_s"] = costs.host_time_s[:, i].tolist()
        host = costs.host_bound[:, i].tolist()
    else:
        columns["host_bytes"] = columns["host_time_s"] = [0.0] * n
        host = [False] * n
    columns["name"], columns["kind"], columns["count"] = t.names, t.kinds, counts
    columns["bound"] = [BOUND_LINK if link else BOUND_HOST if on_host else BOUND_COMPUTE if compute else BOUND_MEMORY
                        for link, on_host, compute in zip(links, host, bounds, strict=True)]
    columns["time_share"] = ([time * count / total_time for time, count in zip(columns["time_s"], counts, strict=True)]
                             if total_time > 0 else [0.0] * n)
    sources = costs.sources
    columns["efficiency_source"] = [sources[k] if k < len(sources) else "" for k in range(n)]
    names = _field_names(OpResult)
    rows = zip(*(columns[key] for key in names), strict=True)  # one tuple per operator, in field order
    ops = [_record(OpResult, dict(zip(names, row, strict=True))) for row in rows]
    numbers = {name: float(getattr(totals, name)[i]) for name in _field_names(StageTotal) if name != "bound"}
    host_bound = totals.host_bound is not None and bool(totals.host_bound[i])
    stage_bound = (BOUND_LINK if totals.link_bound[i] else BOUND_HOST if host_bound
                   else BOUND_COMPUTE if totals.compute_bound[i] else BOUND_MEMORY)
    total = StageTotal(**numbers, bound=stage_bound)
    return StageResult(stage=stage, tokens=tokens, kv_len=kv_len, ops=tuple(ops), total=total)


stage_result = _stage  # for the techniques' extra stages (verify, draft)


def model_summary(analysis: Analysis) -> dict:
    m = analysis.model
    return {"name": m.name, "model_type": m.model_type, "num_layers": m.num_layers,
            "hidden_size": m.hidden_size, "vocab_size": m.vocab_size,
            "params_total": analysis.params_total, "params_active": analysis.params_active,
            "source": m.source, "notes": list(m.notes), "warnings": list(m.warnings)}


def hardware_summary(analysis: Analysis) -> dict:
    h, e = analysis.hardware, analysis.efficiency
    peaks, bandwidth, ridges = ceilings(h, e)
    setting = e.summary() if hasattr(e, "summary") else _flat(e)
    return {"name": h.name, "memory_bandwidth_bytes_per_s": h.memory_bandwidth_bytes_per_s,
            "memory_capacity_bytes": h.memory_capacity_bytes, "peak_flops_per_s": dict(h.peak_flops_per_s),
            "efficiency": setting, "effective_bandwidth_bytes_per_s": bandwidth,
            "effective_peak_flops_per_s": peaks, "ridge_points": ridges}


def report_at(analysis: Analysis, i: int = 0) -> Report:
    """The results of scenario ``i`` of a vectorized analysis."""
    from .parallel.metrics import single_device
    from .parallel.report import communication_summary, parallelism_summary

    a, sc = analysis, analysis.scenario
    p = a.parallel if a.parallel is not None else single_device(a)
    P, G, B = int(sc.prompt_len[i]), int(sc.gen_len[i]), int(p.batch_size[i])
    scenario = {"batch_size": B, "prompt_len": P, "gen_len": G, "kv_len": int(sc.kv_len[i]),
                "w_bits": float(sc.weights.bits[i]), "a_bits": float(sc.activations.bits[i]),
                "kv_bits": float(sc.kv_cache.bits[i]), "state_bits": float(sc.state.bits[i]),
                "w_family": sc.weights.family, "a_family": sc.activations.family,
                "kv_family": sc.kv_cache.family, "state_family": sc.state.family,
                "w_format": sc.weights.name, "a_format": sc.activations.name, "kv_format": sc.kv_cache.name,
                "state_format": sc.state.name,
                "flash_attention": sc.flash_attention, "logits_all": sc.logits_all,
                "group_size": sc.group_size, "scale_bits": sc.scale_bits}
    return Report(
        model=model_summary(a), hardware=hardware_summary(a), scenario=scenario,
        prefill=_stage("prefill", a.prefill, i, P, P, a.prefill_total),
        decode=_stage("decode", a.decode, i, 1, int(sc.kv_len[i]), a.decode_total),
        generation=GenerationResult(prompt_len=P, gen_len=G, batch_size=B, ttft_s=float(p.ttft_s[i]),
                                    tpot_s=_num(p.tpot_s[i]), e2e_s=float(p.e2e_s[i]),
                                    throughput_tokens_per_s=_num(p.throughput_tokens_per_s[i]),
                                    throughput_tokens_per_s_per_device=_num(p.throughput_tokens_per_s_per_device[i])),
        memory=MemoryResult(weights_bytes=float(p.weights_bytes[i]), kv_cache_bytes=float(p.kv_cache_bytes[i]),
                            activations_bytes=float(p.activations_bytes[i]),
                            comm_buffer_bytes=float(p.comm_buffer_bytes[i]), total_bytes=float(p.total_bytes[i]),
                            capacity_bytes=float(p.capacity_bytes), fits=bool(p.fits[i]),
                            max_batch_size=int(p.max_batch_size[i]), **_placed(a.memory, p, i)),
        parallelism=parallelism_summary(a, p, i), communication=communication_summary(a, p, i),
        techniques=_techniques(a, i), optimizations=optimizations_summary(a, i),
    )


def _techniques(analysis: Analysis, i: int):
    if analysis.techniques is None:
        return None
    from .techniques.report import techniques_report

    return techniques_report(analysis, i)


def _placed(mem, p, i: int) -> dict:
    """Memory by place (techniques/placement.py): device and host bytes; the host's capacity (None
    when nothing is offloaded or the place is a disk, which has no limit here). Without optimizations that
    place memory, all of it (``p``'s per-device total) is on the device."""
    if mem.device_bytes is None:
        return {"device_bytes": float(p.total_bytes[i])}
    capacity = mem.host_capacity_bytes
    return {"kv_cache_shared_bytes": float(mem.kv_cache_shared_bytes[i]), "device_bytes": float(mem.device_bytes[i]),
            "host_bytes": float(mem.host_bytes[i]),
            "host_capacity_bytes": float(capacity) if capacity and math.isfinite(capacity) else None}
