"""evaluate_deployment: a model on a system under a deployment, vectorized over scenarios.

One device is analysed (the most loaded one: the largest attention-DP group, the busiest expert rank):
its shard of the model (shard.py), its batch b = ceil(B / (attention_dp x micro_batches)) and the
communication its plan adds (plan.py); metrics.py turns that into the deployment's numbers. A
single-device deployment is the engine's own analysis, unchanged.
"""

from __future__ import annotations

import weakref
from dataclasses import replace

import numpy as np

from ..engine import Analysis, check_combination, evaluate
from ..graph import build_ops
from ..hardware.spec import Efficiency
from ..hardware.system import System
from ..models.spec import ModelSpec
from ..scenario import Scenario
from .deployment import Deployment, layout
from .metrics import micro_batch, micro_batches, parallel_metrics, single_device
from .plan import DevicePlan
from .shard import shard_model


def evaluate_deployment(model: ModelSpec, system: System, scenario: Scenario, efficiency: Efficiency,
                        deployment: Deployment, techniques=None) -> Analysis:
    """``techniques`` (techniques.Techniques): the fast-decoding techniques, on the analysed device's shard
    with its plan (techniques/engine.py); pipeline parallelism, overlap and early exit stay one-device."""
    if deployment.is_single_device:
        a = evaluate(model, system.device, scenario, efficiency, techniques)
        return replace(a, parallel=single_device(a))
    if techniques is not None and techniques.active:
        check_techniques(techniques, deployment, scenario)
    params_before = None
    if scenario.optimizations.structured:  # prune the whole model, then shard it (techniques/structured.py)
        from ..techniques.structured import prune_model, unpruned

        params_before = model_parameters(model)[0]
        model, scenario = prune_model(model, scenario.optimizations), replace(scenario, optimizations=unpruned(
            scenario.optimizations))
    lay, shard = check_deployment(model, system, deployment)
    plan = DevicePlan(layout=lay, vocab_size=model.vocab_size, embedding_width=model.embedding_width,
                      hidden_size=model.hidden_size)
    m = micro_batches(scenario.batch_size, deployment.attention_dp, deployment.pipeline_micro_batches)
    per_device = replace(scenario, batch_size=micro_batch(scenario.batch_size, deployment.attention_dp, m))
    a = evaluate(shard, system.device, per_device, efficiency, techniques, plan=plan)
    total, active = model_parameters(model)
    a = replace(a, params_total=total, params_active=active, params_before_pruning=params_before)
    return replace(a, parallel=parallel_metrics(a, lay, scenario))


def check_techniques(techniques, deployment: Deployment, scenario: Scenario) -> None:
    """The techniques on a multi-device ``deployment``, or an error naming the field that is refused:
    pipeline stages (a speculative iteration's draft and verify passes through every stage are not
    modelled), overlap (its decode sum is the one-token step's), early exit (its exited tokens' share
    of the all-reduces is not modelled); with the optimizations, as on one device (engine.check_combination)."""
    from ..errors import ScenarioError

    check_combination(scenario, techniques)
    refused = [(deployment.pp > 1, f"pp ({deployment.pp})", "leave pp at 1"),
               (deployment.overlap, "overlap", "leave overlap off"),
               (techniques.early_exit is not None, "early_exit", "leave tp, pp, ep, dp and attention_dp at 1 "
                                                                 "with early exit")]
    for bad, what, fix in refused:
        if bad:
            raise ScenarioError(f"the fast-decoding techniques with {what} on several devices are not modelled "
                                f"(tensor, expert and attention-data parallelism are); {fix}")


def check_deployment(model: ModelSpec, system: System, deployment: Deployment):
    """(layout, the device's shard) of a multi-device ``deployment``, or DeploymentError naming the field;
    (None, model) on one device."""
    if deployment.is_single_device:
        return None, model
    return layout(deployment, model, system), shard_model(model, deployment.tp, deployment.moe_tp)


_PARAMETERS: dict[int, tuple[weakref.ref, tuple[float, float]]] = {}


def model_parameters(model: ModelSpec) -> tuple[float, float]:
    """(all, active) parameters of the whole model, read off a one-token prefill table (remembered per
    ModelSpec object while it lives: a sweep asks once per deployment)."""
    key = id(model)
    cached = _PARAMETERS.get(key)
    if cached is not None and cached[0]() is model:
        return cached[1]
    one = Scenario.build(batch_size=1, prompt_len=1)
    table = build_ops(model, one, "prefill", T=np.ones(1), S=np.ones(1))
    result = float((table.params * table.counts).sum()), float((table.active_params * table.counts).sum())
    if len(_PARAMETERS) > 256:
        _PARAMETERS.clear()
    _PARAMETERS[key] = (weakref.ref(model), result)
    return result
