"""The web face's calls into the engine: requests -> model, device, efficiency, scenario -> results.

Safety: a model or device named by a client is only ever looked up in the bundled catalogs, after a
membership check, so no client string reaches the engine's file-loading branch; an uploaded
config.json is a dict parsed in memory (bounded in size by the app, in layer count here).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from typing import Any

from ..api import analyze_many, sweep
from ..engine import Analysis
from ..errors import ConfigError, RooflineError, ScenarioError, UnknownNameError
from ..hardware.spec import Efficiency, Hardware
from ..limits import MAX_LAYERS, MAX_NESTING
from ..models.spec import ModelSpec
from ..parallel.choices import DEGREE_AXES, OPTION_DEFAULTS, default_comm
from ..result import report_at
from .cache import BoundedCache
from .schemas import MAX_SWEEP_POINTS, AdviseRequest, AnalyzeRequest, Scenario, SweepRequest

# An uploaded config may not ask for more decoder layers (MAX_LAYERS, or longer lists), nor nest
# deeper, than any config file may (llm_roofline.limits).
MAX_DEPTH = MAX_NESTING
# A config field that counts layers: num_hidden_layers, n_layer, num_layers, n_layers, num_decoder_layers...
# (not vocab_size_per_layer_input or layer_norm_eps: only a name that ends in "layer(s)").
LAYER_COUNT_KEY = re.compile(r"(^|_)(num_|n_)?\w*layers?$", re.IGNORECASE)


class ApiError(RooflineError):
    """A request error that names its field."""

    def __init__(self, field: str | None, message: str, suggestions: list[str] | None = None):
        super().__init__(message)
        self.field = field
        self.suggestions = suggestions or []


UPLOADS = BoundedCache(64, size_of=lambda _: 1)  # parsed uploaded configs (ModelSpec) by content digest


def digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --- catalogs ----------------------------------------------------------------------------------

def catalog_model(name: str) -> ModelSpec:
    """A catalog model by id or alias; anything else (paths included) is an unknown name."""
    from ..models.catalog import catalog_model as lookup

    return lookup(name)


def catalog_hardware(name: str, **overrides) -> Hardware:
    """A catalog device (by name or alias), with optional overrides; never a file."""
    from ..hardware.catalog import catalog_hardware as lookup
    from ..hardware.catalog import with_overrides

    device = lookup(name)
    return with_overrides(device, **overrides) if any(v is not None for v in overrides.values()) else device


def list_models() -> list[dict]:
    from ..models.catalog import list_models as catalog

    return catalog()


@functools.cache
def list_hardware() -> list[dict]:
    from ..hardware.catalog import list_hardware as catalog

    out = []
    for d in catalog():
        out.append({"name": d.name, "aliases": list(d.aliases), "vendor": d.vendor, "kind": d.kind,
                    "memory_bandwidth_bytes_per_s": d.memory_bandwidth_bytes_per_s,
                    "memory_capacity_bytes": d.memory_capacity_bytes,
                    "peak_flops_per_s": dict(d.peak_flops_per_s),
                    "efficiency": {"compute_fraction": d.efficiency.compute_fraction,
                                   "bandwidth_fraction": d.efficiency.bandwidth_fraction,
                                   "kernel_overhead_s": d.efficiency.kernel_overhead_s},
                    "source_url": d.source_url, "notes": d.notes})
    return out


# --- uploaded configs ----------------------------------------------------------------------------

def check_config_size(config: Any, depth: int = 0) -> None:
    """Reject configs that would make the parser do unbounded work: too many layers, very long
    lists, deep nesting."""
    if depth > MAX_DEPTH:
        raise ApiError("config", f"config: nested more than {MAX_DEPTH} levels deep")
    if isinstance(config, dict):
        for key, value in config.items():
            if (LAYER_COUNT_KEY.search(str(key)) and isinstance(value, int | float) and not isinstance(value, bool)
                    and value > MAX_LAYERS):
                raise ApiError("config", f"config: field {key!r} must be at most {MAX_LAYERS} layers, "
                                         f"got {str(value)[:30]}")
            check_config_size(value, depth + 1)
    elif isinstance(config, list):
        if len(config) > MAX_LAYERS:
            raise ApiError("config", f"config: a list has {len(config)} entries; at most {MAX_LAYERS} are allowed")
        for value in config:
            check_config_size(value, depth + 1)


def finite_json(value: Any) -> Any:
    """``value`` with non-finite floats as None: JSON has no Infinity. An uploaded config that parsed
    holds them only in fields the parser does not read (Nemotron-H's ``time_step_limit``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_json(v) for v in value]
    return value


def display_name(config: dict, given: str | None) -> str:
    """A display name only (never a path): the given name, else the config's ``_name_or_path``."""
    for candidate in (given, config.get("_name_or_path"), config.get("name")):
        if isinstance(candidate, str) and candidate.strip():
            text = "".join(c for c in candidate.strip() if c.isprintable())
            return text[:200] or "uploaded model"
    return "uploaded model"


def uploaded_model(config: dict, name: str | None = None) -> ModelSpec:
    from ..models.hf_config import spec_from_hf_config

    check_config_size(config)
    label = display_name(config, name)

    def parse() -> ModelSpec:
        return spec_from_hf_config(config, name=label, source="uploaded config.json", where="config.json")

    return UPLOADS.get_or_make(digest(config, label), parse)


# --- requests -> engine arguments ----------------------------------------------------------------

def resolve_model(req: AnalyzeRequest) -> ModelSpec:
    config = getattr(req, "config", None)
    if (req.model is None) == (config is None):
        raise ApiError("model", "model: give either 'model' (a catalog name, see /api/models) or 'config' "
                                "(an uploaded config.json object), not both or neither")
    if req.model is not None:
        return catalog_model(req.model)
    return uploaded_model(config, getattr(req, "config_name", None))


def resolve_hardware(req: AnalyzeRequest) -> Hardware:
    custom = getattr(req, "custom_hardware", None)
    if (req.hardware is None) == (custom is None):
        raise ApiError("hardware", "hardware: give either 'hardware' (a catalog name, see /api/hardware) or "
                                   "'custom_hardware', not both or neither")
    overrides = {"memory_bandwidth_bytes_per_s": req.memory_bandwidth_bytes_per_s,
                 "memory_capacity_bytes": req.memory_capacity_bytes,
                 "peak_flops_per_s": req.peak_flops_per_s}
    if custom is not None:
        device = Hardware(name=custom.name, memory_bandwidth_bytes_per_s=custom.memory_bandwidth_bytes_per_s,
                          memory_capacity_bytes=custom.memory_capacity_bytes,
                          peak_flops_per_s=dict(custom.peak_flops_per_s), notes="custom device")
        if any(v is not None for v in overrides.values()):
            from ..hardware.catalog import with_overrides

            device = with_overrides(device, **overrides)
        return device
    return catalog_hardware(req.hardware, **overrides)


def resolve_efficiency(req: Scenario, device: Hardware) -> Efficiency:
    """As the CLI: ``ideal``, ``hardware`` or ``calibrated`` (under ``engine``), with any given fraction or
    overhead replacing its field."""
    from ..api import resolve_efficiency as resolve

    overhead = None if req.kernel_overhead_us is None else req.kernel_overhead_us * 1e-6
    return resolve(req.efficiency, device, compute_fraction=req.compute_fraction,
                   bandwidth_fraction=req.bandwidth_fraction, kernel_overhead_s=overhead, engine=req.engine)


PARALLEL_FIELDS = (*DEGREE_AXES, *OPTION_DEFAULTS)


def parallel_kwargs(req: Scenario) -> dict:
    """The deployment options of a request (collectives default to the efficiency setting, as the CLI)."""
    out = {name: getattr(req, name) for name in PARALLEL_FIELDS}
    if out["comm"] is None:
        out["comm"] = default_comm(req.efficiency)
    return out


def is_multi_device(req: Scenario) -> bool:
    return req.tp * req.pp * req.dp * req.attention_dp > 1


def resolve_target(req: AnalyzeRequest):
    """The device (one device) or the catalog system (several) a request runs on; never a file."""
    if not is_multi_device(req):
        return resolve_hardware(req)
    if getattr(req, "custom_hardware", None) is not None:
        raise ApiError("hardware", "hardware: custom device numbers describe one device; several devices (tp, pp, "
                                   "dp, attention_dp > 1) need a catalog system or device")
    from ..hardware.catalog import catalog_hardware as device_lookup
    from ..hardware.systems import all_system_names, find_system, systems_with_device
    from ..parallel.options import with_device

    system = find_system(req.hardware)
    if system is None:
        try:
            device = device_lookup(req.hardware)
        except UnknownNameError:
            raise UnknownNameError("hardware", req.hardware, all_system_names()) from None
        systems = systems_with_device(device)
        if not systems:
            raise ApiError("hardware", f"hardware: no bundled system is built from {device.name}; pick a system "
                                       "(GET /api/systems) for several devices")
        system = systems[0]
    overrides = {"memory_bandwidth_bytes_per_s": req.memory_bandwidth_bytes_per_s,
                 "memory_capacity_bytes": req.memory_capacity_bytes, "peak_flops_per_s": req.peak_flops_per_s}
    if any(v is not None for v in overrides.values()):
        from ..hardware.catalog import with_overrides

        system = with_device(system, with_overrides(system.device, **overrides))
    return system


@functools.cache
def list_systems() -> list[dict]:
    from ..hardware.systems import list_systems as catalog
    from ..systemtext import system_dict

    return [system_dict(s) for s in catalog()]


def scenario_kwargs(req: Scenario) -> dict:
    return {"batch_size": req.batch_size, "prompt_len": req.prompt_len, "gen_len": req.gen_len,
            "kv_len": req.kv_len, "w_bits": req.w_bits, "a_bits": req.a_bits,
            "kv_bits": req.kv_bits, "state_bits": req.state_bits, "flash_attention": req.flash_attention,
            "logits_all": req.logits_all, "group_size": req.group_size, "scale_bits": req.scale_bits}


TECHNIQUES = ("speculative", "early_exit", "sparsity", "kv_eviction")


def technique_kwargs(req: AnalyzeRequest) -> dict:
    """The techniques as ``analyze`` takes them; a draft model only from the catalog (never a file)."""
    t = getattr(req, "techniques", None)
    if t is None:
        return {}
    out = {name: getattr(t, name) for name in TECHNIQUES if getattr(t, name) is not None}
    spec = out.get("speculative")
    if isinstance(spec, dict) and spec.get("draft_model") is not None:
        name = spec["draft_model"]
        if not isinstance(name, str) or not 0 < len(name) <= 200:
            raise ApiError("techniques", "techniques.speculative.draft_model must be a catalog model name")
        try:
            out["speculative"] = {**spec, "draft_model": catalog_model(name)}
        except UnknownNameError as exc:
            raise ApiError("techniques", f"techniques.speculative.draft_model: {exc}", exc.suggestions) from None
    return out


def optimization_kwargs(req: AnalyzeRequest) -> dict:
    """The optimizations as ``analyze`` takes them (those set away from their defaults); the host CPU only
    from the catalog (never a file)."""
    o = getattr(req, "optimizations", None)
    if o is None:
        return {}
    out = {k: v for k, v in o.model_dump().items() if v is not None and v != type(o).model_fields[k].default}
    if "host" in out:
        try:
            out["host"] = catalog_hardware(out["host"])
        except UnknownNameError as exc:
            raise ApiError("optimizations", f"optimizations.host: {exc}", exc.suggestions) from None
    return out


def analysis(req: AnalyzeRequest) -> Analysis:
    """The engine's analysis of one scenario (what ``llm_roofline.analyze`` reports on)."""
    model = resolve_model(req)
    target = resolve_target(req)
    eff = resolve_efficiency(req, target if isinstance(target, Hardware) else target.device)
    return analyze_many(model, target, efficiency=eff, **scenario_kwargs(req), **parallel_kwargs(req),
                        **technique_kwargs(req), **optimization_kwargs(req))


def advice(req: AdviseRequest) -> dict:
    """``llm_roofline.advise`` on the request's scenario (one device; its techniques are the baseline's)."""
    from ..techniques.advise import advise

    if req.techniques is not None and any(getattr(req.techniques, n) is not None for n in TECHNIQUES):
        raise ApiError("techniques", "advise ranks techniques against the plain analysis: leave techniques out")
    if is_multi_device(req) or req.ep > 1:
        raise ApiError("tp", "advise ranks techniques on one device: leave tp, pp, ep, dp and attention_dp at 1")
    model = resolve_model(req)
    device = resolve_hardware(req)
    eff = resolve_efficiency(req, device)
    draft = catalog_model(req.draft_model) if req.draft_model else None
    return advise(model, device, rank_by=req.rank_by, only=req.only, draft_model=draft, efficiency=eff,
                  **scenario_kwargs(req)).to_dict()


def report(req: AnalyzeRequest) -> dict:
    """Exactly ``llm_roofline.analyze(...).to_dict()`` (= ``llm-roofline analyze --format json``)."""
    return report_at(analysis(req), 0).to_dict()


def sweep_axes(req: SweepRequest) -> dict:
    return {name: getattr(req, name) for name in ("batch_size", "prompt_len", "gen_len")}


def check_sweep_size(req: SweepRequest) -> None:
    """At most ``MAX_SWEEP_POINTS`` points (the product of the listed axes' lengths), checked from
    the lengths before anything is allocated."""
    listed = {name: len(v) for name, v in sweep_axes(req).items() if isinstance(v, list)}
    points = 1
    for n in listed.values():
        points *= n
    if points > MAX_SWEEP_POINTS:
        field = next(iter(listed), "batch_size")
        raise ApiError(field, f"sweep: {points} points; at most {MAX_SWEEP_POINTS} per request "
                              "(the product of the lengths of batch_size, prompt_len and gen_len)")


def sweep_result(req: SweepRequest) -> dict:
    check_sweep_size(req)
    axes = sweep_axes(req)
    model = resolve_model(req)
    target = resolve_target(req)
    device = target if isinstance(target, Hardware) else target.device
    eff = resolve_efficiency(req, device)
    kwargs = scenario_kwargs(req)
    kwargs.update(axes)
    flash, logits_all = kwargs.pop("flash_attention"), kwargs.pop("logits_all")
    group_size, scale_bits = kwargs.pop("group_size"), kwargs.pop("scale_bits")
    parallel = parallel_kwargs(req) if is_multi_device(req) or req.ep > 1 else {}
    result = sweep(model, target, efficiency=eff, flash_attention=flash, logits_all=logits_all,
                   group_size=group_size, scale_bits=scale_bits, **technique_kwargs(req), **optimization_kwargs(req),
                   **kwargs, **parallel)
    columns = {name: [_json_number(v) for v in values.tolist()] for name, values in result.columns.items()}
    return {"points": len(result), "capacity_bytes": device.memory_capacity_bytes, "columns": columns}


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN (no decode steps): null, as the report does
        return None
    return value


def error_field(exc: RooflineError) -> str | None:
    """The request field an engine error is about (its messages start with the field's name)."""
    if isinstance(exc, ApiError):
        return exc.field
    if isinstance(exc, UnknownNameError):
        if exc.kind.startswith(("speculative", "technique")):
            return "techniques"
        return "model" if exc.kind.startswith("model") else "hardware"
    text = str(exc)
    if text.startswith(("speculative", "early_exit", "early exit", "sparsity", "kv_eviction", "lookahead")):
        return "techniques"
    from ..techniques.build import OPTIMIZATION_DEFAULTS

    if text.startswith(tuple(OPTIMIZATION_DEFAULTS)) or text.startswith(("attention", "offload", "the fast-decoding")):
        return "optimizations"
    for name in ("batch_size", "prompt_len", "gen_len", "kv_len", "w_bits", "a_bits", "kv_bits", "state_bits",
                 "group_size", "scale_bits", "efficiency", "engine", "compute_fraction", "bandwidth_fraction",
                 "kernel_overhead_us", "memory_bandwidth_bytes_per_s",
                 "memory_capacity_bytes", "peak_flops_per_s", "flash_attention", "tp", "pp", "ep", "dp",
                 "attention_dp", "nodes", "micro_batches", "ep_imbalance", "ep_comm"):
        if text.startswith(name) or f" {name} " in text[:60]:
            return name
    if isinstance(exc, ConfigError) and text.startswith("config.json"):
        return "config"
    if isinstance(exc, ScenarioError):
        return None
    return None
