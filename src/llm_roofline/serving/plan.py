"""The deployment search: every configuration of a search space, evaluated with the closed-form steady state.

A configuration takes one value of each axis of the search space (``DEFAULT_AXES``; ``AXIS_RULES`` says
where each value goes). For each, the load is swept: the requests each worker holds (its batch limit and
closed-loop concurrency; for disaggregation, each decode worker's batch). Every point gets TTFT, TPOT,
requests/s, output tokens/s per GPU and per user (1 / TPOT) on ``gpus`` devices. The ``layout`` axis
(plan_layouts.py: tp, ep, attention_dp, pp) says how many devices one worker spans and how the model is split
over them: aggregated serving runs gpus / devices-per-worker replicas, disaggregated serving splits those
workers into a prefill and a decode pool of that same layout (every split). One device per worker is
priced with the exact linear cost, several with the engine itself (setup.CostCache).
The result: the Pareto front of tokens/s per GPU (every device counted) against tokens/s per user, the
best point under the SLOs (most tokens/s per GPU), the largest request rate that meets them, and with a
target rate the fewest devices that serve it.

Configurations are independent: past ``PROCESS_CROSSOVER`` configurations the search runs in a process
pool (Python's, one process per core), see docs/serving.md for the measured crossover.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import ScenarioError
from .disagg import disagg_curve
from .pareto import SLO, best_under_slo, pareto_front
from .plan_layouts import (
    SINGLE,
    check_layout,
    comm_of,
    default_layouts,
    deployment,
    devices,
    given_layouts,
    label,
    resolve_target,
)
from .pool import link_bandwidth, transfer_bandwidth
from .profiles import NEUTRAL, profile_for, with_request_overhead
from .scheduler import SchedulerConfig
from .setup import CostCache, Formats
from .steady import steady_state

FORMAT_PRESETS = {
    "bf16": Formats(16, 16, 16), "fp8": Formats("fp8", "fp8", "fp8"), "fp8-kv16": Formats("fp8", "fp8", 16),
    "int8": Formats("int8", "int8", 16), "w8a16": Formats("int8", 16, 16), "w4a16": Formats("int4", 16, 16),
    "w4a16-kv8": Formats("int4", 16, "fp8"), "fp4": Formats("fp4", "fp4", "fp8"),
}
BATCHES = tuple(2 ** k for k in range(11))  # 1 .. 1024 requests per worker
DEFAULT_AXES = {"mode": ("agg", "disagg"), "format": ("bf16", "fp8", "w4a16"), "max_batch_tokens": (2048, 8192),
                "chunk": (None,)}
AXIS_RULES = {  # axis -> the part of a configuration it sets
    "mode": "deployment", "format": "formats", "max_batch_tokens": "scheduler", "chunk": "scheduler",
    "layout": "deployment",  # (tp, ep, attention_dp, pp) of every worker
}
PROCESS_CROSSOVER = 1000  # configurations; below it one process is faster (measured: docs/serving.md)
COLUMNS = ("batch", "concurrency", "gpus", "prefill_workers", "decode_workers", "ttft_s", "tpot_s", "e2e_s",
           "requests_per_s", "output_tokens_per_s", "tokens_per_s_per_gpu", "tokens_per_s_per_user")


@dataclass(frozen=True)
class PlanResult:
    """points: one row per evaluated point (``config`` labels by row, ``columns`` arrays); ``pareto``: row
    indices of the front; ``best``: the best row under the SLOs (None if nothing meets them);
    ``target``: the fewest-devices answer for a target rate (or None); ``skipped``: configurations that
    could not run, with the reason; ``search``: size and time of the search; ``serving_profile``: the
    serving profile the points were priced with (profiles.py; None without one: ideal, hardware)."""

    slo: SLO
    gpus: int
    isl: float
    osl: float
    configs: list[dict]
    columns: dict[str, np.ndarray]
    pareto: np.ndarray
    best: int | None
    target: dict | None
    skipped: list[dict]
    search: dict = field(default_factory=dict)
    serving_profile: dict | None = None

    def row(self, i: int) -> dict:
        return {**self.configs[i], **{k: _num(v[i]) for k, v in self.columns.items()}}

    @property
    def max_rate_at_slo(self) -> float | None:
        """The largest request rate (requests/s, all devices) of a point that meets the SLOs."""
        ok = self.slo.met(self.columns["ttft_s"], self.columns["tpot_s"])
        return float(self.columns["requests_per_s"][ok].max()) if ok.any() else None

    def to_dict(self, all_points: bool = False) -> dict:
        out = {"gpus": self.gpus, "isl": self.isl, "osl": self.osl, "slo": self.slo.to_dict(),
               "best": None if self.best is None else self.row(self.best),
               "max_rate_at_slo_per_s": self.max_rate_at_slo, "target": self.target,
               "pareto": [self.row(i) for i in self.pareto.tolist()], "skipped": self.skipped,
               "search": self.search, "serving_profile": self.serving_profile}
        if all_points:
            out["points"] = [self.row(i) for i in range(len(self.configs))]
        return out


def _num(value):
    value = float(value)
    return None if not math.isfinite(value) else (int(value) if value.is_integer() and abs(value) < 2**53 else value)


def configurations(axes: dict) -> list[dict]:
    unknown = set(axes) - set(AXIS_RULES)
    if unknown:
        raise ScenarioError(f"unknown search axis {sorted(unknown)}; axes: {', '.join(AXIS_RULES)}")
    for value in axes.get("format", ()):
        if value not in FORMAT_PRESETS:
            raise ScenarioError(f"unknown format {value!r}; formats: {', '.join(FORMAT_PRESETS)}")
    for value in axes.get("mode", ()):
        if value not in ("agg", "disagg"):
            raise ScenarioError(f"mode must be agg or disagg, got {value!r}")
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(axes[n] for n in names))]


def _splits(gpus: int) -> list[tuple[int, int]]:
    """(prefill, decode) worker counts that use every device: all of them up to 16 devices, then a
    geometric subset of prefill pool sizes."""
    if gpus < 2:
        return []
    sizes = range(1, gpus) if gpus <= 16 else sorted({int(round(gpus * f)) for f in np.geomspace(1 / gpus, 0.75, 16)}
                                                     - {0, gpus})
    return [(p, gpus - p) for p in sizes]


def evaluate_config(cache: CostCache, config: dict, gpus: int, isl: float, osl: float, batches, link,
                    comm: str = "ideal") -> dict:
    """All points of one configuration: (rows of column values, and a label per row). ``comm``: how the
    collectives of multi-device workers are costed (ideal or fitted)."""
    formats = FORMAT_PRESETS[config.get("format", "bf16")]
    budget = config.get("max_batch_tokens", 8192)
    limit = [b for b in batches if b <= budget]
    scheduler = SchedulerConfig(max_batch_tokens=budget, max_seqs=max(limit), chunk=config.get("chunk"))
    layout = config.get("layout", SINGLE)
    pool = cache.pool(formats, scheduler, deployment=deployment(layout, comm))
    workers = gpus // devices(layout)  # the search checked that the layout divides the GPUs
    rows: dict[str, list] = {k: [] for k in COLUMNS}
    labels: list[dict] = []
    if config.get("mode", "agg") == "agg":
        b = np.array(limit, dtype=np.float64)
        s = steady_state(pool.cost, pool.kv, scheduler, b, isl, osl)
        _append(rows, labels, config, batch=b, concurrency=b * workers, gpus=gpus, prefill_workers=0,
                decode_workers=0, ttft=s.ttft_s, tpot=s.tpot_s, e2e=s.e2e_s, rate=s.requests_per_s * workers,
                osl=osl, workers=workers)
        return {"rows": rows, "labels": labels}
    if workers < 2:
        raise ScenarioError(f"disaggregation needs two workers (a prefill and a decode pool); {gpus} GPUs hold "
                            f"one worker of {devices(layout)} devices")
    for n_p, n_d in _splits(workers):
        b = np.array(limit, dtype=np.float64)
        pre, dec = replace(pool, workers=n_p), replace(pool, workers=n_d)
        c = disagg_curve(pre, dec, isl, osl, transfer_bandwidth(pre, dec, link), b)
        ok = np.array([lim == "concurrency" for lim in c.limited_by])  # points the pools can sustain
        _append(rows, labels, config, batch=c.decode_batch[ok], concurrency=c.concurrency[ok], gpus=gpus,
                prefill_workers=n_p, decode_workers=n_d, ttft=c.ttft_s[ok], tpot=c.tpot_s[ok], e2e=c.e2e_s[ok],
                rate=c.requests_per_s[ok], osl=osl)
    return {"rows": rows, "labels": labels}


def _append(rows, labels, config, *, batch, concurrency, gpus, prefill_workers, decode_workers, ttft, tpot, e2e,
            rate, osl, workers=None) -> None:
    n = len(batch)
    values = {"batch": batch, "concurrency": concurrency, "gpus": np.full(n, gpus),
              "prefill_workers": np.full(n, prefill_workers), "decode_workers": np.full(n, decode_workers),
              "ttft_s": ttft, "tpot_s": tpot, "e2e_s": e2e, "requests_per_s": rate,
              "output_tokens_per_s": rate * osl, "tokens_per_s_per_gpu": rate * osl / gpus,
              "tokens_per_s_per_user": 1.0 / np.asarray(tpot, dtype=np.float64)}
    for k in COLUMNS:
        rows[k].extend(np.asarray(values[k], dtype=np.float64).tolist())
    label = _label(config)
    if workers is not None:
        label = {**label, "workers": workers}
    labels.extend([label] * n)


def _label(config: dict) -> dict:
    """A configuration as a row names it: the layout as its degrees (plan_layouts.label)."""
    out = {k: v for k, v in config.items() if k != "layout"}
    return {**out, **label(config.get("layout", SINGLE))}


def _safe_eval(cache, config, gpus, isl, osl, batches, link, comm="ideal"):
    try:
        return evaluate_config(cache, config, gpus, isl, osl, batches, link, comm)
    except ScenarioError as exc:
        return {"skipped": {**_label(config), "reason": str(exc)}}


def search(model, hardware, *, gpus: int, isl: float, osl: float, slo: SLO, axes: dict | None = None,
           batches=BATCHES, efficiency="ideal", link_bandwidth_bytes_per_s: float | None = None,
           processes: int | None = None, progress=None, comm: str | None = None,
           request_overhead_s: float | None = None) -> PlanResult:
    """Every configuration of ``axes`` on ``gpus`` devices; ``axes`` without a layout: one device per worker.
    ``request_overhead_s``: as plan's."""
    started = time.perf_counter()
    spec, device, eff, system = resolve_target(model, hardware, efficiency)
    profile = with_request_overhead(profile_for(eff), request_overhead_s)  # as estimate_serving's default
    comm = comm_of(efficiency, comm)
    axes = dict(DEFAULT_AXES if axes is None else axes)
    skipped = []
    if "layout" in axes:
        valid = []
        for layout in axes["layout"]:
            try:
                check_layout(layout, spec, system, gpus, comm)
                valid.append(layout)
            except ScenarioError as exc:
                skipped.append({**label(layout), "reason": str(exc)})
        axes["layout"] = tuple(valid)
    configs = configurations(axes)
    link = None
    if any(c.get("mode") == "disagg" for c in configs) and gpus >= 2:
        try:
            link = link_bandwidth(device, link_bandwidth_bytes_per_s)
        except ScenarioError as exc:
            if all(c.get("mode") == "disagg" for c in configs):
                raise
            skipped.append({"mode": "disagg", "reason": str(exc)})
            configs = [c for c in configs if c.get("mode") != "disagg"]
    if processes is None:
        processes = (os.cpu_count() or 1) if len(configs) > PROCESS_CROSSOVER else 1
    results: list[dict] = []
    if processes > 1:
        from .search_pool import evaluate_in_pool

        results = evaluate_in_pool(spec, device, eff, configs, processes, (gpus, isl, osl, batches, link, comm),
                                   progress, system, profile)
    else:
        processes = 1
        cache = CostCache(spec, device, eff, system, profile=profile)
        for done, config in enumerate(configs, 1):
            results.append(_safe_eval(cache, config, gpus, isl, osl, batches, link, comm))
            if progress:
                progress(done, len(configs))
    result = _collect([*({"skipped": item} for item in skipped), *results], slo, gpus, isl, osl, started,
                      len(configs), processes)
    return replace(result, serving_profile=None if profile is NEUTRAL else profile.to_dict())


def _collect(results, slo, gpus, isl, osl, started, n_configs, processes) -> PlanResult:
    columns: dict[str, list] = {k: [] for k in COLUMNS}
    labels, skipped = [], []
    for r in results:
        if "skipped" in r:
            skipped.append(r["skipped"])
            continue
        labels.extend(r["labels"])
        for k in COLUMNS:
            columns[k].extend(r["rows"][k])
    cols = {k: np.array(v, dtype=np.float64) for k, v in columns.items()}
    ok = slo.met(cols["ttft_s"], cols["tpot_s"])
    return PlanResult(slo=slo, gpus=gpus, isl=isl, osl=osl, configs=labels, columns=cols,
                      pareto=pareto_front(cols["tokens_per_s_per_gpu"], cols["tokens_per_s_per_user"]),
                      best=best_under_slo(cols["tokens_per_s_per_gpu"], cols["tokens_per_s_per_user"], ok),
                      target=None, skipped=skipped,
                      search={"configurations": n_configs, "points": len(labels), "processes": processes,
                              "seconds": time.perf_counter() - started})


def plan(model, hardware, *, gpus: int = 8, isl: float = 2048, osl: float = 512, ttft_slo: float | None = None,
         tpot_slo: float | None = None, target_rate: float | None = None, formats=None, modes=None,
         max_batch_tokens=None, chunks=None, tp=None, ep=None, attention_dp=None, pp=None, batches=BATCHES,
         efficiency="ideal", link_bandwidth_bytes_per_s: float | None = None, processes: int | None = None,
         progress=None, comm: str | None = None, request_overhead_s: float | None = None) -> PlanResult:
    """Search deployments of ``model`` on ``gpus`` devices of ``hardware`` (a device, a system, or a name of
    either; a device's first bundled system supplies the links of multi-device workers) for requests of
    ``isl`` tokens in and ``osl`` out: the Pareto front, the best point under the SLOs (seconds; None: no
    limit), the largest rate at the SLOs and, with ``target_rate`` (requests/s), the fewest devices that
    serve it. ``formats``, ``modes``, ``max_batch_tokens``, ``chunks``: the values of those axes (defaults:
    DEFAULT_AXES). ``tp``, ``ep``, ``attention_dp``, ``pp``: lists of degrees whose product is the worker
    layouts searched (a list not given: 1); none given: plan_layouts.default_layouts (TP powers of two up
    to a node, MoE models also EP layouts, each with 1, 2 and 4 pipeline stages within the gpus).
    ``comm``: ideal or fitted collectives (None: fitted under the hardware and calibrated settings).
    ``request_overhead_s`` (s, 0..60): the user's request overhead in place of the calibrated engine's fitted
    one (as estimate_serving's; None: the fit; the ideal and hardware settings have no profile to set it in)."""
    for name, value in (("gpus", gpus),):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
            raise ScenarioError(f"{name} must be an integer in 1..100000, got {value!r}")
    for name, value in (("isl", isl), ("osl", osl)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 10_000_000:
            raise ScenarioError(f"{name} must be a number of tokens in 1..10000000, got {value!r}")
    for name, value in (("ttft_slo", ttft_slo), ("tpot_slo", tpot_slo), ("target_rate", target_rate)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not value > 0):
            raise ScenarioError(f"{name} must be a positive number, got {value!r}")
    axes = dict(DEFAULT_AXES)
    for name, value in (("format", formats), ("mode", modes), ("max_batch_tokens", max_batch_tokens),
                        ("chunk", chunks)):
        if value is not None:
            axes[name] = tuple(value)
    if gpus < 2:
        axes["mode"] = tuple(m for m in axes["mode"] if m != "disagg") or ("agg",)
    if tp is None and ep is None and attention_dp is None and pp is None:
        layouts = None
    else:
        layouts = given_layouts(tp, ep, attention_dp, pp)
    spec, device, eff, system = resolve_target(model, hardware, efficiency)
    with_request_overhead(profile_for(eff), request_overhead_s)  # a bad value fails before the layouts are built
    axes["layout"] = tuple(default_layouts(spec, system, gpus) if layouts is None else layouts)
    slo = SLO(ttft_slo, tpot_slo)
    common = dict(isl=float(isl), osl=float(osl), slo=slo, batches=batches, efficiency=eff,
                  link_bandwidth_bytes_per_s=link_bandwidth_bytes_per_s, processes=processes,
                  comm=comm_of(efficiency, comm), request_overhead_s=request_overhead_s)
    where = device if system is None else system
    result = search(spec, where, gpus=gpus, axes=axes, progress=progress, **common)
    if target_rate is None:
        return result
    from .plan_target import fewest_gpus

    return replace(result, target=fewest_gpus(spec, where, result, float(target_rate), axes, common))
