"""Optimizations from user values: validation with messages that name the option, for every face.

``OPTIMIZATION_DEFAULTS`` lists every option the API accepts by keyword (``analyze(..., fusion=
"aggressive")``); :func:`build_optimizations` checks them (unknown names get close matches) and returns
the frozen :class:`~llm_roofline.techniques.optimizations.Optimizations`. Per-tensor precision needs the model
(its config's ``quantization_config``, tied embeddings): see ``tensors.resolve``.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np

from ..errors import ScenarioError, close_matches
from ..inputs import describe, integer, kind_of, real
from ..limits import MAX_GRID_POINTS, SCENARIO_LIMITS
from .optimizations import (
    ATTENTION_KERNELS,
    FUSION_LEVELS,
    KV_ALLOCATIONS,
    OFFLOAD_COMPUTE,
    OFFLOAD_TARGETS,
    SPARSE_FORMATS,
    Optimizations,
)

# Every technique option of the API, with its default (None: not given). Faces read it from here.
OPTIMIZATION_DEFAULTS: dict[str, object] = {
    "embed_bits": None, "lm_head_bits": None, "module_bits": None, "config_quantization": True,
    "weight_sparsity": 0.0, "sparse_format": "dense", "sparse_index_bits": 16, "sparse_efficiency": 1.0,
    "sparse_modules": "layers",
    "prune_layers": 0.0, "prune_heads": 0.0, "prune_intermediate": 0.0,
    "low_rank": None,
    "fusion": "none",
    "attention": None, "attention_fp8": False,
    "offload_weights": 0.0, "offload_kv": 0.0, "offload_modules": "all", "offload_to": "host",
    "offload_overlap": True, "offload_compute": "device", "host": "xeon-8480-plus", "host_memory": None,
    "host_bandwidth": None, "disk_bandwidth": None,
    "kv_allocation": "exact", "kv_block_size": 16, "max_seq_len": None,
    "prefix_len": 0,
}
PRECISION_OPTIONS = ("embed_bits", "lm_head_bits", "module_bits", "config_quantization")
# Limits (inclusive unless said): a fraction removed or offloaded, index bits, block sizes.
SPARSE_INDEX_BITS_LIMITS = (1, 64)
KV_BLOCK_SIZE_LIMITS = (1, 1 << 16)
MAX_SPARSITY = 0.999  # s = 1 would leave no weights; the CSR index cost divides by nothing


def check_names(options: Mapping[str, object]) -> None:
    """ScenarioError naming an unknown technique option, with close matches."""
    unknown = [name for name in options if name not in OPTIMIZATION_DEFAULTS]
    if unknown:
        name = unknown[0]
        hints = close_matches(name, OPTIMIZATION_DEFAULTS)
        hint = f"; did you mean {', '.join(hints)}?" if hints else ""
        raise ScenarioError(f"unknown option {name!r}{hint}")


def choice(name: str, value: object, valid: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in valid:
        hints = close_matches(str(value), valid) if isinstance(value, str) else []
        hint = f" (did you mean {hints[0]}?)" if hints else ""
        raise ScenarioError(f"{name} must be one of {', '.join(valid)}, got {describe(value)}{hint}")
    return value.strip().lower()


def flag(name: str, value: object) -> bool:
    if kind_of(value) != "a bool":
        raise ScenarioError(f"{name} must be True or False, not {kind_of(value)} (got {describe(value)})")
    return bool(value)


def fractions(name: str, value: object, high: float = 1.0) -> np.ndarray:
    """One fraction or a flat list of them, each a real number in [0, high]."""
    items = list(value) if isinstance(value, list | tuple | range | np.ndarray) else [value]
    if not items:
        raise ScenarioError(f"{name} must be a number or a non-empty list of numbers")
    if len(items) > MAX_GRID_POINTS:
        raise ScenarioError(f"{name}: {len(items):,} values; at most {MAX_GRID_POINTS:,} scenarios per call")
    return np.array([real(name, v, 0.0, high) for v in items], dtype=np.float64)


def counts(name: str, value: object, low: int, high: int) -> np.ndarray:
    items = list(value) if isinstance(value, list | tuple | range | np.ndarray) else [value]
    if not items:
        raise ScenarioError(f"{name} must be an integer or a non-empty list of integers")
    if len(items) > MAX_GRID_POINTS:
        raise ScenarioError(f"{name}: {len(items):,} values; at most {MAX_GRID_POINTS:,} scenarios per call")
    if isinstance(value, np.ndarray):
        items = [int(v) if float(v).is_integer() else float(v) for v in items]
    return np.array([integer(name, v, low, high) for v in items], dtype=np.float64)


def selectors(name: str, value: object) -> tuple[str, ...]:
    """Module selectors: one text (comma-separated) or a list of texts."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items or not all(isinstance(i, str) for i in items):
        raise ScenarioError(f"{name} must be module names or groups (text or a list of texts), got {describe(value)}")
    out = tuple(i.strip() for i in items if i.strip())
    if not out:
        raise ScenarioError(f"{name}: no module named")
    return out


def rank_map(name: str, value: object) -> tuple[tuple[str, float], ...]:
    """``{"attention": 256, "mlp": 0.25}`` or ``"attention=256,mlp=0.25"``: a rank (an integer >= 1) or a
    ratio of the full rank (0 < ratio < 1) per module selector."""
    if value is None:
        return ()
    if isinstance(value, str):
        pairs = []
        for item in (i.strip() for i in value.split(",") if i.strip()):
            key, sep, number = item.partition("=")
            if not sep or not key.strip():
                raise ScenarioError(f"{name}: expected MODULE=RANK items (e.g. mlp=256 or attention=0.25), "
                                    f"got {describe(item)}")
            try:
                parsed = float(number)
            except ValueError:
                raise ScenarioError(f"{name}: the rank of {key.strip()!r} must be a number, "
                                    f"got {describe(number)}") from None
            pairs.append((key.strip(), int(parsed) if parsed >= 1 and parsed.is_integer() else parsed))
        value = dict(pairs)
    if not isinstance(value, Mapping) or not value:
        raise ScenarioError(f"{name} must map module names or groups to a rank or ratio, got {describe(value)}")
    out = []
    for key, rank in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ScenarioError(f"{name}: module selectors are text, got {describe(key)}")
        if isinstance(rank, bool) or not isinstance(rank, numbers.Real):
            raise ScenarioError(f"{name}[{key!r}] must be a rank or a ratio, not {kind_of(rank)}")
        r = float(rank)
        if not (0 < r < 1 or (r >= 1 and r.is_integer() and r <= SCENARIO_LIMITS["prompt_len"][1])):
            raise ScenarioError(f"{name}[{key!r}] must be an integer rank >= 1 or a ratio in (0, 1), got "
                                f"{describe(rank)}")
        out.append((key.strip(), r))
    return tuple(out)


def quantity(name: str, value: object, dimension: str, field_name: str) -> float | None:
    """Bytes or bytes/s from a number or a text with a unit ("512GB", "25 GB/s"), in plausible range."""
    if value is None:
        return None
    from ..inputs import hardware_number
    from ..units import quantity as parse

    if isinstance(value, str):
        try:
            value = parse(value, dimension)
        except ValueError as exc:
            raise ScenarioError(f"{name}: {exc}") from None
    return hardware_number(name, value, field_name)


def optimization_axis(name: str, values: object) -> np.ndarray:
    """A swept per-scenario technique option, checked as build_optimizations checks it."""
    if name == "prefix_len":
        return counts(name, values, 0, SCENARIO_LIMITS["prompt_len"][1])
    return fractions(name, values, MAX_SPARSITY if name == "weight_sparsity" else 1.0)


def build_optimizations(**options) -> Optimizations:
    """Validate technique options (OPTIMIZATION_DEFAULTS names) and return the Optimizations value; the
    precision options are resolved later against the model (tensors.resolve) and ignored here."""
    check_names(options)
    o = {**OPTIMIZATION_DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    fields: dict[str, object] = {}
    fields["weight_sparsity"] = fractions("weight_sparsity", o["weight_sparsity"], MAX_SPARSITY)
    fields["sparse_format"] = choice("sparse_format", o["sparse_format"], SPARSE_FORMATS)
    fields["sparse_index_bits"] = integer("sparse_index_bits", o["sparse_index_bits"], *SPARSE_INDEX_BITS_LIMITS)
    fields["sparse_efficiency"] = real("sparse_efficiency", o["sparse_efficiency"], 1e-3, 1.0)
    fields["sparse_modules"] = selectors("sparse_modules", o["sparse_modules"])
    if fields["sparse_format"] == "2:4":
        if np.any((fields["weight_sparsity"] != 0) & (fields["weight_sparsity"] != 0.5)):
            raise ScenarioError("weight_sparsity: 2:4 keeps 2 of every 4 weights (s = 0.5); leave it out or "
                                "give 0.5")
        fields["weight_sparsity"] = np.full_like(fields["weight_sparsity"], 0.5)
    for part in ("layers", "heads", "intermediate"):
        key = f"prune_{part}"
        fields[key] = real(key, o[key], 0.0, 0.99)
    fields["low_rank"] = rank_map("low_rank", o["low_rank"])
    fields["fusion"] = choice("fusion", o["fusion"], FUSION_LEVELS)
    if o["attention"] is not None:
        fields["attention"] = choice("attention", o["attention"], ATTENTION_KERNELS)
    fields["attention_fp8"] = flag("attention_fp8", o["attention_fp8"])
    fields["offload_weights"] = fractions("offload_weights", o["offload_weights"])
    fields["offload_kv"] = fractions("offload_kv", o["offload_kv"])
    fields["offload_modules"] = selectors("offload_modules", o["offload_modules"])
    fields["offload_to"] = choice("offload_to", o["offload_to"], OFFLOAD_TARGETS)
    fields["offload_overlap"] = flag("offload_overlap", o["offload_overlap"])
    fields["offload_compute"] = choice("offload_compute", o["offload_compute"], OFFLOAD_COMPUTE)
    fields["host_memory_bytes"] = quantity("host_memory", o["host_memory"], "B", "memory_capacity_bytes")
    fields["host_bandwidth_bytes_per_s"] = quantity("host_bandwidth", o["host_bandwidth"], "B/s",
                                                    "memory_bandwidth_bytes_per_s")
    fields["disk_bandwidth_bytes_per_s"] = quantity("disk_bandwidth", o["disk_bandwidth"], "B/s",
                                                    "memory_bandwidth_bytes_per_s")
    offloading = bool(np.any(fields["offload_weights"] > 0) or np.any(fields["offload_kv"] > 0))
    if fields["offload_to"] == "disk" and offloading and fields["disk_bandwidth_bytes_per_s"] is None:
        raise ScenarioError("offload_to disk needs disk_bandwidth (the disk's read bandwidth, e.g. 7GB/s): "
                            "disks differ too much for a default")
    if offloading:
        fields["host"] = _host(o["host"])
    fields["kv_allocation"] = choice("kv_allocation", o["kv_allocation"], KV_ALLOCATIONS)
    fields["kv_block_size"] = integer("kv_block_size", o["kv_block_size"], *KV_BLOCK_SIZE_LIMITS)
    if o["max_seq_len"] is not None:
        fields["max_seq_len"] = integer("max_seq_len", o["max_seq_len"], *SCENARIO_LIMITS["kv_len"])
    fields["prefix_len"] = counts("prefix_len", o["prefix_len"], 0, SCENARIO_LIMITS["prompt_len"][1])
    return Optimizations(**fields)


def _host(value: object):
    """The host CPU (a Hardware, a catalog name or a YAML file)."""
    from ..hardware.spec import Hardware

    if isinstance(value, Hardware):
        return value
    if not isinstance(value, str):
        raise ScenarioError(f"host must be a device name or a Hardware, not {kind_of(value)}")
    from ..api import load_hardware

    return load_hardware(value)
