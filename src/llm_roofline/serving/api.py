"""The serving API: ``simulate`` (the discrete-event simulation) and ``estimate_serving`` (the closed-form
steady state), both over the same pools; ``lr.simulate`` and ``lr.estimate_serving`` are these functions,
``lr.plan`` is plan.plan.

    >>> import llm_roofline as lr
    >>> r = lr.simulate("llama-3.1-8b", "h100-sxm", concurrency=64, isl=2048, osl=512)
    >>> r.simulation.ttft_s.p99, r.simulation.output_tokens_per_s, r.steady["tpot_s"]
    >>> lr.estimate_serving("llama-3.1-8b", "h100-sxm", concurrency=[1, 8, 64], isl=2048, osl=512)["tpot_s"]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..defaults import DEFAULT_BITS, DEFAULT_GROUP_SIZE, DEFAULT_SCALE_BITS, DEFAULT_STATE_BITS
from ..errors import ScenarioError
from .disagg import disagg_steady
from .pool import link_bandwidth, transfer_bandwidth
from .profiles import NEUTRAL, ServingProfile, profile_for, with_request_overhead
from .scheduler import SchedulerConfig
from .setup import CostCache, Formats, check_workers
from .simulate import simulate_agg, simulate_disagg
from .statistics import SimResult
from .steady import steady_state
from .workload import Workload, closed_loop, poisson, trace

MAX_DEFAULT_REQUESTS = 100_000


@dataclass(frozen=True)
class ServingReport:
    """A simulation and its context. ``steady``: the closed-form estimate of the same deployment at the
    same closed-loop concurrency and the mean lengths (None for open-loop loads)."""

    model: dict
    hardware: dict
    formats: dict
    efficiency: dict
    scheduler: dict
    deployment: dict
    workload: dict
    simulation: SimResult
    steady: dict | None

    def to_dict(self) -> dict:
        return {"model": self.model, "hardware": self.hardware, "formats": self.formats,
                "efficiency": self.efficiency, "scheduler": self.scheduler, "deployment": self.deployment,
                "workload": self.workload, **self.simulation.to_dict(), "steady_state": self.steady}


def _context(model, hardware, efficiency, compute_fraction=None, bandwidth_fraction=None, kernel_overhead_s=None,
             engine=None):
    from ..api import load_hardware, load_model, resolve_efficiency

    spec, device = load_model(model), load_hardware(hardware)
    eff = resolve_efficiency(efficiency, device, compute_fraction=compute_fraction,
                             bandwidth_fraction=bandwidth_fraction, kernel_overhead_s=kernel_overhead_s, engine=engine)
    return spec, device, eff


def serving_costs(model, hardware, efficiency="ideal", *, engine: str | None = None, several: bool = False,
                  engine_evaluated: bool = False, profile="auto", request_overhead_s: float | None = None) -> CostCache:
    """The iteration costs (and KV budgets) of ``model`` on ``hardware`` under ``efficiency``, cached per
    formats and deployment (setup.CostCache); ``several``: workers of several devices (``hardware`` is then
    a system, or a device's first bundled system). ``profile``: the serving profile (profiles.py) of the
    engine-evaluated costs: "auto" (the calibrated setting: its engine's fitted profile; else none), a
    ServingProfile, or None (none). ``request_overhead_s`` (s, 0..60): replaces that profile's request
    overhead (profiles.with_request_overhead; None: the profile's own)."""
    from ..api import load_system

    system = load_system(hardware, multi_device=True) if several else None
    spec, device, eff = _context(model, hardware if system is None else system.device, efficiency, engine=engine)
    return CostCache(spec, device, eff, system, engine_evaluated, _profile(profile, eff, request_overhead_s))


def _profile(profile, efficiency, request_overhead_s: float | None = None) -> ServingProfile:
    if profile is None:
        chosen = NEUTRAL
    elif isinstance(profile, ServingProfile):
        chosen = profile
    elif profile != "auto":
        raise ScenarioError(f"profile must be 'auto', None or a ServingProfile, got {profile!r}")
    else:
        chosen = profile_for(efficiency)
    return with_request_overhead(chosen, request_overhead_s)


def _deployments(hardware, efficiency, *given) -> tuple[object, list]:
    """(the system, each of ``given`` as a Deployment or None): a Deployment, or a mapping of its
    options (tp, ep, attention_dp, ep_imbalance, comm ...; parallel.options.make_deployment)."""
    from collections.abc import Mapping

    from ..api import load_system
    from ..errors import DeploymentError
    from ..parallel.deployment import Deployment
    from ..parallel.options import make_deployment

    out = []
    for value in given:
        if value is None or isinstance(value, Deployment):
            out.append(value)
        elif isinstance(value, Mapping):
            try:
                out.append(make_deployment(**value, efficiency=efficiency))
            except TypeError as exc:
                raise DeploymentError(f"deployment: {exc}") from None
        else:
            raise DeploymentError(f"a deployment is a Deployment or a mapping of its options, got {value!r}")
    several = any(d is not None and not d.is_single_device for d in out)
    return (load_system(hardware, multi_device=True) if several else None), out


def _workload(concurrency, rate, trace_path, requests, isl, osl, seed) -> Workload:
    given = [name for name, v in (("concurrency", concurrency), ("rate", rate), ("trace", trace_path)) if v is not None]
    if len(given) != 1:
        raise ScenarioError("give exactly one load: concurrency (closed loop), rate (Poisson) or trace, "
                            f"got {', '.join(given) or 'none'}")
    if trace_path is not None:
        return trace(trace_path)
    if concurrency is not None:
        if requests is None:
            valid = isinstance(concurrency, int) and not isinstance(concurrency, bool) and concurrency > 0
            requests = min(max(200, 10 * concurrency), MAX_DEFAULT_REQUESTS) if valid else 200
        return closed_loop(concurrency, requests, isl, osl, seed)
    return poisson(rate, 1000 if requests is None else requests, isl, osl, seed)


def simulate(model, hardware, *, concurrency: int | None = None, rate: float | None = None, trace: str | None = None,
             requests: int | None = None, isl: object = 2048, osl: object = 512, seed: int = 0,
             max_batch_tokens: int = 8192, max_seqs: int = 256, chunk: int | None = None, block_size: int = 16,
             memory_fraction: float = 0.9, workers: int = 1, disagg: bool = False, prefill_workers: int = 1,
             decode_workers: int = 1, link_bandwidth_bytes_per_s: float | None = None, w_bits=DEFAULT_BITS,
             a_bits=DEFAULT_BITS, kv_bits=DEFAULT_BITS, flash_attention: bool = True,
             group_size: int = DEFAULT_GROUP_SIZE, scale_bits: int = DEFAULT_SCALE_BITS,
             state_bits=DEFAULT_STATE_BITS, efficiency="ideal", engine: str | None = None, deployment=None,
             prefill_deployment=None, decode_deployment=None, prefill_scheduler=None, decode_scheduler=None,
             engine_evaluated: bool = False, profile="auto", request_overhead_s: float | None = None,
             progress=None) -> ServingReport:
    """Serve a load with continuous batching and measure it (discrete-event simulation).

    Load (exactly one): ``concurrency`` (closed loop), ``rate`` (Poisson, requests/s) or ``trace`` (a JSON-lines
    file). ``isl`` / ``osl``: tokens in and out per request (numbers or distributions, see workload.py);
    ``requests``: how many (default 10 x concurrency, at least 200; 1000 for a rate). Scheduler settings as
    in scheduler.SchedulerConfig. ``workers``: aggregated replicas; ``disagg``: separate pools of
    ``prefill_workers`` and ``decode_workers`` with the KV cache sent over the device's link (or
    ``link_bandwidth_bytes_per_s``). ``progress``: callback(done, total).
    ``engine``, ``deployment``, ``prefill_deployment``, ``decode_deployment``, ``prefill_scheduler``,
    ``decode_scheduler``, ``engine_evaluated``, ``profile`` and ``request_overhead_s`` as in
    ``estimate_serving``: the calibrated
    setting and workers of several devices price every iteration with the engine itself (engine_cost.py);
    of a serving profile the simulation applies the share of the kernels' fixed costs (iteration times) and
    the request overhead (a frontend: a request reaches the engine's queue request_overhead_s after it was
    sent, so TTFT and end to end include it; simulate.py), not the burst share (a simulated closed loop
    makes its own bursts)."""
    system, (agg_dep, pre_dep, dec_dep) = _deployments(hardware, efficiency, deployment, prefill_deployment,
                                                       decode_deployment)
    cache = serving_costs(model, hardware, efficiency, engine=engine, several=system is not None,
                          engine_evaluated=engine_evaluated, profile=profile, request_overhead_s=request_overhead_s)
    spec, device, eff = cache.model, cache.hardware, cache.efficiency
    config = SchedulerConfig(max_batch_tokens=max_batch_tokens, max_seqs=max_seqs, chunk=chunk,
                             block_size=block_size, memory_fraction=memory_fraction)
    formats = Formats(_own(spec, w_bits), a_bits, kv_bits, flash_attention, group_size, scale_bits, state_bits)
    load = _workload(concurrency, rate, trace, requests, isl, osl, seed)
    if disagg:
        pre, dec, link = _disagg_pools(cache, formats, config, (prefill_scheduler, decode_scheduler),
                                       (prefill_workers, decode_workers), (pre_dep, dec_dep),
                                       link_bandwidth_bytes_per_s)
        result = simulate_disagg(pre, dec, load, link, progress=progress)
        deployment = {"mode": "disagg", "prefill_workers": pre.workers, "decode_workers": dec.workers,
                      "gpus": pre.gpus + dec.gpus, "link_bandwidth_bytes_per_s": link,
                      **_devices("prefill_", pre_dep), **_devices("decode_", dec_dep)}
        no_decode = bool((load.osl <= 1).all())  # the closed form needs a decode pool's work; the simulation not
        steady = None if load.concurrency is None or no_decode else _steady_dict(
            disagg_steady(pre, dec, float(load.isl.mean()), float(load.osl.mean()), link, load.concurrency), 0)
    else:
        pool = cache.pool(formats, config, check_workers(workers, "workers"), agg_dep)
        result = simulate_agg(pool, load, progress=progress)
        deployment = {"mode": "agg", "workers": pool.workers, "gpus": pool.gpus, **_devices("", agg_dep)}
        steady = None
        if load.concurrency is not None:
            per_worker = load.concurrency / pool.workers
            s = steady_state(pool.cost, pool.kv, config, per_worker, float(load.isl.mean()), float(load.osl.mean()))
            steady = _steady_dict(s, 0, scale=pool.workers)
    return ServingReport(model=_model_dict(spec), hardware={"name": device.name}, formats=formats.to_dict(),
                         efficiency=_efficiency_dict(eff, cache.profile), scheduler=config.to_dict(),
                         deployment=deployment, workload=load.to_dict(), simulation=result, steady=steady)


def _devices(prefix: str, deployment) -> dict:
    """One worker's parallelism in the report: ``{prefix}tp``, ``ep``, ``attention_dp``, ``pp`` (pipeline
    stages) and devices (empty for one device)."""
    if deployment is None or deployment.is_single_device:
        return {}
    return {f"{prefix}tp": deployment.tp, f"{prefix}ep": deployment.ep,
            f"{prefix}attention_dp": deployment.attention_dp, f"{prefix}pp": deployment.pp,
            f"{prefix}devices_per_worker": deployment.devices}


def estimate_serving(model, hardware, *, concurrency, isl, osl, max_batch_tokens: int = 8192, max_seqs: int = 256,
             chunk: int | None = None, block_size: int = 16, memory_fraction: float = 0.9, workers: int = 1,
             disagg: bool = False, prefill_workers: int = 1, decode_workers: int = 1,
             link_bandwidth_bytes_per_s: float | None = None, w_bits=DEFAULT_BITS, a_bits=DEFAULT_BITS,
             kv_bits=DEFAULT_BITS, flash_attention: bool = True, group_size: int = DEFAULT_GROUP_SIZE,
             scale_bits: int = DEFAULT_SCALE_BITS, state_bits=DEFAULT_STATE_BITS, efficiency="ideal",
             engine: str | None = None, deployment=None, prefill_deployment=None, decode_deployment=None,
             prefill_scheduler=None, decode_scheduler=None, engine_evaluated: bool = False,
             costs: CostCache | None = None, profile="auto", request_overhead_s: float | None = None,
             prefill_batch_tokens: int | None = None, recv_interval: int = 1,
             adp_balance_iterations: int = 0) -> dict:
    """The closed-form closed-loop steady state (microseconds per point on one device, milliseconds with
    the engine-evaluated cost): a dict of arrays over the concurrency values (total requests in flight;
    ``workers`` aggregated replicas share them evenly). Aggregated: ``isl`` and ``osl`` may be arrays too
    (one per concurrency value).
    Keys: concurrency, ttft_s, tpot_s, e2e_s, requests_per_s, output_tokens_per_s, queued, running (requests
    running; disaggregated: decoding, per decode worker), limited_by.
    ``engine``: with ``efficiency="calibrated"``, whose kernels and host costs. ``deployment`` (agg) /
    ``prefill_deployment`` and ``decode_deployment`` (disagg): one worker's devices, a parallel Deployment
    or a mapping of its options, e.g. {"tp": 8, "ep": 8} or {"attention_dp": 8, "ep": 8}; ``hardware`` is
    then a system (or a device: its first bundled system). ``prefill_scheduler`` / ``decode_scheduler``:
    a mapping of scheduler settings (max_batch_tokens, max_seqs, chunk ...) that replace the common ones
    for that pool (e.g. a prefill worker batching one prompt, a decode worker holding 512 requests).
    ``profile``: the engine's serving profile (serving/profiles.py: share of the kernels' fixed costs,
    request overhead, closed-loop bursts): "auto" = the calibrated engine's fitted profile (none for ideal
    and hardware), a ServingProfile, or None. ``request_overhead_s`` (s, 0..60): the user's request overhead
    in place of the profile's (a stack measured or known to differ from the fit; None: the profile's own);
    it needs a profile (the calibrated setting, or one given): the ideal and hardware settings have none,
    and a ScenarioError says so. ``costs``: a CostCache of this model, system and efficiency
    (serving_costs) to reuse iteration costs and KV budgets across calls (``validate`` keeps one each).
    ``prefill_batch_tokens``: prompt tokens of a prefill-first scheduler's prefill-only iteration (SGLang's
    chunked_prefill_size), which sets the burst of a profile's burst share (None: max_batch_tokens).
    ``recv_interval``: decode iterations between the scheduler's polls for new requests (SGLang's
    --scheduler-recv-interval; 1: every iteration): TTFT grows by (recv_interval - 1) / 2 busy iterations
    (SchedulerConfig; aggregated serving only, a ScenarioError under ``disagg``). ``adp_balance_iterations``:
    TensorRT-LLM's attention-DP balancing timeout (``attention_dp_config.timeout_iters`` with enable_balance;
    0: off): on a worker of several attention-DP ranks a rank's prompts wait until every rank has one, or that
    many iterations (steady.adp_balance_wait; aggregated only, as recv_interval).
    ``engine_evaluated``: price iterations with the engine itself (engine_cost.py) also where the exact
    linear cost applies (ideal / hardware on one device), as the calibrated setting and multi-device
    workers always do.
    One row of a measured serving table is one call: agg (concurrency, isl, osl) or disagg (pools)."""
    system, (agg_dep, pre_dep, dec_dep) = _deployments(hardware, efficiency, deployment, prefill_deployment,
                                                       decode_deployment)
    if costs is not None and request_overhead_s is not None:
        raise ScenarioError("request_overhead_s: give it to serving_costs, which builds the costs' profile, "
                            "not beside costs")
    cache = costs if costs is not None else serving_costs(model, hardware, efficiency, engine=engine,
                                                          several=system is not None,
                                                          engine_evaluated=engine_evaluated, profile=profile,
                                                          request_overhead_s=request_overhead_s)
    config = SchedulerConfig(max_batch_tokens=max_batch_tokens, max_seqs=max_seqs, chunk=chunk,
                             block_size=block_size, memory_fraction=memory_fraction,
                             prefill_batch_tokens=prefill_batch_tokens, recv_interval=recv_interval,
                             adp_balance_iterations=adp_balance_iterations)
    formats = Formats(_own(cache.model, w_bits), a_bits, kv_bits, flash_attention, group_size, scale_bits, state_bits)
    C = np.atleast_1d(np.asarray(concurrency, dtype=np.float64))
    if (C < 1).any() or not np.isfinite(C).all():
        raise ScenarioError("concurrency must be at least 1")
    for name, value in (("isl", isl), ("osl", osl)):
        _check_tokens(name, value, arrays=not disagg)
    if disagg:
        pre, dec, link = _disagg_pools(cache, formats, config, (prefill_scheduler, decode_scheduler),
                                       (prefill_workers, decode_workers), (pre_dep, dec_dep),
                                       link_bandwidth_bytes_per_s)
        if max(pre.config.recv_interval, dec.config.recv_interval) > 1:
            raise ScenarioError("recv_interval applies to aggregated serving's closed form; the disaggregated "
                                "one polls every iteration (leave it at 1)")
        if max(pre.config.adp_balance_iterations, dec.config.adp_balance_iterations) > 0:
            raise ScenarioError("adp_balance_iterations applies to aggregated serving's closed form; the "
                                "disaggregated one does not balance attention-DP ranks (leave it at 0)")
        return _steady_dict(disagg_steady(pre, dec, float(isl), float(osl), link, C))
    pool = cache.pool(formats, config, check_workers(workers, "workers"), agg_dep)
    return _steady_dict(steady_state(pool.cost, pool.kv, config, C / pool.workers, isl, osl), scale=pool.workers)


def _disagg_pools(cache: CostCache, formats: Formats, config: SchedulerConfig, schedulers, workers, deployments,
                  link_bandwidth_bytes_per_s):
    """The prefill and decode pools of a disaggregated deployment (each with its scheduler overrides, worker
    count and deployment) and the bandwidth of one request's KV transfer between them (bytes/s)."""
    pre, dec = (cache.pool(formats, _pool_config(config, overrides, f"{name}_scheduler"),
                           check_workers(count, f"{name}_workers"), dep)
                for name, overrides, count, dep in zip(("prefill", "decode"), schedulers, workers, deployments,
                                                       strict=True))
    return pre, dec, transfer_bandwidth(pre, dec, link_bandwidth(cache.hardware, link_bandwidth_bytes_per_s))


def _check_tokens(name: str, value, arrays: bool) -> None:
    """A number of tokens in 1..1e7; aggregated serving also takes an array (one per concurrency)."""
    if arrays and isinstance(value, list | tuple | np.ndarray):
        values = np.asarray(value, dtype=object).ravel()
        if values.size:
            for v in values:
                _check_tokens(name, v, False)
            return
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) \
            or not 1 <= value <= 10_000_000:
        raise ScenarioError(f"{name} must be a number of tokens in 1..10000000{' (or a list)' if arrays else ''}, "
                            f"got {value!r}")


def _pool_config(config: SchedulerConfig, overrides, name: str) -> SchedulerConfig:
    """``config`` with one pool's settings replaced (a mapping of SchedulerConfig fields, or None)."""
    from collections.abc import Mapping
    from dataclasses import fields, replace

    if overrides is None:
        return config
    known = {f.name for f in fields(SchedulerConfig)}
    if not isinstance(overrides, Mapping) or set(overrides) - known:
        raise ScenarioError(f"{name} must be a mapping of {', '.join(sorted(known))}, got {overrides!r}")
    return replace(config, **overrides)


def _steady_dict(s, i: int | None = None, scale: int = 1) -> dict:
    """A SteadyState or DisaggSteady as plain values (point ``i``) or arrays; ``scale`` replicas multiply
    the concurrency, queue and throughputs."""
    keys = ("concurrency", "ttft_s", "tpot_s", "e2e_s", "requests_per_s", "output_tokens_per_s", "queued")
    out = {k: np.asarray(getattr(s, k), dtype=np.float64) * (scale if k in ("concurrency", "requests_per_s",
                                                                           "output_tokens_per_s", "queued") else 1)
           for k in keys}
    out["running"] = (np.asarray(s.running) if hasattr(s, "running") else np.asarray(s.decode_batch)) * scale
    limits = s.limits() if hasattr(s, "limits") else list(s.limited_by)
    out["limited_by"] = limits
    if i is None:
        return out
    return {k: (v[i] if k == "limited_by" else _num(v[i])) for k, v in out.items()}


def _num(value) -> float | None:
    value = float(value)
    return None if not np.isfinite(value) else value


def _model_dict(spec) -> dict:
    return {"name": spec.name, "model_type": spec.model_type, "source": spec.source}


def _efficiency_dict(eff, profile=None) -> dict:
    """The fractions; calibrated: also its ``mode``, ``engine`` and the ``serving_profile`` applied."""
    out = {"compute_fraction": eff.compute_fraction, "bandwidth_fraction": eff.bandwidth_fraction,
           "kernel_overhead_s": eff.kernel_overhead_s}
    if getattr(eff, "mode", "") == "calibrated":
        out.update(mode="calibrated", engine=eff.engine.name,
                   serving_profile=None if profile is None else profile.to_dict())
    return out


def _own(spec, w_bits):
    """``w_bits`` None: the model's own weights format (its config's quantization_config, else 16 bits)."""
    from ..techniques.precision_map import own_weights

    return own_weights(spec) if w_bits is None else w_bits
