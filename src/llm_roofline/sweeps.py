"""sweep: every combination of listed scenario values (a Cartesian grid), evaluated in chunks.

The grid is validated and counted from its axis lengths before anything is allocated: at most
``MAX_GRID_POINTS`` points per call (``llm_roofline.limits``). Rows are in C order (the last listed
axis varies fastest). :func:`sweep` evaluates the whole grid at once; :func:`sweep_chunks` yields it
``chunk_points`` rows at a time, so a face can write each chunk and keep its memory flat.

Degrees of parallelism (``tp``, ``pp``, ``ep``, ``dp``, ``attention_dp``) are axes too: each chunk's
rows are grouped by degree tuple, one vectorized engine call per deployment (docs/parallelism.md);
every deployment of the grid is checked against the model and system before the first row.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass

import numpy as np

from .defaults import DEFAULT_GROUP_SIZE, DEFAULT_SCALE_BITS, SWEEP_AXES
from .engine import Analysis
from .errors import ScenarioError
from .inputs import grid_points, kind_of
from .limits import MAX_GRID_POINTS, SWEEP_CHUNK_POINTS
from .parallel.choices import DEGREE_AXES, OPTION_DEFAULTS
from .parallel.deployment import MAX_DEGREE
from .result import Report, report_at
from .scenario import Scenario, axis_values, is_single_value

__all__ = ["SWEEP_AXES", "Grid", "SweepResult", "grid", "sweep", "sweep_chunks", "sweep_columns"]


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


def grid(axes: Mapping[str, object], optimization_axes: Mapping[str, object] | None = None) -> Grid:
    """Validate a sweep's axes (each one value or a list of values) and check the grid's size from the
    axis lengths, before any array of the grid exists. ``optimization_axes``: listed per-scenario technique
    options (weight_sparsity, offload_weights, offload_kv, prefix_len), checked by techniques/build.py."""
    unknown = set(axes) - set(SWEEP_AXES) - set(DEGREE_AXES)
    if unknown:
        raise ScenarioError(f"unknown sweep axis {sorted(unknown)}; valid: {', '.join(SWEEP_AXES + DEGREE_AXES)}")
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
    extra = {name: _listed(name, v) for name, v in (optimization_axes or {}).items()}
    grid_points({name: _length(v) for name, v in {**listed, **extra}.items()}, "the sweep")
    checked = {name: degree_values(name, v) if name in DEGREE_AXES else axis_values(name, v)
               for name, v in listed.items()}
    if extra:
        from .techniques.build import optimization_axis

        checked.update({name: optimization_axis(name, v) for name, v in extra.items()})
    return Grid(fixed=fixed, axes=checked)


def degree_values(name: str, value: object) -> np.ndarray:
    """A degree of parallelism as a 1-D int64 array of whole numbers in 1..MAX_DEGREE (one or a list)."""
    items = [value] if is_single_value(value) else list(value)
    if not items or any(isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating)
                        or not float(v).is_integer() or not 1 <= v <= MAX_DEGREE for v in items):
        raise ScenarioError(f"{name} must be a whole number in 1..{MAX_DEGREE} or a list of them, got {value!r}")
    return np.asarray(items, dtype=np.int64)


def sweep_chunks(model, hardware, *, chunk_points: int = SWEEP_CHUNK_POINTS, efficiency="ideal",
                 engine: str | None = None,
                 flash_attention: bool = False, logits_all: bool = False, group_size: int = DEFAULT_GROUP_SIZE,
                 scale_bits: int = DEFAULT_SCALE_BITS, force_llama_like: bool = False, speculative=None,
                 early_exit=None, sparsity=None, kv_eviction=None, **axes) -> Iterator[SweepResult]:
    """The grid of :func:`sweep`, ``chunk_points`` rows at a time, in grid order. Everything is
    validated (the model and system loaded, every deployment checked) before this returns, so errors
    come before any row. Techniques (``speculative``, ``early_exit``, ``sparsity``, ``kv_eviction``) apply to
    every point."""
    from .api import load_model, load_system, resolve_efficiency
    from .parallel.analysis import check_deployment, evaluate_deployment
    from .parallel.options import make_deployment
    from .techniques.build import OPTIMIZATION_DEFAULTS
    from .techniques.optimizations import ARRAY_FIELDS
    from .techniques.options import resolve_techniques
    from .techniques.resolve import scenario_for

    if not isinstance(chunk_points, int) or chunk_points < 1:
        raise ScenarioError(f"chunk_points must be a positive integer, got {chunk_points!r}")
    optimizations = {k: axes.pop(k) for k in list(axes) if k in OPTIMIZATION_DEFAULTS}
    swept = {k: v for k, v in optimizations.items() if k in ARRAY_FIELDS and not is_single_value(v)}
    optimizations = {k: v for k, v in optimizations.items() if k not in swept}
    parallel_options = {k: axes.pop(k) for k in list(axes) if k in OPTION_DEFAULTS}
    with_degrees = any(k in DEGREE_AXES for k in axes)
    g = grid(axes, swept)
    spec = load_model(model, force_llama_like=force_llama_like)
    degree_grid = Grid(fixed={}, axes={n: g.axes[n] for n in DEGREE_AXES if n in g.axes})
    fixed_degrees = {n: int(degree_values(n, g.fixed[n])[0]) for n in DEGREE_AXES if n in g.fixed}
    deployments = {}
    for row in range(degree_grid.points):  # the distinct deployments (a product of a few degree lists)
        listed = {n: int(v[0]) for n, v in degree_grid.rows(row, row + 1).items()}
        degree = {n: 1 for n in DEGREE_AXES} | fixed_degrees | listed
        key = tuple(degree[n] for n in DEGREE_AXES)
        deployments[key] = make_deployment(**degree, **parallel_options,
                                           efficiency=efficiency if isinstance(efficiency, str) else "")
    system = load_system(hardware, multi_device=any(not d.is_single_device for d in deployments.values()))
    eff = resolve_efficiency(efficiency, system.device, engine=engine)
    for deployment in deployments.values():
        check_deployment(spec, system, deployment)
    techniques = resolve_techniques(speculative=speculative, early_exit=early_exit, sparsity=sparsity,
                                    kv_eviction=kv_eviction, force_llama_like=force_llama_like)
    options = dict(flash_attention=flash_attention, logits_all=logits_all, group_size=group_size,
                   scale_bits=scale_bits)
    fixed = {k: v for k, v in g.fixed.items() if k not in DEGREE_AXES}

    def scenario_of(values: dict) -> Scenario:
        """The scenarios of some grid rows (optimization axes among them) under the optimizations."""
        rows = {k: v for k, v in values.items() if k not in swept}
        return scenario_for(spec, {**optimizations, **{k: v for k, v in values.items() if k in swept}}, **fixed,
                            **rows, **options)

    scenario_of(_scenario_rows(g, 0, 1))  # fixed values and options fail here, not later

    def rows(start: int) -> SweepResult:
        stop = min(start + chunk_points, g.points)
        values = g.rows(start, stop)
        n = stop - start
        keys = np.stack([np.broadcast_to(values.get(name, fixed_degrees.get(name, 1)), (n,))
                         for name in DEGREE_AXES])
        tuples, which = np.unique(keys, axis=1, return_inverse=True)
        groups, columns = [], {}
        for k in range(tuples.shape[1]):
            idx = np.flatnonzero(which.ravel() == k)
            scenario = scenario_of({name: v[idx] for name, v in values.items() if name not in DEGREE_AXES})
            deployment = deployments[tuple(int(x) for x in tuples[:, k])]
            analysis = evaluate_deployment(spec, system, scenario, eff, deployment, techniques)
            groups.append((idx, analysis))
            for key, column in sweep_columns(analysis, parallel=with_degrees).items():
                column = np.broadcast_to(column, idx.shape)
                if key not in columns:
                    columns[key] = np.empty(n, dtype=column.dtype)
                columns[key][idx] = column
        return SweepResult(groups=tuple(groups), columns=columns)

    # No chunk is kept once the next is asked for: memory stays that of one chunk.
    return (rows(start) for start in range(0, g.points, chunk_points))


def _scenario_rows(g: Grid, start: int, stop: int) -> dict[str, np.ndarray]:
    return {name: v for name, v in g.rows(start, stop).items() if name not in DEGREE_AXES}


def sweep(model, hardware, *, efficiency="ideal", engine: str | None = None, flash_attention: bool = False,
          logits_all: bool = False, group_size: int = DEFAULT_GROUP_SIZE, scale_bits: int = DEFAULT_SCALE_BITS,
          force_llama_like: bool = False, speculative=None, early_exit=None, sparsity=None,
          kv_eviction=None, **axes) -> SweepResult:
    """Every combination of the listed values (a Cartesian grid) in one vectorized call, e.g.
    ``sweep(m, h, batch_size=range(1, 513), prompt_len=[128, 256, ..., 16384])``; at most
    ``MAX_GRID_POINTS`` (100,000) points. An axis not given takes its default
    (``llm_roofline.defaults``: gen_len 256, prompt_len 1024, ...). Degrees of parallelism (``tp``,
    ``pp``, ``ep``, ``dp``, ``attention_dp``) are axes too, grouped into one engine call per degree tuple;
    parallel options (``nodes``, ``overlap``, ...) take one value. Optimization options (``analyze``'s
    keywords, docs/techniques.md) hold for the whole grid, except that ``weight_sparsity``,
    ``offload_weights``, ``offload_kv`` and ``prefix_len`` may be lists too (grid axes)."""
    return next(sweep_chunks(model, hardware, chunk_points=MAX_GRID_POINTS, efficiency=efficiency, engine=engine,
                             flash_attention=flash_attention, logits_all=logits_all, group_size=group_size,
                             scale_bits=scale_bits, force_llama_like=force_llama_like, speculative=speculative,
                             early_exit=early_exit, sparsity=sparsity, kv_eviction=kv_eviction, **axes))


def sweep_columns(a: Analysis, parallel: bool = False) -> dict[str, np.ndarray]:
    """The documented columns of a sweep (CSV header order). Stage columns (prefill_*, decode_*) are one
    device's tables; generation and memory columns are the deployment's (memory per device). With
    ``parallel`` (a sweep given degrees of parallelism) the degrees, devices, the device's batch,
    tokens/s per device, communication time and buffers are added."""
    sc, p = a.scenario, a.parallel
    columns = {
        "batch_size": p.batch_size, "prompt_len": sc.prompt_len, "gen_len": sc.gen_len,
        "kv_len": sc.kv_len, "w_bits": sc.weights.bits, "a_bits": sc.activations.bits,
        "kv_bits": sc.kv_cache.bits, "state_bits": sc.state.bits,
        "prefill_flops": a.prefill_total.flops, "prefill_bytes": a.prefill_total.bytes,
        "prefill_time_s": a.prefill_total.time_s, "prefill_tokens_per_s": a.prefill_total.tokens_per_s,
        "decode_flops": a.decode_total.flops, "decode_bytes": a.decode_total.bytes,
        "decode_time_s": a.decode_total.time_s, "decode_tokens_per_s": a.decode_total.tokens_per_s,
        "ttft_s": p.ttft_s, "tpot_s": p.tpot_s, "e2e_s": p.e2e_s,
        "throughput_tokens_per_s": p.throughput_tokens_per_s,
        "weights_bytes": p.weights_bytes, "kv_cache_bytes": p.kv_cache_bytes,
        "activations_bytes": p.activations_bytes, "total_bytes": p.total_bytes,
        "fits": p.fits, "max_batch_size": p.max_batch_size, **optimization_columns(a),
    } | _technique_columns(a)
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


def optimization_columns(a: Analysis) -> dict[str, np.ndarray]:
    """Columns of the techniques switched on: their per-scenario settings, and memory by place."""
    t, m = a.scenario.optimizations, a.memory
    out: dict[str, np.ndarray] = {}
    if t.sparse:
        out["weight_sparsity"] = t.weight_sparsity
    if t.prefix:
        out["prefix_len"] = t.prefix_len
    if t.offloads:
        out.update(offload_weights=t.offload_weights, offload_kv=t.offload_kv, device_bytes=m.device_bytes,
                   host_bytes=m.host_bytes)
    return out
def _technique_columns(a: Analysis) -> dict[str, np.ndarray]:
    """With speculative decoding (or lookahead, Jacobi): the tokens per iteration, the verified tokens, one
    iteration's time at kv_len, TPOT decoding one token per step and the speed-up over it."""
    t = a.techniques
    if t is None or t.speculative is None:
        return {}
    s, n = t.speculative, a.scenario.size
    return {"tokens_per_iteration": np.full(n, s.tokens_per_iteration), "verify_tokens": np.full(n, s.verify_tokens),
            "iteration_time_s": s.iteration_time_s, "one_token_tpot_s": s.one_token_tpot_s, "speedup": s.speedup}
