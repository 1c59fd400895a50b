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
from .pool import link_bandwidth
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


def _context(model, hardware, efficiency, compute_fraction=None, bandwidth_fraction=None, kernel_overhead_s=None):
    from ..api import load_hardware, load_model, resolve_efficiency

    spec, device = load_model(model), load_hardware(hardware)
    eff = resolve_efficiency(efficiency, device, compute_fraction=compute_fraction,
                             bandwidth_fraction=bandwidth_fraction, kernel_overhead_s=kernel_overhead_s)
    return spec, device, eff


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
             state_bits=DEFAULT_STATE_BITS, efficiency="ideal", progress=None) -> ServingReport:
    """Serve a load with continuous batching and measure it (discrete-event simulation).

    Load (exactly one): ``concurrency`` (closed loop), ``rate`` (Poisson, requests/s) or ``trace`` (a JSON-lines
    file). ``isl`` / ``osl``: tokens in and out per request (numbers or distributions, see workload.py);
    ``requests``: how many (default 10 x concurrency, at least 200; 1000 for a rate). Scheduler settings as
    in scheduler.SchedulerConfig. ``workers``: aggregated replicas; ``disagg``: separate pools of
    ``prefill_workers`` and ``decode_workers`` with the KV cache sent over the device's link (or
    ``link_bandwidth_bytes_per_s``). ``progress``: callback(done, total)."""
    spec, device, eff = _context(model, hardware, efficiency)
    config = SchedulerConfig(max_batch_tokens=max_batch_tokens, max_seqs=max_seqs, chunk=chunk,
                             block_size=block_size, memory_fraction=memory_fraction)
    formats = Formats(_own(spec, w_bits), a_bits, kv_bits, flash_attention, group_size, scale_bits, state_bits)
    cache = CostCache(spec, device, eff)
    load = _workload(concurrency, rate, trace, requests, isl, osl, seed)
    if disagg:
        pre = cache.pool(formats, config, check_workers(prefill_workers, "prefill_workers"))
        dec = cache.pool(formats, config, check_workers(decode_workers, "decode_workers"))
        link = link_bandwidth(device, link_bandwidth_bytes_per_s)
        result = simulate_disagg(pre, dec, load, link, progress=progress)
        deployment = {"mode": "disagg", "prefill_workers": pre.workers, "decode_workers": dec.workers,
                      "gpus": pre.gpus + dec.gpus, "link_bandwidth_bytes_per_s": link}
        steady = None if load.concurrency is None else _steady_dict(
            disagg_steady(pre, dec, float(load.isl.mean()), float(load.osl.mean()), link, load.concurrency), 0)
    else:
        pool = cache.pool(formats, config, check_workers(workers, "workers"))
        result = simulate_agg(pool, load, progress=progress)
        deployment = {"mode": "agg", "workers": pool.workers, "gpus": pool.gpus}
        steady = None
        if load.concurrency is not None:
            per_worker = load.concurrency / pool.workers
            s = steady_state(pool.cost, pool.kv, config, per_worker, float(load.isl.mean()), float(load.osl.mean()))
            steady = _steady_dict(s, 0, scale=pool.workers)
    return ServingReport(model=_model_dict(spec), hardware={"name": device.name}, formats=formats.to_dict(),
                         efficiency=_efficiency_dict(eff), scheduler=config.to_dict(), deployment=deployment,
                         workload=load.to_dict(), simulation=result, steady=steady)


def estimate_serving(model, hardware, *, concurrency, isl, osl, max_batch_tokens: int = 8192, max_seqs: int = 256,
             chunk: int | None = None, block_size: int = 16, memory_fraction: float = 0.9, workers: int = 1,
             disagg: bool = False, prefill_workers: int = 1, decode_workers: int = 1,
             link_bandwidth_bytes_per_s: float | None = None, w_bits=DEFAULT_BITS, a_bits=DEFAULT_BITS,
             kv_bits=DEFAULT_BITS, flash_attention: bool = True, group_size: int = DEFAULT_GROUP_SIZE,
             scale_bits: int = DEFAULT_SCALE_BITS, state_bits=DEFAULT_STATE_BITS, efficiency="ideal") -> dict:
    """The closed-form closed-loop steady state (microseconds per point): a dict of arrays over the
    concurrency values (total requests in flight; ``workers`` aggregated replicas share them evenly).
    Keys: concurrency, ttft_s, tpot_s, e2e_s, requests_per_s, output_tokens_per_s, queued, running (requests
    running; disaggregated: decoding, per decode worker), limited_by.
    One row of a measured serving table is one call: agg (concurrency, isl, osl) or disagg (pools)."""
    spec, device, eff = _context(model, hardware, efficiency)
    config = SchedulerConfig(max_batch_tokens=max_batch_tokens, max_seqs=max_seqs, chunk=chunk,
                             block_size=block_size, memory_fraction=memory_fraction)
    formats = Formats(_own(spec, w_bits), a_bits, kv_bits, flash_attention, group_size, scale_bits, state_bits)
    cache = CostCache(spec, device, eff)
    C = np.atleast_1d(np.asarray(concurrency, dtype=np.float64))
    if (C < 1).any() or not np.isfinite(C).all():
        raise ScenarioError("concurrency must be at least 1")
    for name, value in (("isl", isl), ("osl", osl)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 10_000_000:
            raise ScenarioError(f"{name} must be a number of tokens in 1..10000000, got {value!r}")
    if disagg:
        pre = cache.pool(formats, config, check_workers(prefill_workers, "prefill_workers"))
        dec = cache.pool(formats, config, check_workers(decode_workers, "decode_workers"))
        s = disagg_steady(pre, dec, float(isl), float(osl), link_bandwidth(device, link_bandwidth_bytes_per_s), C)
        return _steady_dict(s)
    pool = cache.pool(formats, config, check_workers(workers, "workers"))
    return _steady_dict(steady_state(pool.cost, pool.kv, config, C / pool.workers, isl, osl), scale=pool.workers)


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


def _efficiency_dict(eff) -> dict:
    return {"compute_fraction": eff.compute_fraction, "bandwidth_fraction": eff.bandwidth_fraction,
            "kernel_overhead_s": eff.kernel_overhead_s}


def _own(spec, w_bits):
    """``w_bits`` None: the model's own weights format (its config's quantization_config, else 16 bits)."""
    from ..techniques.precision_map import own_weights

    return own_weights(spec) if w_bits is None else w_bits
