"""evaluate: model x hardware x scenarios -> every number the faces show, in one vectorized pass.

    ModelSpec, Scenario -> build_ops (prefill; decode at kv_len; decode at S = 0 and 1 for the
    exact generation sum) -> roofline -> stage totals, generation, memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import build_ops
from .hardware.spec import IDEAL, Efficiency, Hardware
from .models.spec import ModelSpec
from .ops import OpTable, slice_shapes
from .report import Generation, Memory, StageTotals, generation, memory, stage_totals
from .roofline import OpCosts, roofline
from .scenario import Scenario, tiled
from .techniques.graph_options import graph_options
from .techniques.structured import prune_model
from .techniques.transform import transform_table


@dataclass(frozen=True)
class Analysis:
    """All results for n scenarios (arrays over the last axis). ``decode_at0`` / ``decode_at1``: decode
    costs at KV length 0 and 1 with windows ignored: each operator's cost as an affine function of
    the keys it sees (see report.generation, report.summed_over_steps). Under the calibrated setting
    ``decode_at1`` holds the datasheet roofline only (its FLOPs, bytes and roofline times give the
    slopes; its times are not calibrated)."""

    model: ModelSpec
    hardware: Hardware
    scenario: Scenario
    efficiency: Efficiency
    prefill: OpCosts
    decode: OpCosts
    decode_at0: OpCosts
    decode_at1: OpCosts
    prefill_total: StageTotals
    decode_total: StageTotals
    generation: Generation
    memory: Memory
    params_total: float
    params_active: float
    params_before_pruning: float | None = None  # structured pruning: the unpruned model's parameters
    parallel: object | None = None
    techniques: object | None = None  # techniques.engine.TechniqueResult when a technique is on


def evaluate(model: ModelSpec, hardware: Hardware, scenario: Scenario, efficiency: Efficiency,
             techniques=None, *, plan=None) -> Analysis:
    """``plan``: one device of a deployment (``model`` is then its shard; see parallel.analysis).
    ``techniques``: a techniques.Techniques; with any switched on, techniques.engine evaluates (the plain
    path below is untouched, so without one the numbers are exactly those of the plain engine).
    ``scenario.optimizations`` (techniques/optimizations.py) act here: structured pruning gives a smaller
    model, the graph options change how operators are built, prefix caching shortens the prefill, fusion
    and offloading transform the operator tables; with every optimization off each step is skipped."""
    if techniques is not None and techniques.active:
        check_combination(scenario, techniques)
        from .techniques.engine import evaluate_techniques

        return evaluate_techniques(model, hardware, scenario, efficiency, techniques, plan=plan)
    sc, n = scenario, scenario.size
    t = sc.optimizations
    params_before = None
    if t.structured:
        params_before = _params(model)
        model = prune_model(model, t)
    new_tokens = sc.prompt_len - t.prefix_len if t.prefix else sc.prompt_len  # a cached prefix is not prefilled
    prefill = roofline(transform_table(build_ops(model, sc, "prefill", T=new_tokens, S=sc.prompt_len, plan=plan,
                                                 options=graph_options(model, hardware, sc, "prefill")), model, sc),
                       sc, hardware, efficiency)
    # One decode build over three copies of the scenarios: the reported step at kv_len (windows applied),
    # and KV lengths 0 and 1 with windows ignored (each operator's affine coefficients, for the
    # exact generation sum).
    triple = tiled(sc, 3)
    table3 = transform_table(build_ops(model, triple, "decode", T=np.ones(3 * n),
                                       S=np.concatenate([sc.kv_len, np.zeros(n), np.ones(n)]),
                                       apply_window=np.repeat([True, False, False], n), plan=plan,
                                       options=graph_options(model, hardware, triple, "decode")), model, triple)
    calibrated = efficiency if getattr(efficiency, "mode", "") == "calibrated" else None
    if calibrated is None:
        decode, at0, at1 = split_costs(roofline(table3, triple, hardware, efficiency), n, 3)
    else:  # curves at kv_len and 0 only: KV length 1 gives the slopes, read off the datasheet roofline
        decode, at0 = split_costs(roofline(_columns(table3, slice(0, 2 * n), 3 * n), tiled(sc, 2), hardware,
                                      efficiency), n, 2)
        at1 = roofline(_columns(table3, slice(2 * n, 3 * n), 3 * n), sc, hardware, IDEAL)
    prefill_total = stage_totals(prefill, sc.batch_size * new_tokens)
    gen = generation(prefill_total.time_s, at0, at1, sc.prompt_len, sc.gen_len, sc.batch_size,
                     efficiency.kernel_overhead_s, calibrated=calibrated, scenario=sc)
    table = prefill.table
    return Analysis(
        model=model, hardware=hardware, scenario=sc, efficiency=efficiency, prefill=prefill,
        decode=decode, decode_at0=at0, decode_at1=at1, prefill_total=prefill_total,
        decode_total=stage_totals(decode, sc.batch_size), generation=gen,
        memory=memory(model, sc, prefill, at0, at1, hardware),
        params_total=float((table.params * table.counts).sum()),
        params_active=float((table.active_params * table.counts).sum()), params_before_pruning=params_before,
    )


def check_combination(scenario: Scenario, techniques) -> None:
    """The fast-decoding techniques combine with the compression and system optimizations (the
    optimizations act on the target's builds, techniques/engine.py) except speculative decoding (and
    lookahead / Jacobi) with offloading: its iteration sums (techniques/iteration.py) are over the device's
    compute and memory times only, not the host link's. That pair: ScenarioError."""
    if (techniques is not None and techniques.active and techniques.speculative is not None
            and scenario.optimizations.offloads):
        from .errors import ScenarioError

        raise ScenarioError("speculative decoding (also lookahead and Jacobi) does not combine with offloading "
                            "(offload_weights / offload_kv) yet: its iteration sums over the generation cover "
                            "the device's compute and memory, not the host link; leave one of the two off")


def _params(model: ModelSpec) -> float:
    """Parameters of ``model`` (one small build)."""
    one = Scenario.build(prompt_len=1, gen_len=0)
    table = build_ops(model, one, "decode", T=np.ones(1), S=np.ones(1))
    return float((table.params * table.counts).sum())
def _columns(table: OpTable, sl: slice, total: int) -> OpTable:
    """The operator table restricted to the scenarios ``sl`` of ``total``."""
    from dataclasses import fields, replace

    return replace(table, **{f.name: getattr(table, f.name)[:, sl] for f in fields(table)
                             if isinstance(getattr(table, f.name), np.ndarray) and getattr(table, f.name).ndim == 2},
                   shapes=slice_shapes(table.shapes, sl, total))


def split_costs(costs: OpCosts, n: int, parts: int) -> tuple[OpCosts, ...]:
    """Cut costs evaluated on a (parts x n)-long scenario axis into its parts."""
    return tuple(cost_columns(costs, slice(k * n, (k + 1) * n)) for k in range(parts))


def cost_columns(costs: OpCosts, sl: slice) -> OpCosts:
    """The costs (and their table) of the scenarios ``sl`` of the scenario axis."""
    from dataclasses import fields, replace

    table = costs.table
    table_part = _columns(table, sl, table.flops.shape[1])
    arrays = {f.name: getattr(costs, f.name)[:, sl] for f in fields(costs)
              if isinstance(getattr(costs, f.name), np.ndarray) and getattr(costs, f.name).ndim == 2}
    if costs.host_times:
        arrays["host_times"] = tuple(part[:, sl] for part in costs.host_times)
    return replace(costs, table=table_part, **arrays)
