"""Scenario values + technique options + the model -> the Scenario the engine evaluates.

Every face goes through :func:`scenario_for`: the API (analyze, analyze_many, sweep), and through it
the CLI, the plots and the web. It settles what depends on the model: the attention kernel against
``flash_attention``, the per-tensor precisions (tensors resolved from the config's
``quantization_config`` and the user's bits: precision_map.py), and that every module selector
names weights the model has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..errors import ScenarioError
from .build import OPTIMIZATION_DEFAULTS, PRECISION_OPTIONS, build_optimizations, check_names
from .optimizations import ARRAY_FIELDS


def split_options(options: Mapping[str, object]) -> tuple[dict, dict]:
    """(scenario values, technique options) of one mixed set of keyword arguments; a name that is
    neither is an error with close matches."""
    import inspect

    from ..errors import close_matches
    from ..scenario import Scenario

    scenario_names = set(inspect.signature(Scenario.build).parameters) - {"optimizations"}
    for name in options:
        if name not in scenario_names and name not in OPTIMIZATION_DEFAULTS:
            hints = close_matches(name, [*scenario_names, *OPTIMIZATION_DEFAULTS])
            hint = f"; did you mean {', '.join(hints)}?" if hints else ""
            raise ScenarioError(f"unknown option {name!r}{hint}")
    techniques = {k: v for k, v in options.items() if k in OPTIMIZATION_DEFAULTS}
    return {k: v for k, v in options.items() if k not in OPTIMIZATION_DEFAULTS}, techniques


def attention_kernel(flash_attention: object, attention: object) -> tuple[bool, str | None]:
    """(flash_attention, attention) settled: ``attention`` None follows ``flash_attention`` (ideal or
    naive); a fused kernel named with flash_attention False is fine (attention decides), naive with
    flash_attention True is a contradiction."""
    if attention is None:
        return bool(flash_attention), None
    if isinstance(attention, str) and attention.strip().lower() == "naive" and flash_attention is True:
        raise ScenarioError("attention naive contradicts flash_attention=True (--flash-attention is --attention "
                            "ideal); give one of them")
    fused = not (isinstance(attention, str) and attention.strip().lower() == "naive")
    return fused, attention


def scenario_for(spec, techniques: Mapping[str, object] | None = None, **scenario):
    """The Scenario of ``scenario`` values (Scenario.build's keywords) under ``techniques`` options
    (OPTIMIZATION_DEFAULTS names) for the model ``spec``."""
    from ..scenario import Scenario

    options = dict(techniques or {})
    check_names(options)
    active = {k: v for k, v in options.items() if v is not None and not _default(k, v)}
    own_format = scenario.get("w_bits") is None and getattr(spec, "quantization", None) is not None \
        and options.get("config_quantization", True) is not False
    if not active and not own_format:
        scenario = {k: v for k, v in scenario.items() if v is not None or k != "w_bits"}
        return Scenario.build(**scenario)
    flash, attention = attention_kernel(scenario.get("flash_attention", False), options.get("attention"))
    scenario["flash_attention"] = flash
    if attention is None:
        options["attention"] = "ideal" if flash else "naive"
    if options.get("attention_fp8") and not flash:
        raise ScenarioError("attention_fp8 (FlashAttention-3's FP8 path) needs a fused attention kernel: "
                            "add --flash-attention or --attention ideal|fa2")
    from .precision_map import resolve_precision

    w_bits, formats, sources = resolve_precision(spec, scenario.get("w_bits"),
                                                 {k: options.get(k) for k in PRECISION_OPTIONS})
    scenario["w_bits"] = w_bits
    t = build_optimizations(**{k: v for k, v in options.items() if k not in PRECISION_OPTIONS})
    t = replace(t, tensor_formats=formats, tensor_sources=sources)
    _check_modules(spec, t)
    return Scenario.build(**scenario, optimizations=t)


def _default(name: str, value: object) -> bool:
    """Whether ``value`` is the option's default (a list never is: it is a sweep axis)."""
    default = OPTIMIZATION_DEFAULTS[name]
    if isinstance(value, list | tuple | range | dict) or hasattr(value, "shape") and getattr(value, "ndim", 0):
        return False
    try:
        return bool(value == default) and type(value) is type(default)
    except (TypeError, ValueError):
        return False


def _check_modules(spec, t) -> None:
    """Every module selector names weights the model has; a tied lm_head is the embedding's matrix."""
    from .modules import check_selectors

    selectors = {"sparse_modules": t.sparse_modules if t.sparse_format != "dense" else (),
                 "low_rank": tuple(sel for sel, _ in t.low_rank),
                 "offload_modules": t.offload_modules if t.offloads else ()}
    if not any(selectors.values()):
        return
    names = weight_operator_names(spec)
    for option, chosen in selectors.items():
        check_selectors(option, chosen, names, spec)
    if spec.tie_word_embeddings:
        from .modules import matches

        lm_head = spec.op_name("lm_head")
        for option in ("sparse_modules", "low_rank"):
            if any(matches(sel, lm_head, spec) for sel in selectors[option]):
                raise ScenarioError(f"{option}: lm_head of {spec.name or 'this model'} is the embedding matrix "
                                    "(tied embeddings); prune or factor the layers instead")


def weight_operator_names(spec) -> tuple[str, ...]:
    """Names of the operators that read weights (one small build of the model)."""
    import numpy as np

    from ..graph import build_ops
    from ..scenario import Scenario

    table = build_ops(spec, Scenario.build(gen_len=0, prompt_len=1), "decode", T=np.ones(1), S=np.ones(1))
    return tuple(n for n, p in zip(table.names, table.params, strict=True) if p > 0)


def array_options() -> tuple[str, ...]:
    """Technique options that may differ per scenario (sweep axes)."""
    return ARRAY_FIELDS
