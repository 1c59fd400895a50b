"""The closed-loop steady state of disaggregated serving: a prefill pool, a KV transfer, a decode pool.

Parametrised by r, the requests each decode worker holds (fractional below 1: a worker idle part of the
time runs one request when busy):
- decode: TPOT = the tagged request's G - 1 decode-only steps among max(r, 1) decoders (steady.decode_steps_s);
  throughput X = n_d r / ((G - 1) TPOT) (Little's law on the decode pool);
- transfer: the prompt's KV cache (pool.prompt_kv_bytes) over the link, t_x = bytes / bandwidth;
- prefill: each of the n_p workers receives X / n_p requests/s and batches what has arrived, up to the
  token budget: b = clip((X / n_p) tau(b), 1, b_max) prompts per prefill (a fixed point; tau(b) = the time to
  prefill b prompts in lockstep, chunk by chunk), utilisation rho = (X / n_p) tau(b) / b. A request waits
  for the prefill under way with probability rho (C - 1) / C (the others' share of the load; a lone request
  always finds its worker idle) and then half of it: W_p = tau(b) (1 + rho (C - 1) / (2 C));
- concurrency C = X (W_p + t_x) + n_d r. For a target C, r is found on this (increasing) curve and the model
  evaluated there. Beyond the largest r the decode pool holds (max_seqs, KV cache) or the prefill pool's
  capacity b_max / tau(b_max) per worker, the extra requests queue: their wait (Little) adds to TTFT.
TTFT = W_p + t_x + queue (the first token reaches the user through the decode worker); with C = 1 this is
exactly one request alone: the engine's prefill, the transfer, and the engine's decode sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pool import Pool, prompt_kv_bytes
from .steady import decode_steps_s, mean_decode_keys

FIXED_POINT_STEPS = 40
CURVE_POINTS = 200


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


def _evaluate(prefill: Pool, decode: Pool, isl: float, osl: float, link: float, r: np.ndarray,
              target: np.ndarray | None) -> dict:
    P, G = np.array([isl]), np.array([osl])
    dcost = decode.cost
    R = np.maximum(r, 1.0)
    keys = mean_decode_keys(dcost, P, G)
    steps = decode_steps_s(dcost, R, np.full(r.size, isl), np.full(r.size, osl), np.repeat(keys, r.size, axis=1))
    tpot = steps / max(osl - 1.0, 1.0)
    rate = decode.workers * r / steps if osl > 1 else np.full(r.size, np.inf)
    b_max = max(1.0, np.floor(prefill.config.max_batch_tokens / min(prefill.config.prefill_chunk, isl)))
    lam = rate / prefill.workers
    # tau(b) on a grid of batch sizes (its knots include every integer), then the fixed point on it
    knots = np.unique(np.concatenate([np.arange(1.0, b_max + 1.0), np.linspace(1.0, b_max, 64)]))
    tau_knots = _prefill_time(prefill, isl, knots)
    b = np.ones(r.size)
    for _ in range(FIXED_POINT_STEPS):
        b = np.clip(lam * np.interp(b, knots, tau_knots), 1.0, b_max)
    tau = np.interp(b, knots, tau_knots)
    rho = np.minimum(lam * tau / b, 1.0)
    t_x = float(prompt_kv_bytes(prefill.cost, isl) / link)
    base = rate * (tau + t_x) + decode.workers * r
    C = base if target is None else target
    share = np.where(C > 1.0, (C - 1.0) / np.maximum(C, 1.0), 0.0)
    wait = tau * (1.0 + rho * share / 2.0)
    concurrency = rate * (wait + t_x) + decode.workers * r
    return {"r": r, "rate": rate, "tpot": tpot, "steps": steps, "b": b, "b_max": b_max, "tau": tau, "rho": rho,
            "t_x": t_x, "wait": wait, "concurrency": concurrency, "lam": lam}


def _limits(prefill: Pool, decode: Pool, isl: float, osl: float) -> tuple[float, bool]:
    """The most requests one decode worker holds (max_seqs, KV cache), and whether one request fits both."""
    total = isl + osl
    r_kv = float(np.floor(decode.kv.budget_bytes / decode.kv.request_bytes(isl + (osl - 1.0) / 2.0, total)))
    fits = bool(decode.kv.request_bytes(total, total) <= decode.kv.budget_bytes
                and prefill.kv.request_bytes(isl, total) <= prefill.kv.budget_bytes)
    return max(min(float(decode.config.max_seqs), r_kv), 1.0), fits


def disagg_curve(prefill: Pool, decode: Pool, isl: float, osl: float, link: float, decode_batch) -> DisaggSteady:
    """The steady state at each decode batch r (requests per decode worker)."""
    r_max, fits = _limits(prefill, decode, isl, osl)
    r = np.minimum(np.atleast_1d(np.asarray(decode_batch, dtype=np.float64)), r_max)
    e = _evaluate(prefill, decode, isl, osl, link, r, None)
    return _result(e, isl, osl, np.zeros(r.size), fits, _prefill_bound(e))


def _prefill_bound(e: dict) -> np.ndarray:
    return e["lam"] * e["tau"] / e["b"] > 1.0 + 1e-9


def disagg_steady(prefill: Pool, decode: Pool, isl: float, osl: float, link: float, concurrency) -> DisaggSteady:
    """The steady state at each closed-loop concurrency C (requests in the whole system)."""
    target = np.atleast_1d(np.asarray(concurrency, dtype=np.float64))
    r_max, fits = _limits(prefill, decode, isl, osl)
    grid = np.unique(np.concatenate([np.geomspace(1e-3, r_max, CURVE_POINTS), np.arange(1.0, r_max + 1.0)]))
    curve = _evaluate(prefill, decode, isl, osl, link, grid, None)
    valid = ~_prefill_bound(curve)
    if not valid.any():
        valid[0] = True
    last = int(np.flatnonzero(valid)[-1])
    c_grid, r_grid = curve["concurrency"][: last + 1], grid[: last + 1]
    r = np.interp(target, c_grid, r_grid)
    e = _evaluate(prefill, decode, isl, osl, link, r, target)
    at_limit = "decode" if valid[-1] else "prefill"  # which pool runs out first as C grows
    queued = np.maximum(target - e["concurrency"], 0.0)
    limited = np.where(queued > 1e-9, at_limit, "concurrency")
    return _result(e, isl, osl, queued, fits, limited == "prefill", tuple(limited.tolist()))


def _result(e: dict, isl, osl, queued, fits: bool, prefill_bound, limited=None) -> DisaggSteady:
    rate = e["rate"]
    queue_wait = np.divide(queued, rate, out=np.zeros_like(queued), where=rate > 0)
    ttft = e["wait"] + e["t_x"] + queue_wait
    tpot = np.where(osl > 1, e["tpot"], np.nan)
    e2e = ttft + e["steps"] * (osl > 1)
    nan = 1.0 if fits else np.nan
    if limited is None:
        limited = tuple("prefill" if p else "concurrency" for p in np.atleast_1d(prefill_bound))
    return DisaggSteady(
        concurrency=(e["concurrency"] + queued) * nan, decode_batch=e["r"] * nan, requests_per_s=rate * nan,
        output_tokens_per_s=rate * osl * nan, ttft_s=ttft * nan, tpot_s=tpot * nan, e2e_s=e2e * nan,
        queued=queued * nan, prefill_batch=e["b"] * nan, prefill_utilization=e["rho"] * nan,
        transfer_s=e["t_x"], limited_by=limited, fits=fits)
