"""The closed-loop steady state of disaggregated serving: a prefill pool, a KV transfer, a decode pool.

Parametrised by r, the requests each decode worker holds (fractional below 1: a worker idle part of the
time runs one request when busy):
- decode: TPOT = the tagged request's G - 1 decode-only steps among max(r, 1) decoders (steady.decode_steps_s);
  throughput X = n_d r / ((G - 1) TPOT) (Little's law on the decode pool);
- transfer: the prompt's KV cache (pool.prompt_kv_bytes) over the link, t_x = bytes / bandwidth;
- prefill: each of the n_p workers receives X / n_p requests/s and batches what has arrived, up to b_max =
  min(the prompts its token budget holds, its max_seqs): b = clip((X / n_p) tau(b), 1, b_max) prompts per
  prefill (a fixed point; tau(b) = the time to prefill b prompts in lockstep, chunk by chunk), utilisation
  rho = (X / n_p) tau(b) / b. The wait for the prefills ahead is M/D/1's rho tau / (2 (1 - rho)), at most
  one tau(b) when prompts can be batched (a request then joins the next prefill), scaled by (C - 1) / C
  (a lone request finds its worker idle):
  W_p = tau(b) (1 + (C - 1) / C x min(rho / (2 (1 - rho)), 1)) (without batching the wait is at most the
  other C - 1 prompts, C - 1 tau);
- concurrency: the client's C requests are in the pools or in its loop outside them, C = X (W_p + t_x +
  T_out) + n_d r, T_out the time a request spends in neither pool (below; 0 without a serving profile).
  For a target C, r is solved on this (increasing) curve (regula falsi to 1e-13 of C) and the model
  evaluated there. A decode worker reserves a slot for a request before its prefill starts (simulate.py),
  so its limit (max_seqs, and its KV cache at the requests' mean length) bounds r + X (W_p + t_x) / n_d;
  the prefill pool is bounded by utilisation 1. Past the first of the two limits the extra requests queue
  before their prefill: their wait (Little) adds to TTFT.
TTFT = W_p + t_x + queue + T_out (the first token reaches the user through the decode worker), end to end
= TTFT + the G - 1 decode steps, requests/s = X: C = requests/s x end to end at every point, below the
pools' capacity and past it (Little's law over the client's loop). With a serving profile (profiles.py;
calibrated engines) T_out is its request overhead (a frontend, before the prefill pool), the closed loop's
start-up wave for the first of the benchmark's rounds (BURST_SHARE x ``_burst_excess``: the C requests
arrive at once and queue through the prefill pool), and the decode worker's loop, DECODE_LAG_ITERATIONS x
TPOT x (R - 1) / R (R = max(r, 1)). Each holds one of the client's C requests but no decode slot: the
overhead and the wave are waits in front of the prefill pool, as the queue is; the lag is counted in the
client's loop too (a simplification: 3 of the request's G - 1 decode iterations). So at a given C below
capacity the pools hold fewer requests than without a profile: a smaller decode batch r, lower TPOT and
throughput. The wave is a first-round effect, but it is in the mean end to end over the benchmark's
requests (1/BENCHMARK_ROUNDS of them carry it), so it enters the balance as the others do, which keeps the
law exact. With C = 1 this is exactly one request alone: the engine's prefill, the transfer, and the
engine's decode sum, plus the overhead (no wave, no lag).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ScenarioError
from .engine_cost import EngineCost
from .pool import Pool, prompt_kv_bytes
from .profiles import BENCHMARK_ROUNDS, NEUTRAL
from .steady import ENGINE_LAG_ITERATIONS, decode_steps_s, mean_decode_keys

FIXED_POINT_STEPS = 40
CURVE_POINTS = 200
SOLVE_STEPS = 60  # at most: regula falsi for the decode batch at a target concurrency
SOLVE_TOLERANCE = 1e-13  # relative, on the concurrency
DECODE_GRID = 96  # batch sizes at which an engine-evaluated decode pool is priced
# Calibrated setting (a serving profile): the share of a closed-loop benchmark's requests in its start-up
# wave. The prefill pool serialises the wave (b_max prompts per prefill), so its requests reach the decode
# pool, finish and return staggered: the wave dissolves after its first round, as with a mixing scheduler
# (profiles.BENCHMARK_ROUNDS), whatever the engine.
BURST_SHARE = 1.0 / BENCHMARK_ROUNDS
# Decode iterations between a request's arrival at its decode worker and its first token reaching the
# client: the iteration in flight (it is admitted at the next one), the step that carries it (the client's
# stream is the decode worker's: TensorRT-LLM's disaggregated server records the first token from the
# generation server, tensorrt_llm/serve/openai_disagg_server.py on_first_token), and the overlap
# scheduler's one-iteration-late return (steady.ENGINE_LAG_ITERATIONS counts the first and the last).
DECODE_LAG_ITERATIONS = ENGINE_LAG_ITERATIONS + 1.0


@dataclass(frozen=True)
class DisaggSteady:
    """Per point (arrays): concurrency C (requests in the system), decode_batch r (requests per decode
    worker), requests_per_s X, output_tokens_per_s = X G, ttft_s, tpot_s, e2e_s (s), queued (requests
    waiting beyond what the pools hold), prefill_batch b (prompts per prefill), prefill_utilization rho,
    transfer_s (s), limited_by: "decode" or "prefill" where a pool's capacity caps X, else "concurrency";
    fits: False where one request exceeds a worker's KV cache (metrics NaN)."""

    concurrency: np.ndarray
    decode_batch: np.ndarray
    requests_per_s: np.ndarray
    output_tokens_per_s: np.ndarray
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    queued: np.ndarray
    prefill_batch: np.ndarray
    prefill_utilization: np.ndarray
    transfer_s: float
    limited_by: tuple[str, ...]
    fits: bool


def _prefill_time(pool: Pool, isl: float, batch: np.ndarray) -> np.ndarray:
    """tau(b): time to prefill ``batch`` prompts of ``isl`` tokens in lockstep, chunk by chunk (s)."""
    cost, c = pool.cost, float(min(pool.config.prefill_chunk, isl))
    n_chunks = int(np.ceil(isl / c))
    S = np.minimum(np.arange(1, n_chunks + 1) * c, isl)
    T = S - np.arange(n_chunks) * c
    x = cost.chunk_features(np.repeat(T, batch.size), np.repeat(S, batch.size), np.tile(batch, n_chunks))
    return cost.time_s(x).reshape(n_chunks, batch.size).sum(axis=0)


def _prefill_knots(prefill: Pool, isl: float) -> tuple[np.ndarray, np.ndarray, float]:
    """tau(b) on a grid of batch sizes whose knots include every integer up to the most prompts a prefill
    batches (b_max): (knots, tau at them (s), b_max)."""
    budget = prefill.config.period_tokens(prefill.cost.micro_batches)
    b_max = max(1.0, min(np.floor(budget / min(prefill.config.prefill_chunk, isl)), float(prefill.config.max_seqs)))
    knots = np.unique(np.concatenate([np.arange(1.0, b_max + 1.0), np.linspace(1.0, b_max, 64)]))
    return knots, _prefill_time(prefill, isl, knots), b_max


def _decode_steps(decode: Pool, isl: float, osl: float, r_max: float):
    """The tagged request's decode time (s) as a function of the decode batch r (R = max(r, 1) decoders):
    exact per call for the linear StepCost; for the engine-evaluated cost, the engine at DECODE_GRID
    geometric batch sizes in [1, r_max] once, interpolated (the time is smooth in R; the search calls
    it a dozen times)."""
    P, G, cost = np.array([isl]), np.array([osl]), decode.cost
    keys = mean_decode_keys(cost, P, G)

    def exact(r: np.ndarray) -> np.ndarray:
        R = np.maximum(r, 1.0)
        return decode_steps_s(cost, R, np.full(r.size, isl), np.full(r.size, osl), np.repeat(keys, r.size, axis=1))

    if not isinstance(cost, EngineCost):
        return exact
    grid = np.unique(np.append(np.geomspace(1.0, max(r_max, 1.0), DECODE_GRID), max(r_max, 1.0)))
    values = exact(grid)
    return lambda r: np.interp(np.maximum(r, 1.0), grid, values)


def _evaluate(prefill: Pool, decode: Pool, isl: float, osl: float, link: float, r: np.ndarray,
              target: np.ndarray | None, knots, steps_of) -> dict:
    steps = steps_of(r)
    tpot = steps / max(osl - 1.0, 1.0)
    rate = decode.workers * r / steps if osl > 1 else np.full(r.size, np.inf)
    lam = rate / prefill.workers
    knots, tau_knots, b_max = knots  # tau(b) at the knots; then the fixed point on them
    b = np.ones(r.size)
    for _ in range(FIXED_POINT_STEPS):
        b = np.clip(lam * np.interp(b, knots, tau_knots), 1.0, b_max)
    tau = np.interp(b, knots, tau_knots)
    rho = np.minimum(lam * tau / b, 1.0)
    t_x = float(prompt_kv_bytes(prefill.cost, isl) / link)
    with np.errstate(divide="ignore"):
        queueing = rho / (2.0 * (1.0 - rho))  # M/D/1: the wait for prefills ahead, in units of tau
    if b_max > 1.0:  # batching: a request waits at most for the prefill under way, then joins the next one
        queueing = np.minimum(queueing, 1.0)
    profile = getattr(decode.cost, "profile", NEUTRAL)
    calibrated = profile is not NEUTRAL  # a real engine's wave and loop (module docstring)
    R = np.maximum(r, 1.0)  # the decode worker's loop: busy (R - 1) / R of the time, idle for a lone request
    lag = DECODE_LAG_ITERATIONS * tpot * (R - 1.0) / R if calibrated else np.zeros(r.size)
    steady_outside = profile.frontend_s(isl) + lag  # s, in the client's loop but in neither pool
    C = rate * (tau + t_x + steady_outside) + decode.workers * r if target is None else target
    with np.errstate(invalid="ignore"):  # saturated points (rho = 1) carry inf and NaN: the caller drops them
        for _ in range(1 if target is not None else 3):  # the share depends on C, C on the wait: iterate
            share = np.where(C > 1.0, (C - 1.0) / np.maximum(C, 1.0), 0.0)
            ahead = np.minimum(queueing, np.maximum(C - 1.0, 0.0))  # at most the other C - 1 prompts
            wait = tau * (1.0 + share * ahead)
            wave = BURST_SHARE * _burst_excess(prefill, knots, tau_knots, b_max, C, wait) if calibrated else 0.0
            outside = steady_outside + wave
            concurrency = rate * (wait + t_x + outside) + decode.workers * r
            C = concurrency if target is None else C
    return {"outside": outside, "r": r, "rate": rate, "tpot": tpot, "steps": steps, "b": b, "b_max": b_max,
            "tau": tau, "rho": rho, "t_x": t_x, "wait": wait, "concurrency": concurrency, "lam": lam}


def _burst_excess(prefill: Pool, knots, tau_knots, b_max: float, C: np.ndarray, wait: np.ndarray) -> np.ndarray:
    """The start-up wave's excess TTFT (s): a closed loop's C requests arrive at once, R = C / n_p at each
    prefill worker, which prefills them first come first served, b = min(R, b_max) prompts per prefill of
    tau(b). Request i (1..R) is done after ceil(i / b_max) prefills; with m = floor(R / b_max) full
    prefills and R - m b_max prompts in the last one, their mean count is
    (b_max m (m + 1) / 2 + (R - m b_max)(m + 1)) / R (1 when R <= b_max). The wave's mean wait,
    count x tau(b), less the steady wait."""
    R = np.maximum(C, 1.0) / prefill.workers
    m = np.floor(R / b_max)
    count = np.maximum((b_max * m * (m + 1.0) / 2.0 + (R - m * b_max) * (m + 1.0)) / R, 1.0)
    return np.maximum(count * np.interp(np.minimum(R, b_max), knots, tau_knots) - wait, 0.0)


def _limits(prefill: Pool, decode: Pool, isl: float, osl: float) -> tuple[float, bool]:
    """The most requests one decode worker holds (max_seqs, KV cache), and whether one request fits both."""
    total = isl + osl
    r_kv = float(np.floor(decode.kv.budget_bytes / decode.kv.request_bytes(isl + (osl - 1.0) / 2.0, total)))
    fits = bool(decode.kv.request_bytes(total, total) <= decode.kv.budget_bytes
                and prefill.kv.request_bytes(isl, total) <= prefill.kv.budget_bytes)
    return max(min(float(decode.config.max_seqs), r_kv), 1.0), fits


def _slots(e: dict, decode: Pool) -> np.ndarray:
    """Requests holding a decode worker's slot: decoding, or (reserved) in prefill and transfer."""
    return e["r"] + e["rate"] * (e["wait"] + e["t_x"]) / decode.workers


def _pool_bound(e: dict, decode: Pool, r_max: float) -> np.ndarray:
    """Where a point is past a pool's capacity: "prefill" (its utilisation exceeds 1), "decode" (more
    slots than a decode worker holds), else "concurrency"."""
    over_prefill = e["lam"] * e["tau"] / e["b"] > 1.0 + 1e-9
    over_decode = _slots(e, decode) > r_max * (1.0 + 1e-9)
    return np.where(over_prefill, "prefill", np.where(over_decode, "decode", "concurrency"))


def disagg_curve(prefill: Pool, decode: Pool, isl: float, osl: float, link: float, decode_batch) -> DisaggSteady:
    """The steady state at each decode batch r (requests decoding per decode worker); points past a pool's
    capacity say which (``limited_by``) and are not reachable."""
    r_max, fits = _limits(prefill, decode, isl, osl)
    r = np.minimum(np.atleast_1d(np.asarray(decode_batch, dtype=np.float64)), r_max)
    e = _evaluate(prefill, decode, isl, osl, link, r, None, _prefill_knots(prefill, isl),
                  _decode_steps(decode, isl, osl, r_max))
    return _result(e, isl, osl, np.zeros(r.size), fits, tuple(_pool_bound(e, decode, r_max).tolist()))


def _capacity(prefill, decode, isl, osl, link, r_max, knots, steps_of) -> tuple[float, str]:
    """The largest decode batch the pools sustain, and which pool stops it there."""
    grid = np.unique(np.concatenate([np.geomspace(1e-3, r_max, CURVE_POINTS), np.arange(1.0, r_max + 1.0)]))
    e = _evaluate(prefill, decode, isl, osl, link, grid, None, knots, steps_of)
    util = e["lam"] * e["tau"] / e["b"]
    slots = _slots(e, decode)
    caps = {"decode": float(np.interp(r_max, slots, grid)) if slots[-1] > r_max else r_max,
            "prefill": float(np.interp(1.0, util, grid)) if util[-1] > 1.0 else np.inf}
    which = min(caps, key=caps.get)
    return max(min(caps[which], r_max), grid[0]), which


def _solve_decode_batch(concurrency_at, target: np.ndarray, r_cap: float, guess: np.ndarray):
    """The decode batch r in [0, r_cap] at which the model holds ``target`` requests, concurrency_at(r) =
    target (it increases with r, from 0 at r = 0: nothing decodes, nothing flows), to SOLVE_TOLERANCE;
    where even r_cap holds fewer, the pools are full (``saturated``) and r = r_cap. Regula falsi on the
    bracket [0, r_cap] from ``guess``, with the Illinois rule (an end kept twice has its value halved).
    Returns (r, saturated)."""
    lo, hi = np.zeros(target.size), np.full(target.size, r_cap)
    f_lo, f_hi = -target, concurrency_at(hi) - target
    saturated = ~(f_hi > 0.0)
    r, kept = np.where(saturated, r_cap, np.clip(guess, 0.0, r_cap)), np.zeros(target.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(SOLVE_STEPS):
            f = concurrency_at(r) - target
            done = saturated | (np.abs(f) <= SOLVE_TOLERANCE * target)
            if done.all():
                break
            below = f < 0.0
            lo, f_lo = np.where(below, r, lo), np.where(below, f, f_lo)
            hi, f_hi = np.where(below, hi, r), np.where(below, f_hi, f)
            f_hi = np.where(below & (kept > 0.0), f_hi / 2.0, f_hi)  # hi kept twice in a row
            f_lo = np.where(~below & (kept < 0.0), f_lo / 2.0, f_lo)  # lo kept twice in a row
            kept = np.where(below, 1.0, -1.0)
            r = np.where(done, r, np.clip((lo * f_hi - hi * f_lo) / (f_hi - f_lo), lo, hi))
    return r, saturated


def disagg_steady(prefill: Pool, decode: Pool, isl: float, osl: float, link: float, concurrency) -> DisaggSteady:
    """The steady state at each closed-loop concurrency C (requests in the whole system: the client's C =
    requests_per_s x e2e_s, Little's law, at every point)."""
    if not osl > 1.0:  # the closed form is parametrised by the decode pool's batch
        raise ScenarioError(f"osl must be at least 2 tokens for the disaggregated closed form (the decode pool "
                            f"makes tokens 2..osl), got {osl:g}")
    target = np.atleast_1d(np.asarray(concurrency, dtype=np.float64))
    r_max, fits = _limits(prefill, decode, isl, osl)
    knots, steps_of = _prefill_knots(prefill, isl), _decode_steps(decode, isl, osl, r_max)
    r_cap, which = _capacity(prefill, decode, isl, osl, link, r_max, knots, steps_of)
    grid = np.unique(np.append(np.geomspace(1e-3, r_cap, CURVE_POINTS), r_cap))
    curve = _evaluate(prefill, decode, isl, osl, link, grid, None, knots, steps_of)
    finite = np.isfinite(curve["concurrency"])  # a saturated prefill without batching (rho = 1): unbounded wait
    guess = np.interp(target, curve["concurrency"][finite], grid[finite])  # the curve's wait used its own C

    def concurrency_at(r: np.ndarray) -> np.ndarray:
        return _evaluate(prefill, decode, isl, osl, link, r, target, knots, steps_of)["concurrency"]

    r, saturated = _solve_decode_batch(concurrency_at, target, r_cap, guess)
    e = _evaluate(prefill, decode, isl, osl, link, r, target, knots, steps_of)
    queued = np.where(saturated, np.maximum(target - e["concurrency"], 0.0), 0.0)
    limited = np.where(queued > 1e-9, which, "concurrency")
    return _result(e, isl, osl, queued, fits, tuple(limited.tolist()))


def _result(e: dict, isl, osl, queued, fits: bool, limited: tuple[str, ...]) -> DisaggSteady:
    rate = e["rate"]
    queue_wait = np.divide(queued, rate, out=np.zeros_like(queued), where=rate > 0)
    ttft = e["wait"] + e["t_x"] + queue_wait + e["outside"]
    tpot = np.where(osl > 1, e["tpot"], np.nan)
    e2e = ttft + e["steps"] * (osl > 1)
    nan = 1.0 if fits else np.nan
    return DisaggSteady(
        concurrency=(e["concurrency"] + queued) * nan, decode_batch=e["r"] * nan, requests_per_s=rate * nan,
        output_tokens_per_s=rate * osl * nan, ttft_s=ttft * nan, tpot_s=tpot * nan, e2e_s=e2e * nan,
        queued=queued * nan, prefill_batch=e["b"] * nan, prefill_utilization=e["rho"] * nan,
        transfer_s=e["t_x"], limited_by=limited, fits=fits)
