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
from .engine import Analysis, evaluate
from .errors import ConfigError, ScenarioError
from .hardware.spec import IDEAL, Efficiency, Hardware
from .models.spec import ModelSpec
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


def analyze(model: str | ModelSpec, hardware: str | Hardware, *, batch_size: int = DEFAULT_BATCH_SIZE,
            prompt_len: int = DEFAULT_PROMPT_LEN, gen_len: int = DEFAULT_GEN_LEN, kv_len: int | None = None,
            w_bits: int | str = DEFAULT_BITS, a_bits: int | str = DEFAULT_BITS, kv_bits: int | str = DEFAULT_BITS,
            flash_attention: bool = False, logits_all: bool = False, group_size: int = DEFAULT_GROUP_SIZE,
            scale_bits: int = DEFAULT_SCALE_BITS, efficiency: str | Efficiency | Mapping = "ideal",
            force_llama_like: bool = False) -> Report:
    """Roofline analysis of one scenario: per-operator prefill and decode-step tables, totals,
    whole-generation metrics (TTFT, TPOT, e2e, tokens/s) and the memory footprint.

    ``kv_len``: KV length of the reported decode step (default: prompt_len, LLM-Viewer's
    convention); ``gen_len`` decode steps follow the prompt in ``generation`` (default
    ``DEFAULT_GEN_LEN`` = 256; 0 leaves TPOT and throughput None).
    """
    for name, value in (("batch_size", batch_size), ("prompt_len", prompt_len), ("gen_len", gen_len),
                        ("kv_len", kv_len), ("w_bits", w_bits), ("a_bits", a_bits), ("kv_bits", kv_bits)):
        if np.ndim(value) != 0:
            raise ScenarioError(f"{name}: analyze() takes one value; use sweep() for lists")
    return report_at(analyze_many(model, hardware, batch_size=batch_size, prompt_len=prompt_len,
                                  gen_len=gen_len, kv_len=kv_len, w_bits=w_bits, a_bits=a_bits,
                                  kv_bits=kv_bits, flash_attention=flash_attention, logits_all=logits_all,
                                  group_size=group_size, scale_bits=scale_bits, efficiency=efficiency,
                                  force_llama_like=force_llama_like), 0)


def analyze_many(model, hardware, *, efficiency="ideal", force_llama_like: bool = False, **scenario) -> Analysis:
    """The vectorized engine on equal-length lists (or scalars): one Analysis over all of them."""
    spec = load_model(model, force_llama_like=force_llama_like)
    device = load_hardware(hardware)
    return evaluate(spec, device, Scenario.build(**scenario), resolve_efficiency(efficiency, device))




@dataclass(frozen=True)
class SweepResult:
    """A grid of scenarios: ``columns`` maps each column name to an array (one row per point)."""

    analysis: Analysis
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.analysis.scenario.size)

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
        return report_at(self.analysis, i)


def sweep(model, hardware, *, efficiency="ideal", flash_attention: bool = False, logits_all: bool = False,
          group_size: int = DEFAULT_GROUP_SIZE, scale_bits: int = DEFAULT_SCALE_BITS, force_llama_like: bool = False,
          **axes) -> SweepResult:
    """Every combination of the listed values (a Cartesian grid) in one vectorized call, e.g.
    ``sweep(m, h, batch_size=range(1, 513), prompt_len=[128, 256, ..., 16384])``. An axis not given
    takes its default (``llm_roofline.defaults``: gen_len 256, prompt_len 1024, ...)."""
    unknown = set(axes) - set(SWEEP_AXES)
    if unknown:
        raise ScenarioError(f"unknown sweep axis {sorted(unknown)}; valid: {', '.join(SWEEP_AXES)}")
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
    scenario = {**fixed, **{name: g.ravel() for name, g in zip(listed, grid, strict=True)}}
    analysis = analyze_many(model, hardware, efficiency=efficiency, flash_attention=flash_attention,
                            logits_all=logits_all, group_size=group_size, scale_bits=scale_bits,
                            force_llama_like=force_llama_like, **scenario)
    return SweepResult(analysis=analysis, columns=sweep_columns(analysis))


def sweep_columns(a: Analysis) -> dict[str, np.ndarray]:
    """The documented columns of a sweep (CSV header order)."""
    sc, g, m = a.scenario, a.generation, a.memory
    return {
        "batch_size": sc.batch_size, "prompt_len": sc.prompt_len, "gen_len": sc.gen_len,
        "kv_len": sc.kv_len, "w_bits": sc.weights.bits, "a_bits": sc.activations.bits,
        "kv_bits": sc.kv_cache.bits,
        "prefill_flops": a.prefill_total.flops, "prefill_bytes": a.prefill_total.bytes,
        "prefill_time_s": a.prefill_total.time_s, "prefill_tokens_per_s": a.prefill_total.tokens_per_s,
        "decode_flops": a.decode_total.flops, "decode_bytes": a.decode_total.bytes,
        "decode_time_s": a.decode_total.time_s, "decode_tokens_per_s": a.decode_total.tokens_per_s,
        "ttft_s": g.ttft_s, "tpot_s": g.tpot_s, "e2e_s": g.e2e_s,
        "throughput_tokens_per_s": g.throughput_tokens_per_s,
        "weights_bytes": m.weights_bytes, "kv_cache_bytes": m.kv_cache_bytes,
        "activations_bytes": m.activations_bytes, "total_bytes": m.total_bytes,
        "fits": m.fits, "max_batch_size": m.max_batch_size,
    }

