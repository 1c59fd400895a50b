"""Speculative decoding's speed-up against the batch size, and the advisor's ranking, as figure data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ... import api
from ...techniques.options import speculative_setting
from ..options import check_series
from .common import as_list, load_pair


@dataclass(frozen=True)
class SpeculativeData:
    """One curve per acceptance value: ``speedup`` [n_curves, n_batch] (TPOT of one-token decoding / TPOT
    with speculative decoding), ``intensity`` [n_curves, n_batch] (the verify step's FLOP/B at kv_len),
    ``crossover`` [n_curves]: the batch where the speed-up falls through 1 (log-interpolated between the
    two batches around it; NaN when it does not within the range), ``fits`` [n_curves, n_batch];
    ``ridge``: the device's 16-bit ridge point (FLOP/B); ``kind``: "alpha" or "tau"."""

    model: str
    hardware: str
    method: str
    kind: str
    acceptance: np.ndarray
    tokens_per_iteration: np.ndarray
    batch_sizes: np.ndarray
    speedup: np.ndarray
    intensity: np.ndarray
    crossover: np.ndarray
    fits: np.ndarray
    ridge: float
    settings: dict = field(default_factory=dict)


def crossover(batch: np.ndarray, speedup: np.ndarray) -> float:
    """The batch size where ``speedup`` first falls below 1, interpolated in log(batch); NaN if never."""
    below = np.flatnonzero(speedup < 1.0)
    if not below.size:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(batch[0])
    x0, x1 = np.log(batch[i - 1]), np.log(batch[i])
    y0, y1 = speedup[i - 1], speedup[i]
    return float(np.exp(x0 + (1.0 - y0) * (x1 - x0) / (y1 - y0)))


def speculative(model, hardware, *, speculative="eagle3", acceptance: Sequence[float] | None = None,
                batch_size: Sequence[int] = tuple(2 ** i for i in range(9)), prompt_len: int = 1024,
                gen_len: int = 256, efficiency="ideal", **scenario) -> SpeculativeData:
    """Speed-up of ``speculative`` (a preset, a method name or a mapping) against the batch size, one
    curve per ``acceptance`` value: alpha for a chain, tau for a tree or lookahead / Jacobi (default: a
    spread up to the method's most)."""
    if isinstance(speculative, dict) and not {"preset", "alpha", "tau"} & {k for k, v in speculative.items()
                                                                          if v is not None}:
        chain = speculative.get("tree_nodes") is None and speculative.get("method") not in ("lookahead", "jacobi")
        speculative = {**speculative, "alpha" if chain else "tau": 0.5 if chain else 1.0}  # replaced per curve
    base = speculative_setting(speculative)
    kind = "alpha" if base.alpha is not None else "tau"
    if acceptance is None:
        acceptance = ([0.5, 0.6, 0.7, 0.8, 0.9] if kind == "alpha"
                      else sorted({min(float(t), base.max_tokens) for t in (1.5, 2.0, 3.0, 4.0, 5.0, 6.0)}))
    values = [float(v) for v in as_list(acceptance)]
    check_series(len(values), "acceptance values (one curve each)")
    spec, device = load_pair(model, hardware)
    bs = [int(b) for b in as_list(batch_size)]
    curves = {k: [] for k in ("speedup", "intensity", "fits", "E")}
    for value in values:
        s = base.with_acceptance(**{kind: value})
        r = api.sweep(spec, device, batch_size=bs, prompt_len=prompt_len, gen_len=gen_len, efficiency=efficiency,
                      speculative=s, **scenario)
        t = r.analysis.techniques.speculative
        curves["speedup"].append(t.speedup)
        curves["intensity"].append(t.verify_total.arithmetic_intensity)
        curves["fits"].append(r.analysis.memory.fits)
        curves["E"].append(t.tokens_per_iteration)
    from ...roofline import ceilings

    peaks, bandwidth, _ = ceilings(device, api.resolve_efficiency(efficiency, device))
    ridge = max(peaks.get("fp16", 0.0), peaks.get("bf16", 0.0)) / bandwidth
    batches = np.asarray(bs, dtype=float)
    speedup = np.stack(curves["speedup"])
    return SpeculativeData(model=spec.name, hardware=device.name, method=base.describe(), kind=kind,
                           acceptance=np.asarray(values), tokens_per_iteration=np.asarray(curves["E"]),
                           batch_sizes=batches, speedup=speedup, intensity=np.stack(curves["intensity"]),
                           crossover=np.array([crossover(batches, s) for s in speedup]),
                           fits=np.stack(curves["fits"]), ridge=ridge,
                           settings={"prompt_len": prompt_len, "gen_len": gen_len})


@dataclass(frozen=True)
class TechniquesData:
    """The advisor's ranking: per evaluated technique its name, title, family, whether it changes the model's
    output, whether it fits, and its gains (TPOT, TTFT, throughput, memory), in ranking order."""

    model: str
    hardware: str
    rank_by: str
    names: tuple[str, ...]
    titles: tuple[str, ...]
    families: tuple[str, ...]
    affects_accuracy: np.ndarray
    fits: np.ndarray
    gains: dict
    scenario: dict


def techniques_ranking(model, hardware, *, rank_by: str = "tpot", only=None, draft_model=None,
                       efficiency="ideal", **scenario) -> TechniquesData:
    from ...techniques.advise import advise

    a = advise(model, hardware, rank_by=rank_by, only=only, draft_model=draft_model, efficiency=efficiency,
               **scenario)
    done = [v for v in a.verdicts if v.evaluated]
    gains = {k: np.array([np.nan if v.gains[k] is None else v.gains[k] for v in done]) for k in
             ("tpot", "ttft", "throughput", "memory")}
    return TechniquesData(model=a.model, hardware=a.hardware, rank_by=rank_by, names=tuple(v.name for v in done),
                          titles=tuple(v.title for v in done), families=tuple(v.family for v in done),
                          affects_accuracy=np.array([v.affects_accuracy for v in done]),
                          fits=np.array([bool(v.fits) for v in done]), gains=gains, scenario=a.scenario)


@dataclass(frozen=True)
class GainData:
    """Gains of registered techniques against a scenario axis: ``x`` (the ``x_name`` values), and per
    technique (``names``, ``titles``) ``tpot`` and ``throughput`` gains [n_techniques, n_x] (one-token... plain
    TPOT / TPOT with the technique; throughput with / plain) and ``fits`` [n_techniques, n_x]."""

    model: str
    hardware: str
    x_name: str
    x: np.ndarray
    names: tuple[str, ...]
    titles: tuple[str, ...]
    tpot: np.ndarray
    throughput: np.ndarray
    fits: np.ndarray
    fixed: dict


def gains(model, hardware, *, techniques: Sequence[str], x_name: str = "batch_size", x: Sequence[int] = (1, 8, 64),
          efficiency="ideal", **scenario) -> GainData:
    """The TPOT and throughput gain of each registered technique (by name; its fixed settings) over the plain
    analysis, against ``x_name`` (batch_size or prompt_len): one vectorized sweep per technique."""
    from ...errors import ScenarioError
    from ...techniques.registry import pick

    if x_name not in ("batch_size", "prompt_len"):
        raise ScenarioError(f"x must be batch_size or prompt_len, got {x_name!r}")
    entries = pick(list(techniques))
    check_series(len(entries), "techniques (one curve each)")
    for t in entries:
        if t.apply is not None or x_name in t.settings or not t.settings:
            raise ScenarioError(f"technique {t.name!r} sets its arguments from the scenario (or sets {x_name}); "
                                "plot gain takes techniques with fixed settings")
    spec, device = load_pair(model, hardware)
    xs = [int(v) for v in as_list(x)]
    axes = {**scenario, x_name: xs}
    base = api.sweep(spec, device, efficiency=efficiency, **axes).columns
    tpot, thr, fits = [], [], []
    for t in entries:
        cols = api.sweep(spec, device, efficiency=efficiency, **{**axes, **t.settings}).columns
        tpot.append(base["tpot_s"] / cols["tpot_s"])
        thr.append(cols["throughput_tokens_per_s"] / base["throughput_tokens_per_s"])
        fits.append(cols["fits"])
    return GainData(model=spec.name, hardware=device.name, x_name=x_name, x=np.asarray(xs, dtype=float),
                    names=tuple(t.name for t in entries), titles=tuple(t.title for t in entries),
                    tpot=np.stack(tpot), throughput=np.stack(thr), fits=np.stack(fits), fixed=dict(scenario))
