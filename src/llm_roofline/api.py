"""The public Python API: analyze one scenario, sweep many. Every face calls these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from .defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BITS,
    DEFAULT_GEN_LEN,
    DEFAULT_GROUP_SIZE,
    DEFAULT_PROMPT_LEN,
    DEFAULT_SCALE_BITS,
    SWEEP_AXES,
)
from .engine import Analysis
from .errors import ConfigError, ScenarioError
from .hardware.spec import IDEAL, Efficiency, Hardware
from .hardware.system import System
from .models.spec import ModelSpec
from .parallel.analysis import evaluate_deployment
from .parallel.options import DEGREE_AXES, OPTION_DEFAULTS, make_deployment, with_device
from .result import Report, report_at
from .scenario import Scenario

EFFICIENCY_MODES = ("ideal", "hardware")


def load_model(model: str | ModelSpec, *, force_llama_like: bool = False) -> ModelSpec:
    """A catalog id or alias, a path to a HF config.json (or its folder), or a ModelSpec.
    A config whose model_type no parser knows is an error, unless ``force_llama_like``: then it is
    read as a Llama-style decoder and ``spec.warnings`` (JSON ``model.warnings``) says so."""
    if not isinstance(force_llama_like, bool):
        raise ConfigError(f"force_llama_like must be True or False, got {force_llama_like!r}")
    if isinstance(model, ModelSpec):
        return model
    from .models.catalog import load_model as load

    return load(str(model), force_llama_like=force_llama_like)


def load_system(system: str | System | Hardware, *, multi_device: bool = True, **overrides) -> System:
    """A system (devices and links) by name, alias or YAML file; a device name gives the first bundled
    system built from it (``multi_device``) or that one device alone. Device overrides as in
    ``load_hardware`` apply to the system's device."""
    from .hardware.systems import resolve_system

    resolved = resolve_system(system, multi_device=multi_device)
    return with_device(resolved, load_hardware(resolved.device, **overrides))


def load_hardware(hardware: str | Hardware, **overrides) -> Hardware:
    """A catalog name or alias (LLM-Viewer's names work), a YAML file, or a Hardware; with optional
    overrides (memory_bandwidth_bytes_per_s, memory_capacity_bytes, peak_flops_per_s, ...)."""
    from .hardware.catalog import load_hardware as load

    if isinstance(hardware, Hardware):
        if not any(v is not None for v in overrides.values()):
            return hardware
        from .hardware.catalog import with_overrides

        return with_overrides(hardware, **overrides)
    return load(str(hardware), **overrides)


def resolve_efficiency(efficiency: str | Efficiency | Mapping, hardware: Hardware, *,
                       compute_fraction: float | None = None, bandwidth_fraction: float | None = None,
                       kernel_overhead_s: float | None = None) -> Efficiency:
    """``ideal`` (the paper's roofline), ``hardware`` (the device entry's measured fractions),
    an Efficiency, or a mapping of its fields; any keyword given replaces that field."""
    if isinstance(efficiency, Efficiency):
        base = efficiency
    elif isinstance(efficiency, Mapping):
        try:
            base = Efficiency(**efficiency)
        except TypeError as exc:
            raise ConfigError(f"efficiency: {exc}; fields are compute_fraction, bandwidth_fraction, "
                              "kernel_overhead_s") from None
    elif efficiency == "ideal":
        base = IDEAL
    elif efficiency == "hardware":
        base = hardware.efficiency
    else:
        raise ScenarioError(f"efficiency must be one of {EFFICIENCY_MODES}, got {efficiency!r}")
    custom = {"compute_fraction": compute_fraction, "bandwidth_fraction": bandwidth_fraction,
              "kernel_overhead_s": kernel_overhead_s}
    custom = {k: v for k, v in custom.items() if v is not None}
    return replace(base, **custom) if custom else base


def analyze(model: str | ModelSpec, hardware: str | Hardware | System, *, batch_size: int = DEFAULT_BATCH_SIZE,
            prompt_len: int = DEFAULT_PROMPT_LEN, gen_len: int = DEFAULT_GEN_LEN, kv_len: int | None = None,
            w_bits: int | str = DEFAULT_BITS, a_bits: int | str = DEFAULT_BITS, kv_bits: int | str = DEFAULT_BITS,
            flash_attention: bool = False, logits_all: bool = False, group_size: int = DEFAULT_GROUP_SIZE,
            scale_bits: int = DEFAULT_SCALE_BITS, efficiency: str | Efficiency | Mapping = "ideal",
            force_llama_like: bool = False, tp: int = 1, pp: int = 1, ep: int = 1, dp: int = 1,
            attention_dp: int = 1, **parallel) -> Report:
    """Roofline analysis of one scenario: per-operator prefill and decode-step tables, totals,
    whole-generation metrics (TTFT, TPOT, e2e, tokens/s) and the memory footprint.

    ``kv_len``: KV length of the reported decode step (default: prompt_len, LLM-Viewer's
    convention); ``gen_len`` decode steps follow the prompt in ``generation`` (default
    ``DEFAULT_GEN_LEN`` = 256; 0 leaves TPOT and throughput None).

    Several devices (docs/parallelism.md): ``tp``, ``pp``, ``ep``, ``dp``, ``attention_dp`` degrees on
    ``hardware`` = a system (``dgx-h100``, ``gb200-nvl72``, a YAML file) or a device (its first bundled
    system); options ``nodes``, ``micro_batches``, ``overlap``, ``ep_imbalance``, ``ep_comm``, ``comm``
    (ideal / fitted collectives; default: fitted with ``efficiency="hardware"``), ``comm_library``,
    ``allreduce_algorithm``. ``batch_size`` is the sequences one replica serves; the tables show the
    most loaded device and the generation and memory are the deployment's.
    """
    for name, value in (("batch_size", batch_size), ("prompt_len", prompt_len), ("gen_len", gen_len),
                        ("kv_len", kv_len), ("w_bits", w_bits), ("a_bits", a_bits), ("kv_bits", kv_bits),
                        ("tp", tp), ("pp", pp), ("ep", ep), ("dp", dp), ("attention_dp", attention_dp)):
        if np.ndim(value) != 0:
            raise ScenarioError(f"{name}: analyze() takes one value; use sweep() for lists")
    return report_at(analyze_many(model, hardware, batch_size=batch_size, prompt_len=prompt_len,
                                  gen_len=gen_len, kv_len=kv_len, w_bits=w_bits, a_bits=a_bits,
                                  kv_bits=kv_bits, flash_attention=flash_attention, logits_all=logits_all,
                                  group_size=group_size, scale_bits=scale_bits, efficiency=efficiency,
                                  force_llama_like=force_llama_like, tp=tp, pp=pp, ep=ep, dp=dp,
                                  attention_dp=attention_dp, **parallel), 0)


def analyze_many(model, hardware, *, efficiency="ideal", force_llama_like: bool = False, tp=1, pp=1, ep=1, dp=1,
                 attention_dp=1, **scenario) -> Analysis:
    """The vectorized engine on equal-length lists (or scalars) for one deployment: one Analysis."""
    options = {k: scenario.pop(k) for k in list(scenario) if k in OPTION_DEFAULTS}
    deployment = make_deployment(tp=tp, pp=pp, ep=ep, dp=dp, attention_dp=attention_dp,
                                 efficiency=efficiency if isinstance(efficiency, str) else "", **options)
    spec = load_model(model, force_llama_like=force_llama_like)
    system = load_system(hardware, multi_device=not deployment.is_single_device)
    return evaluate_deployment(spec, system, Scenario.build(**scenario),
                               resolve_efficiency(efficiency, system.device), deployment)




@dataclass(frozen=True)
class SweepResult:
    """A grid of scenarios: ``columns`` maps each column name to an array (one row per point).
    ``groups``: (row indices, Analysis) per deployment (degree tuple) of the grid; one without degrees."""

    groups: tuple[tuple[np.ndarray, Analysis], ...]
    columns: dict[str, np.ndarray]

    @property
    def analysis(self) -> Analysis:
        """The one Analysis of a sweep over a single deployment."""
        if len(self.groups) != 1:
            raise ScenarioError(f"this sweep spans {len(self.groups)} deployments; use .groups or .report(i)")
        return self.groups[0][1]

    def __len__(self) -> int:
        return int(next(iter(self.columns.values())).shape[0])

    def to_records(self) -> list[dict]:
        names = list(self.columns)
        return [dict(zip(names, (c[i].item() for c in self.columns.values()), strict=True))
                for i in range(len(self))]

    def to_dataframe(self):
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover
            raise ImportError("to_dataframe() needs pandas: pip install 'llm-roofline[dataframe]'") from exc
        return pd.DataFrame(self.columns)

    def report(self, i: int) -> Report:
        for rows, analysis in self.groups:
            where = np.flatnonzero(rows == i)
            if where.size:
                return report_at(analysis, int(where[0]))
        raise IndexError(f"sweep point {i} out of range 0..{len(self) - 1}")


def sweep(model, hardware, *, efficiency="ideal", flash_attention: bool = False, logits_all: bool = False,
          group_size: int = DEFAULT_GROUP_SIZE, scale_bits: int = DEFAULT_SCALE_BITS, force_llama_like: bool = False,
          **axes) -> SweepResult:
    """Every combination of the listed values (a Cartesian grid), e.g. ``sweep(m, h, batch_size=range(1,
    513), prompt_len=[128, ..., 16384])``. An axis not given takes its default (``llm_roofline.defaults``:
    gen_len 256, prompt_len 1024, ...). Degrees of parallelism (``tp``, ``pp``, ``ep``, ``dp``,
    ``attention_dp``) are axes too: the grid is grouped by degree tuple and each group is one vectorized
    engine call. Parallel options (``nodes``, ``overlap``, ...) take one value."""
    options = {k: axes.pop(k) for k in list(axes) if k in OPTION_DEFAULTS}
    unknown = set(axes) - set(SWEEP_AXES) - set(DEGREE_AXES)
    if unknown:
        raise ScenarioError(f"unknown sweep axis {sorted(unknown)}; valid: {', '.join(SWEEP_AXES + DEGREE_AXES)}")
    fixed, listed = {}, {}
    for name, value in axes.items():
        if value is None:
            continue
        if isinstance(value, str) or np.ndim(value) == 0:
            fixed[name] = value
            continue
        values = list(value)
        if not values:
            raise ScenarioError(f"{name}: empty list")
        if any(isinstance(v, str) for v in values):
            raise ScenarioError(f"{name}: a swept bit-width takes numbers; a named format is a single value")
        listed[name] = values
    grid = np.meshgrid(*listed.values(), indexing="ij") if listed else []
    points = {name: g.ravel() for name, g in zip(listed, grid, strict=True)}
    n = next(iter(points.values())).size if points else 1
    degrees = np.stack([np.broadcast_to(_degree(name, points.get(name, fixed.get(name, 1))), (n,))
                        for name in DEGREE_AXES])
    tuples, which = np.unique(degrees, axis=1, return_inverse=True)
    groups, columns = [], {}
    common = dict(efficiency=efficiency, flash_attention=flash_attention, logits_all=logits_all,
                  group_size=group_size, scale_bits=scale_bits, force_llama_like=force_llama_like, **options)
    for g in range(tuples.shape[1]):
        rows = np.flatnonzero(which.ravel() == g)
        scenario = {k: v for k, v in fixed.items() if k not in DEGREE_AXES}
        scenario.update({k: v[rows] for k, v in points.items() if k not in DEGREE_AXES})
        degree = {name: int(tuples[i, g]) for i, name in enumerate(DEGREE_AXES)}
        analysis = analyze_many(model, hardware, **common, **degree, **scenario)
        groups.append((rows, analysis))
        for key, values in sweep_columns(analysis, parallel=any(k in DEGREE_AXES for k in axes)).items():
            values = np.broadcast_to(values, rows.shape)
            if key not in columns:
                columns[key] = np.empty(n, dtype=values.dtype)
            columns[key][rows] = values
    return SweepResult(groups=tuple(groups), columns=columns)


def _degree(name: str, value) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "iu" and not (array.dtype.kind == "f" and np.all(array == np.round(array))):
        raise ScenarioError(f"{name} must be a whole number or a list of them, got {value!r}")
    return array.astype(np.int64)


def sweep_columns(a: Analysis, parallel: bool = False) -> dict[str, np.ndarray]:
    """The documented columns of a sweep (CSV header order). Stage columns (prefill_*, decode_*) are one
    device's tables; generation and memory columns are the deployment's (memory per device). With
    ``parallel`` (a sweep given degrees of parallelism) the degrees, devices, the device's batch,
    tokens/s per device, communication time and buffers are added."""
    sc, p = a.scenario, a.parallel
    columns = {
        "batch_size": p.batch_size, "prompt_len": sc.prompt_len, "gen_len": sc.gen_len,
        "kv_len": sc.kv_len, "w_bits": sc.weights.bits, "a_bits": sc.activations.bits,
        "kv_bits": sc.kv_cache.bits,
        "prefill_flops": a.prefill_total.flops, "prefill_bytes": a.prefill_total.bytes,
        "prefill_time_s": a.prefill_total.time_s, "prefill_tokens_per_s": a.prefill_total.tokens_per_s,
        "decode_flops": a.decode_total.flops, "decode_bytes": a.decode_total.bytes,
        "decode_time_s": a.decode_total.time_s, "decode_tokens_per_s": a.decode_total.tokens_per_s,
        "ttft_s": p.ttft_s, "tpot_s": p.tpot_s, "e2e_s": p.e2e_s,
        "throughput_tokens_per_s": p.throughput_tokens_per_s,
        "weights_bytes": p.weights_bytes, "kv_cache_bytes": p.kv_cache_bytes,
        "activations_bytes": p.activations_bytes, "total_bytes": p.total_bytes,
        "fits": p.fits, "max_batch_size": p.max_batch_size,
    }
    if not parallel:
        return columns
    d = None if p.layout is None else p.layout.deployment
    n = sc.size
    extra = {name: np.full(n, 1 if d is None else getattr(d, name), dtype=np.int64) for name in DEGREE_AXES}
    extra.update({"devices": np.full(n, p.devices, dtype=np.int64), "device_batch": p.device_batch,
                  "throughput_tokens_per_s_per_device": p.throughput_tokens_per_s_per_device,
                  "prefill_comm_time_s": p.prefill_comm_time_s, "decode_comm_time_s": p.decode_comm_time_s,
                  "comm_buffer_bytes": p.comm_buffer_bytes})
    return {**columns, **extra}
