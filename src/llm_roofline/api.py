"""The public Python API: analyze one scenario, sweep many. Every face calls these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from .defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BITS,
    DEFAULT_GEN_LEN,
    DEFAULT_GROUP_SIZE,
    DEFAULT_PROMPT_LEN,
    DEFAULT_SCALE_BITS,
    DEFAULT_STATE_BITS,
)
from .engine import Analysis, evaluate
from .errors import ConfigError, ScenarioError
from .hardware.spec import IDEAL, Efficiency, Hardware
from .inputs import describe, kind_of
from .models.spec import ModelSpec
from .result import Report, report_at
from .sweeps import SWEEP_AXES, SweepResult, sweep, sweep_chunks, sweep_columns

__all__ = ["EFFICIENCY_MODES", "SWEEP_AXES", "SweepResult", "analyze", "analyze_many", "load_hardware",
           "load_model", "resolve_efficiency", "sweep", "sweep_chunks", "sweep_columns"]

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

    return load(model, force_llama_like=force_llama_like)


def load_hardware(hardware: str | Hardware, **overrides) -> Hardware:
    """A catalog name or alias (LLM-Viewer's names work), a YAML file, or a Hardware; with optional
    overrides (memory_bandwidth_bytes_per_s, memory_capacity_bytes, peak_flops_per_s, ...)."""
    from .hardware.catalog import load_hardware as load

    if isinstance(hardware, Hardware):
        if not any(v is not None for v in overrides.values()):
            return hardware
        from .hardware.catalog import with_overrides

        return with_overrides(hardware, **overrides)
    return load(hardware, **overrides)


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
    elif isinstance(efficiency, str) and efficiency == "ideal":
        base = IDEAL
    elif isinstance(efficiency, str) and efficiency == "hardware":
        base = hardware.efficiency
    else:
        raise ScenarioError(f"efficiency must be one of {', '.join(EFFICIENCY_MODES)}, an Efficiency or a "
                            f"mapping of its fields, not {kind_of(efficiency)} (got {describe(efficiency)})")
    custom = {"compute_fraction": compute_fraction, "bandwidth_fraction": bandwidth_fraction,
              "kernel_overhead_s": kernel_overhead_s}
    custom = {k: v for k, v in custom.items() if v is not None}
    return replace(base, **custom) if custom else base


def analyze(model: str | ModelSpec, hardware: str | Hardware, *, batch_size: int = DEFAULT_BATCH_SIZE,
            prompt_len: int = DEFAULT_PROMPT_LEN, gen_len: int = DEFAULT_GEN_LEN, kv_len: int | None = None,
            w_bits: int | str | None = None, a_bits: int | str = DEFAULT_BITS, kv_bits: int | str = DEFAULT_BITS,
            state_bits: int | str = DEFAULT_STATE_BITS,
            flash_attention: bool = False, logits_all: bool = False, group_size: int = DEFAULT_GROUP_SIZE,
            scale_bits: int = DEFAULT_SCALE_BITS, efficiency: str | Efficiency | Mapping = "ideal",
            force_llama_like: bool = False, **techniques) -> Report:
    """Roofline analysis of one scenario: per-operator prefill and decode-step tables, totals,
    whole-generation metrics (TTFT, TPOT, e2e, tokens/s) and the memory footprint.

    ``kv_len``: KV length of the reported decode step (default: prompt_len, LLM-Viewer's
    convention); ``gen_len`` decode steps follow the prompt in ``generation`` (default
    ``DEFAULT_GEN_LEN`` = 256; 0 leaves TPOT and throughput None). ``state_bits``: the recurrent
    states of Mamba, Mamba-2 and gated delta-net layers (default 32: float32, as transformers keeps
    them); ``kv_bits`` covers the attention KV cache only. ``w_bits`` None: the config's
    ``quantization_config`` when it has one (its format, and the modules it keeps in 16 bits), else 16.

    ``techniques``: compression and system techniques by keyword (all off by default; their names,
    values and formulas: docs/techniques.md), e.g. ``fusion="aggressive"``, ``attention="fa2"``,
    ``sparsity=0.5, sparse_format="csr"``, ``offload_weights=0.3``, ``kv_allocation="paged"``,
    ``prefix_len=512``, ``embed_bits=16``, ``module_bits={"experts": "fp4"}``, ``low_rank={"mlp": 0.25}``.
    """
    from .techniques.options import ARRAY_FIELDS

    for name, value in (("batch_size", batch_size), ("prompt_len", prompt_len), ("gen_len", gen_len),
                        ("kv_len", kv_len), ("w_bits", w_bits), ("a_bits", a_bits), ("kv_bits", kv_bits),
                        ("state_bits", state_bits), *((k, techniques[k]) for k in ARRAY_FIELDS if k in techniques)):
        if isinstance(value, list | tuple | range) or (isinstance(value, np.ndarray) and value.ndim > 0):
            raise ScenarioError(f"{name}: analyze() takes one value; use sweep() for lists")
    return report_at(analyze_many(model, hardware, batch_size=batch_size, prompt_len=prompt_len,
                                  gen_len=gen_len, kv_len=kv_len, w_bits=w_bits, a_bits=a_bits,
                                  kv_bits=kv_bits, state_bits=state_bits, flash_attention=flash_attention,
                                  logits_all=logits_all, group_size=group_size, scale_bits=scale_bits,
                                  efficiency=efficiency, force_llama_like=force_llama_like, **techniques), 0)


def analyze_many(model, hardware, *, efficiency="ideal", force_llama_like: bool = False, **options) -> Analysis:
    """The vectorized engine on equal-length lists (or scalars): one Analysis over all of them.
    ``options``: Scenario.build's values and the technique options (``analyze``)."""
    from .techniques.resolve import scenario_for, split_options

    spec = load_model(model, force_llama_like=force_llama_like)
    device = load_hardware(hardware)
    scenario, techniques = split_options(options)
    return evaluate(spec, device, scenario_for(spec, techniques, **scenario), resolve_efficiency(efficiency, device))
