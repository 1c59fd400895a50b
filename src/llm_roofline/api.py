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
from .engine import Analysis
from .errors import ConfigError, ScenarioError
from .hardware.spec import IDEAL, Efficiency, Hardware
from .hardware.system import System
from .inputs import describe, kind_of
from .models.spec import ModelSpec
from .parallel.analysis import evaluate_deployment
from .parallel.choices import OPTION_DEFAULTS
from .parallel.options import make_deployment, with_device
from .result import Report, report_at
from .sweeps import SWEEP_AXES, SweepResult, sweep, sweep_chunks, sweep_columns

__all__ = ["EFFICIENCY_MODES", "SWEEP_AXES", "SweepResult", "analyze", "analyze_many", "load_hardware",
           "load_model", "resolve_efficiency", "sweep", "sweep_chunks", "sweep_columns"]

EFFICIENCY_MODES = ("ideal", "hardware", "calibrated")


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
    return load(hardware, **overrides)


def resolve_efficiency(efficiency: str | Efficiency | Mapping, hardware: Hardware, *,
                       compute_fraction: float | None = None, bandwidth_fraction: float | None = None,
                       kernel_overhead_s: float | None = None, engine: str | None = None) -> Efficiency:
    """``ideal`` (the paper's roofline), ``hardware`` (the device entry's measured fractions),
    ``calibrated`` (fitted per-kernel curves under ``engine``, default generic; see
    docs/calibration.md), an Efficiency, or a mapping of its fields; any keyword given replaces that
    field (with ``calibrated``, ``kernel_overhead_s`` is the host launch cost per kernel of an
    engine without CUDA graphs; the fractions do not apply)."""
    if (isinstance(efficiency, str) and efficiency == "calibrated") or getattr(efficiency, "mode", "") == "calibrated":
        if compute_fraction is not None or bandwidth_fraction is not None:
            raise ScenarioError("compute_fraction and bandwidth_fraction apply to the ideal and hardware "
                                "settings; calibrated uses fitted per-kernel curves")
        if not isinstance(efficiency, str) and engine is None and kernel_overhead_s is None:
            return efficiency
        from .efficiency.model import calibrated

        name = engine if engine is not None else getattr(getattr(efficiency, "engine", None), "name", None)
        return calibrated(hardware, name, launch_overhead_s=kernel_overhead_s)
    if engine is not None:
        raise ScenarioError(f"engine {engine!r} selects calibrated kernel curves; use efficiency='calibrated'")
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


def analyze(model: str | ModelSpec, hardware: str | Hardware | System, *, batch_size: int = DEFAULT_BATCH_SIZE,
            prompt_len: int = DEFAULT_PROMPT_LEN, gen_len: int = DEFAULT_GEN_LEN, kv_len: int | None = None,
            w_bits: int | str | None = None, a_bits: int | str = DEFAULT_BITS, kv_bits: int | str = DEFAULT_BITS,
            state_bits: int | str = DEFAULT_STATE_BITS,
            flash_attention: bool = False, logits_all: bool = False, group_size: int = DEFAULT_GROUP_SIZE,
            scale_bits: int = DEFAULT_SCALE_BITS, efficiency: str | Efficiency | Mapping = "ideal",
            engine: str | None = None, force_llama_like: bool = False, speculative=None, early_exit=None,
            sparsity=None, kv_eviction=None, tp: int = 1, pp: int = 1, ep: int = 1, dp: int = 1,
            attention_dp: int = 1, **options) -> Report:
    """Roofline analysis of one scenario: per-operator prefill and decode-step tables, totals,
    whole-generation metrics (TTFT, TPOT, e2e, tokens/s) and the memory footprint.

    ``kv_len``: KV length of the reported decode step (default: prompt_len, LLM-Viewer's
    convention); ``gen_len`` decode steps follow the prompt in ``generation`` (default
    ``DEFAULT_GEN_LEN`` = 256; 0 leaves TPOT and throughput None). ``state_bits``: the recurrent
    states of Mamba, Mamba-2 and gated delta-net layers (default 32: float32, as transformers keeps
    them); ``kv_bits`` covers the attention KV cache only. ``w_bits`` None: the config's
    ``quantization_config`` when it has one (its format, and the modules it keeps in 16 bits), else 16.
    ``engine``: with ``efficiency="calibrated"``, whose kernels and host costs (vllm, sglang, trtllm,
    llama.cpp, gpt-fast, hf-eager; default generic).

    Several devices (docs/parallelism.md): ``tp``, ``pp``, ``ep``, ``dp``, ``attention_dp`` degrees on
    ``hardware`` = a system (``dgx-h100``, ``gb200-nvl72``, a YAML file) or a device (its first bundled
    system); options ``nodes``, ``micro_batches``, ``overlap``, ``ep_imbalance``, ``ep_comm``, ``comm``
    (ideal / fitted collectives; default: fitted with ``efficiency="hardware"`` or ``"calibrated"``),
    ``comm_library``, ``allreduce_algorithm``. ``batch_size`` is the sequences one replica serves; the
    tables show the most loaded device and the generation and memory are the deployment's.

    Fast-decoding techniques (docs/techniques.md; also with tp, ep, attention_dp, dp), each None (off) or
    its settings:
    ``speculative`` (a preset such as ``"eagle3"``, or a mapping such as ``{"method": "draft",
    "draft_model": "llama-3.2-1b", "k": 4, "alpha": 0.7}``), ``early_exit`` (a share of the layers, or a
    mapping), ``sparsity`` (``{"mlp": 0.2, "heads": 0.5}``), ``kv_eviction`` (``{"method": "h2o", "budget":
    1024}``). The report's ``techniques`` then says what was assumed and what changed.

    Compression and system optimizations by keyword (all off by default; names, values and formulas:
    docs/techniques.md), e.g. ``fusion="aggressive"``, ``attention="fa2"``, ``weight_sparsity=0.5,
    sparse_format="csr"``, ``offload_weights=0.3``, ``kv_allocation="paged"``, ``prefix_len=512``,
    ``embed_bits=16``, ``module_bits={"experts": "fp4"}``, ``low_rank={"mlp": 0.25}``; the report's
    ``optimizations`` says what was applied.
    """
    from .techniques.optimizations import ARRAY_FIELDS

    for name, value in (("batch_size", batch_size), ("prompt_len", prompt_len), ("gen_len", gen_len),
                        ("kv_len", kv_len), ("w_bits", w_bits), ("a_bits", a_bits), ("kv_bits", kv_bits),
                        ("state_bits", state_bits), ("tp", tp), ("pp", pp), ("ep", ep), ("dp", dp),
                        ("attention_dp", attention_dp), *((k, options[k]) for k in ARRAY_FIELDS if k in options)):
        if isinstance(value, list | tuple | range) or (isinstance(value, np.ndarray) and value.ndim > 0):
            raise ScenarioError(f"{name}: analyze() takes one value; use sweep() for lists")
    return report_at(analyze_many(model, hardware, batch_size=batch_size, prompt_len=prompt_len,
                                  gen_len=gen_len, kv_len=kv_len, w_bits=w_bits, a_bits=a_bits,
                                  kv_bits=kv_bits, state_bits=state_bits, flash_attention=flash_attention,
                                  logits_all=logits_all, group_size=group_size, scale_bits=scale_bits,
                                  efficiency=efficiency, engine=engine, force_llama_like=force_llama_like,
                                  speculative=speculative, early_exit=early_exit, sparsity=sparsity,
                                  kv_eviction=kv_eviction, tp=tp, pp=pp, ep=ep, dp=dp, attention_dp=attention_dp,
                                  **options), 0)


def analyze_many(model, hardware, *, efficiency="ideal", engine: str | None = None, force_llama_like: bool = False,
                 speculative=None, early_exit=None, sparsity=None, kv_eviction=None, tp=1, pp=1, ep=1, dp=1,
                 attention_dp=1, **scenario) -> Analysis:
    """The vectorized engine on equal-length lists (or scalars) for one deployment: one Analysis.
    ``scenario``: Scenario.build's values, the deployment's options and the optimization options
    (``analyze``)."""
    from .techniques.options import resolve_techniques
    from .techniques.resolve import scenario_for, split_options

    options = {k: scenario.pop(k) for k in list(scenario) if k in OPTION_DEFAULTS}
    deployment = make_deployment(tp=tp, pp=pp, ep=ep, dp=dp, attention_dp=attention_dp,
                                 efficiency=efficiency if isinstance(efficiency, str) else "", **options)
    spec = load_model(model, force_llama_like=force_llama_like)
    system = load_system(hardware, multi_device=not deployment.is_single_device)
    techniques = resolve_techniques(speculative=speculative, early_exit=early_exit, sparsity=sparsity,
                                    kv_eviction=kv_eviction, force_llama_like=force_llama_like)
    scenario, optimizations = split_options(scenario)
    return evaluate_deployment(spec, system, scenario_for(spec, optimizations, **scenario),
                               resolve_efficiency(efficiency, system.device, engine=engine), deployment, techniques)
