"""Requests to serve: their input and output lengths, and when they arrive.

- closed loop (``concurrency``): that many requests are in flight; each one that finishes is replaced at
  once by the next (the mode of most published serving benchmarks);
- open loop: Poisson arrivals at ``rate`` requests/s (exponential gaps), or a trace file;
- lengths: a fixed number, or a distribution ``uniform:LO:HI``, ``normal:MEAN:STD`` (rounded, at least
  1), ``exponential:MEAN`` (rounded, at least 1), drawn with a seeded generator (reproducible).
A trace is JSON lines, one request per line: ``{"arrival_s": 0.12, "input_tokens": 2048,
"output_tokens": 512}`` (also accepted: ``timestamp``/``time``, ``isl``/``prompt_len``,
``osl``/``gen_len``/``output_len``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ScenarioError

MAX_REQUESTS = 10_000_000
MAX_TOKENS = 10_000_000
_TIME_KEYS = ("arrival_s", "timestamp", "time")
_ISL_KEYS = ("input_tokens", "isl", "prompt_len")
_OSL_KEYS = ("output_tokens", "osl", "gen_len", "output_len")


@dataclass(frozen=True)
class Workload:
    """isl, osl: input and output tokens per request (output tokens include the first, made by the
    prefill); arrival_s: arrival times (s) for open loop, None for closed loop at ``concurrency``."""

    isl: np.ndarray
    osl: np.ndarray
    arrival_s: np.ndarray | None = None
    concurrency: int | None = None
    label: str = ""

    @property
    def size(self) -> int:
        return int(self.isl.size)

    def to_dict(self) -> dict:
        mode = "closed" if self.arrival_s is None else "open"
        out = {"mode": mode, "requests": self.size, "concurrency": self.concurrency,
               "mean_input_tokens": float(self.isl.mean()), "mean_output_tokens": float(self.osl.mean()),
               "arrivals": self.label}
        if self.arrival_s is not None and self.size > 1:
            span = float(self.arrival_s[-1] - self.arrival_s[0])
            out["offered_rate_per_s"] = (self.size - 1) / span if span > 0 else None
        return out


def lengths(spec: object, n: int, rng: np.random.Generator, name: str) -> np.ndarray:
    """``n`` token counts from a fixed number or a distribution string (see the module docstring)."""
    if isinstance(spec, int | np.integer) and not isinstance(spec, bool):
        return _check(np.full(n, int(spec)), name)
    text = str(spec).strip().lower()
    if text.isdigit():
        return _check(np.full(n, int(text)), name)
    kind, _, rest = text.partition(":")
    try:
        args = [float(v) for v in rest.split(":")] if rest else []
    except ValueError:
        args = None
    shapes = {"uniform": 2, "normal": 2, "exponential": 1}
    if kind not in shapes or args is None or len(args) != shapes[kind]:
        raise ScenarioError(f"{name}: cannot read {spec!r}; use a number of tokens or uniform:LO:HI, "
                            "normal:MEAN:STD, exponential:MEAN")
    if kind == "uniform":
        lo, hi = args
        if not 1 <= lo <= hi:
            raise ScenarioError(f"{name}: uniform:LO:HI needs 1 <= LO <= HI, got {spec!r}")
        values = rng.integers(int(lo), int(hi) + 1, size=n)
    elif kind == "normal":
        mean, std = args
        if mean < 1 or std < 0:
            raise ScenarioError(f"{name}: normal:MEAN:STD needs MEAN >= 1 and STD >= 0, got {spec!r}")
        values = np.maximum(np.rint(rng.normal(mean, std, size=n)), 1)
    else:
        if args[0] < 1:
            raise ScenarioError(f"{name}: exponential:MEAN needs MEAN >= 1, got {spec!r}")
        values = np.maximum(np.rint(rng.exponential(args[0], size=n)), 1)
    return _check(values.astype(np.int64), name)


def _check(values: np.ndarray, name: str) -> np.ndarray:
    bad = (values < 1) | (values > MAX_TOKENS)
    if bad.any():
        raise ScenarioError(f"{name} must be in 1..{MAX_TOKENS} tokens, got {int(values[bad][0])}")
    return values.astype(np.int64)


def _count(n: object, name: str = "requests") -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= MAX_REQUESTS:
        raise ScenarioError(f"{name} must be an integer in 1..{MAX_REQUESTS}, got {n!r}")
    return int(n)


def closed_loop(concurrency: int, requests: int, isl: object, osl: object, seed: int = 0) -> Workload:
    c = _count(concurrency, "concurrency")
    n = _count(requests)
    rng = np.random.default_rng(seed)
    return Workload(isl=lengths(isl, n, rng, "input length"), osl=lengths(osl, n, rng, "output length"),
                    concurrency=c, label=f"closed loop, concurrency {c}")


def poisson(rate: float, requests: int, isl: object, osl: object, seed: int = 0) -> Workload:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < 1e9:
        raise ScenarioError(f"rate must be a positive number of requests/s, got {rate!r}")
    n = _count(requests)
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / rate, size=n))
    arrivals -= arrivals[0]
    return Workload(isl=lengths(isl, n, rng, "input length"), osl=lengths(osl, n, rng, "output length"),
                    arrival_s=arrivals, label=f"Poisson, {rate:g} requests/s")


def trace(path: str | Path) -> Workload:
    """Read a JSON-lines trace; arrival times are shifted to start at 0 and sorted."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ScenarioError(f"cannot read trace {str(path)!r}: {exc.strerror}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{path.name} line {number}: not JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise ScenarioError(f"{path.name} line {number}: expected an object with arrival_s, input_tokens, "
                                "output_tokens")
        rows.append(tuple(_field(item, keys, path.name, number) for keys in (_TIME_KEYS, _ISL_KEYS, _OSL_KEYS)))
    if not rows:
        raise ScenarioError(f"trace {path.name} has no requests")
    _count(len(rows))
    t, i, o = (np.array(v, dtype=np.float64) for v in zip(*rows, strict=True))
    order = np.argsort(t, kind="stable")
    return Workload(isl=_check(i[order].astype(np.int64), "input_tokens"),
                    osl=_check(o[order].astype(np.int64), "output_tokens"), arrival_s=t[order] - t[order][0],
                    label=f"trace {path.name}")


def _field(item: dict, keys: tuple[str, ...], name: str, number: int) -> float:
    for key in keys:
        if key in item:
            value = item[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) \
                    or value < 0 or (key not in _TIME_KEYS and value != int(value)):
                raise ScenarioError(f"{name} line {number}: {key} must be a non-negative "
                                    f"{'number' if key in _TIME_KEYS else 'integer'}, got {value!r}")
            return float(value)
    raise ScenarioError(f"{name} line {number}: missing {keys[0]} (or {', '.join(keys[1:])})")
