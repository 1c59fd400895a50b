"""sweep: every combination of listed scenario values (a Cartesian grid), evaluated in chunks.

The grid is validated and counted from its axis lengths before anything is allocated: at most
``MAX_GRID_POINTS`` points per call (``llm_roofline.limits``). Rows are in C order (the last listed
axis varies fastest). :func:`sweep` evaluates the whole grid at once; :func:`sweep_chunks` yields it
``chunk_points`` rows at a time, so a face can write each chunk and keep its memory flat.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass

import numpy as np

from .defaults import DEFAULT_GROUP_SIZE, DEFAULT_SCALE_BITS, SWEEP_AXES
from .engine import Analysis, evaluate
from .errors import ScenarioError
from .inputs import grid_points, kind_of
from .limits import MAX_GRID_POINTS, SWEEP_CHUNK_POINTS
from .result import Report, report_at
from .scenario import Scenario, axis_values, is_single_value

__all__ = ["SWEEP_AXES", "Grid", "SweepResult", "grid", "sweep", "sweep_chunks", "sweep_columns"]


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


@dataclass(frozen=True)
class Grid:
    """A validated grid: ``fixed`` single values (passed on as given) and ``axes``, the listed values of
    each swept axis (validated 1-D arrays, in the order the axes were given)."""

    fixed: dict[str, object]
    axes: dict[str, np.ndarray]

    @property
    def points(self) -> int:
        return int(np.prod([len(v) for v in self.axes.values()], dtype=np.int64))

    def rows(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """The swept values of grid rows start..stop-1 (C order), one equal-length array per axis."""
        if not self.axes:
            return {}
        coords = np.unravel_index(np.arange(start, stop), [len(v) for v in self.axes.values()])
        return {name: values[c] for (name, values), c in zip(self.axes.items(), coords, strict=True)}


def _listed(name: str, value: object) -> object:
    """A swept axis as a list, tuple, range or array; any other iterable is read (at most one value more
    than the cap, so an endless generator cannot hang); mappings and sets are refused."""
    if isinstance(value, Mapping | Set):
        raise ScenarioError(f"{name}: {kind_of(value)} has no order; give a list of values")
    if not isinstance(value, list | tuple | range | np.ndarray):
        value = list(itertools.islice(value, MAX_GRID_POINTS + 1))
    return value


def _length(value: object) -> int:
    try:
        return len(value)
    except OverflowError:  # range(10**20)
        return MAX_GRID_POINTS + 1


def grid(axes: Mapping[str, object], technique_axes: Mapping[str, object] | None = None) -> Grid:
    """Validate a sweep's axes (each one value or a list of values) and check the grid's size from the
    axis lengths, before any array of the grid exists. ``technique_axes``: listed per-scenario technique
    options (sparsity, offload_weights, offload_kv, prefix_len), checked by techniques/build.py."""
    unknown = set(axes) - set(SWEEP_AXES)
    if unknown:
        raise ScenarioError(f"unknown sweep axis {sorted(unknown)}; valid: {', '.join(SWEEP_AXES)}")
    fixed, listed = {}, {}
    for name, value in axes.items():
        if value is None:
            continue
        if is_single_value(value):
            fixed[name] = value
            continue
        value = _listed(name, value)
        if name.endswith("bits") and not isinstance(value, np.ndarray) and any(isinstance(v, str) for v in value):
            raise ScenarioError(f"{name}: a swept bit-width takes numbers; a named format is a single value")
        listed[name] = value
    extra = {name: _listed(name, v) for name, v in (technique_axes or {}).items()}
    grid_points({name: _length(v) for name, v in {**listed, **extra}.items()}, "the sweep")
    checked = {name: axis_values(name, v) for name, v in listed.items()}
    if extra:
        from .techniques.build import technique_axis

        checked.update({name: technique_axis(name, v) for name, v in extra.items()})
    return Grid(fixed=fixed, axes=checked)


def sweep_chunks(model, hardware, *, chunk_points: int = SWEEP_CHUNK_POINTS, efficiency="ideal",
                 flash_attention: bool = False, logits_all: bool = False, group_size: int = DEFAULT_GROUP_SIZE,
                 scale_bits: int = DEFAULT_SCALE_BITS, force_llama_like: bool = False,
                 **axes) -> Iterator[SweepResult]:
    """The grid of :func:`sweep`, ``chunk_points`` rows at a time, in grid order. Everything is
    validated (and the model and device loaded) before this returns, so errors come before any row."""
    from .api import load_hardware, load_model, resolve_efficiency
    from .techniques.build import TECHNIQUE_DEFAULTS
    from .techniques.options import ARRAY_FIELDS
    from .techniques.resolve import scenario_for

    if not isinstance(chunk_points, int) or chunk_points < 1:
        raise ScenarioError(f"chunk_points must be a positive integer, got {chunk_points!r}")
    techniques = {k: v for k, v in axes.items() if k in TECHNIQUE_DEFAULTS}
    axes = {k: v for k, v in axes.items() if k not in TECHNIQUE_DEFAULTS}
    swept = {k: v for k, v in techniques.items() if k in ARRAY_FIELDS and not is_single_value(v)}
    techniques = {k: v for k, v in techniques.items() if k not in swept}
    g = grid(axes, swept)
    spec, device = load_model(model, force_llama_like=force_llama_like), load_hardware(hardware)
    eff = resolve_efficiency(efficiency, device)
    options = dict(flash_attention=flash_attention, logits_all=logits_all, group_size=group_size,
                   scale_bits=scale_bits)

    def scenario_of(row: dict) -> Scenario:
        values = {**g.fixed, **{k: v for k, v in row.items() if k not in swept}, **options}
        return scenario_for(spec, {**techniques, **{k: v for k, v in row.items() if k in swept}}, **values)

    scenario_of(g.rows(0, 1))  # fixed values and options fail here, not later

    def rows(start: int) -> SweepResult:
        scenario = scenario_of(g.rows(start, min(start + chunk_points, g.points)))
        analysis = evaluate(spec, device, scenario, eff)
        return SweepResult(analysis=analysis, columns=sweep_columns(analysis))

    # No chunk is kept once the next is asked for: memory stays that of one chunk.
    return (rows(start) for start in range(0, g.points, chunk_points))


def sweep(model, hardware, *, efficiency="ideal", flash_attention: bool = False, logits_all: bool = False,
          group_size: int = DEFAULT_GROUP_SIZE, scale_bits: int = DEFAULT_SCALE_BITS, force_llama_like: bool = False,
          **axes) -> SweepResult:
    """Every combination of the listed values (a Cartesian grid) in one vectorized call, e.g.
    ``sweep(m, h, batch_size=range(1, 513), prompt_len=[128, 256, ..., 16384])``; at most
    ``MAX_GRID_POINTS`` (100,000) points. An axis not given takes its default
    (``llm_roofline.defaults``: gen_len 256, prompt_len 1024, ...). Technique options (``analyze``'s
    keywords, docs/techniques.md) hold for the whole grid, except that ``sparsity``, ``offload_weights``,
    ``offload_kv`` and ``prefix_len`` may be lists too (grid axes)."""
    return next(sweep_chunks(model, hardware, chunk_points=MAX_GRID_POINTS, efficiency=efficiency,
                             flash_attention=flash_attention, logits_all=logits_all, group_size=group_size,
                             scale_bits=scale_bits, force_llama_like=force_llama_like, **axes))


def sweep_columns(a: Analysis) -> dict[str, np.ndarray]:
    """The documented columns of a sweep (CSV header order)."""
    sc, g, m = a.scenario, a.generation, a.memory
    return {
        "batch_size": sc.batch_size, "prompt_len": sc.prompt_len, "gen_len": sc.gen_len,
        "kv_len": sc.kv_len, "w_bits": sc.weights.bits, "a_bits": sc.activations.bits,
        "kv_bits": sc.kv_cache.bits, "state_bits": sc.state.bits,
        "prefill_flops": a.prefill_total.flops, "prefill_bytes": a.prefill_total.bytes,
        "prefill_time_s": a.prefill_total.time_s, "prefill_tokens_per_s": a.prefill_total.tokens_per_s,
        "decode_flops": a.decode_total.flops, "decode_bytes": a.decode_total.bytes,
        "decode_time_s": a.decode_total.time_s, "decode_tokens_per_s": a.decode_total.tokens_per_s,
        "ttft_s": g.ttft_s, "tpot_s": g.tpot_s, "e2e_s": g.e2e_s,
        "throughput_tokens_per_s": g.throughput_tokens_per_s,
        "weights_bytes": m.weights_bytes, "kv_cache_bytes": m.kv_cache_bytes,
        "activations_bytes": m.activations_bytes, "total_bytes": m.total_bytes,
        "fits": m.fits, "max_batch_size": m.max_batch_size, **technique_columns(a),
    }


def technique_columns(a: Analysis) -> dict[str, np.ndarray]:
    """Columns of the techniques switched on: their per-scenario settings, and memory by place."""
    t, m = a.scenario.techniques, a.memory
    out: dict[str, np.ndarray] = {}
    if t.sparse:
        out["sparsity"] = t.sparsity
    if t.prefix:
        out["prefix_len"] = t.prefix_len
    if t.offloads:
        out.update(offload_weights=t.offload_weights, offload_kv=t.offload_kv, device_bytes=m.device_bytes,
                   host_bytes=m.host_bytes)
    return out
