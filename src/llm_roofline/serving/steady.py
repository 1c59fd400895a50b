"""The closed-loop steady state of one engine instance, in closed form (vectorized over points).

C requests are in flight (closed loop: a finished request is replaced at once), each with P prompt tokens
and G output tokens (the first made by the prefill). R = min(C, max_seqs, what the KV cache holds when
each request holds its mean P + (G - 1)/2 tokens) run; the other C - R wait. A running request lives L =
n_pf + G - 1 iterations: n_pf prefill chunks of c tokens (below; the last one shorter), then G - 1 decode
steps at KV lengths P+1 .. P+G-1. The running requests are spread evenly over their lifetimes, so an
iteration carries q = R n_pf / L prefill chunks on average: a fraction f = min(1, q / k) of the iterations
carry k = min(R, max(g, q)) chunks (with R - k decoders), the rest R decoders only; g = 1, or the
attention-DP ranks of a worker, whose schedulers batch prompt chunks across the ranks (TensorRT-LLM's
attention-DP balancing, SGLang's DP scheduler): each rank then has budget / g tokens, and c = min(chunk,
(budget - (R - 1)) / g). A pipelined worker's iteration is a period of its pipeline (engine_cost.py) with
M micro-batches in flight, each scheduled with the whole budget: the budget is M x max_batch_tokens
(SchedulerConfig.period_tokens); g stays the attention-DP ranks, as a new prompt joins whichever
micro-batch the engine schedules next (vLLM's batch queue does not balance chunks across micro-batches).

Seen by one tagged request:
- TTFT = sum over its chunks of the iteration (its chunk + (k - 1) mean chunks + R - k decoders at the mean
  KV length) + the closed-loop wait (C - R) / throughput (Little's law);
- its G - 1 decode steps run with the other R - 1 decoders at their mean visible keys and its own KV length
  P + j: each kernel's time is the max of two affine functions of j, summed exactly over j with
  generation.windowed_step_sum (the engine's own whole-generation sum); f L - n_pf of those steps also
  carry other requests' chunks and cost the mixed iteration instead of the mean decode-only one;
- throughput = R / (TTFT + decode time) requests/s of the engine.
A serving profile (profiles.py; the calibrated engines) adds its frontend time (request overhead +
cost per prompt token x P) to TTFT and end to end,
the engine loop's lag (ENGINE_LAG_ITERATIONS mean iterations x (R - 1) / R: the iteration in flight when
the request arrives, and the step by which tokens are returned late) to TTFT; a scheduler that polls for
new requests only every I decode iterations (SchedulerConfig.recv_interval, profile or not) adds
(I - 1) / 2 of them x (R - 1) / R; TensorRT-LLM's attention-DP balancing (SchedulerConfig.
adp_balance_iterations, profile or not) adds a prompt's mean wait for every rank to have one, at the
engine's completion rate R / (TTFT + decode time) as the arrival rate (adp_balance_wait), while R >= the
ranks;
and for its burst share of the requests the excess of a burst's mean TTFT (``_burst``: all R prompts
queued at once through the token budget) over the steady TTFT. An engine-evaluated cost (engine_cost.py)
sums the decode steps by quadrature instead of exactly. Those additions keep a request in flight without
running it, so the client's loop obeys Little's law, C = throughput x end to end: end to end is
max(C / engine throughput, service + additions) (saturated: the additions come out of the queue's wait), and
the reported throughput is C / end to end (below saturation, less than the engine's).
With C = 1 this is exactly one request alone, i.e. the engine's prefill (chunked) and decode sum, and the
discrete-event simulation gives the same numbers (tests); at higher concurrency the two agree within the
tolerance docs/serving.md states.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..generation import windowed_step_sum
from .capacity import KVCapacity
from .engine_cost import EngineCost
from .profiles import NEUTRAL
from .scheduler import SchedulerConfig
from .step_cost import StepCost

LIMITED_BY = ("concurrency", "max_seqs", "kv_cache")
# Iterations of the running batch a request's first token waits beyond its own prefill in an engine's loop
# (calibrated setting; docs/accuracy.md): it arrives when another request's last token is returned, i.e. as
# the engine launches its next iteration, so it waits that one out; and the engine returns a step's tokens
# one iteration late (its output processing overlaps the next step: overlap scheduler, async output).
# Each is one mean iteration of the other requests, (R - 1) / R of the time busy; none at R = 1.
ENGINE_LAG_ITERATIONS = 2.0


@dataclass(frozen=True)
class SteadyState:
    """Per point (arrays): concurrency C, running R and queued C - R requests (count); limited_by (index
    into LIMITED_BY: what caps R); prefill_chunks n_pf and chunk_tokens c; ttft_s, tpot_s, e2e_s (means, s;
    tpot NaN when G = 1); requests_per_s; output_tokens_per_s = requests_per_s x G; kv_occupancy = KV bytes
    held by the running requests / budget; fits: False where one request alone exceeds the KV budget
    (then every metric is NaN)."""

    concurrency: np.ndarray
    isl: np.ndarray
    osl: np.ndarray
    running: np.ndarray
    queued: np.ndarray
    limited_by: np.ndarray
    prefill_chunks: np.ndarray
    chunk_tokens: np.ndarray
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    e2e_s: np.ndarray
    requests_per_s: np.ndarray
    output_tokens_per_s: np.ndarray
    kv_occupancy: np.ndarray
    fits: np.ndarray

    def limits(self) -> list[str]:
        return [LIMITED_BY[int(i)] for i in self.limited_by]


def _per_point(values: np.ndarray, point: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(point, weights=values, minlength=n)


def mean_decode_keys(cost: StepCost | EngineCost, P: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Mean visible keys of a decoder whose KV length is spread evenly over P+1 .. P+G-1, per key class
    [nw, n]: sum over S of decode_keys(S, W, C) / (G - 1), with the engine's windowed_step_sum."""
    windows, chunks = np.array(cost.windows), np.array(cost.chunks)
    if not windows.size:
        return np.zeros((0, P.size))
    has_decode = G > 1.0
    total = windowed_step_sum(P + 1.0, P + G - 1.0, windows[:, None], 0.0, 1.0, 0.0, 1.0, chunk=chunks[:, None])
    return np.where(has_decode, total / np.where(has_decode, G - 1.0, 1.0), 0.0)


def decode_steps_s(cost: StepCost | EngineCost, R: np.ndarray, P: np.ndarray, G: np.ndarray,
                   mean_keys: np.ndarray) -> np.ndarray:
    """Time of a tagged request's G - 1 decode steps (s) in decode-only iterations of R decoders: its own KV
    length runs over P+1 .. P+G-1, the other R - 1 sit at their mean visible keys. Each kernel's time is
    the max of two affine functions of its own keys, summed exactly (generation.windowed_step_sum). An
    EngineCost sums them by its own quadrature (engine_cost.py)."""
    if isinstance(cost, EngineCost):
        return cost.decode_steps_s(R, P, G, mean_keys)
    others = cost.decode_features(R, (R - 1.0) * mean_keys)
    c0, m0, overhead = cost.kernel_parts(others)
    steps = np.maximum(G - 1.0, 0.0)
    total = cost.counts @ ((np.maximum(c0, m0) + overhead) * steps)  # as if no kernel depended on the keys
    keyed, c_key, m_key, window, chunk = cost.key_slopes()
    if keyed.size:  # the attention kernels: their time grows with the tagged request's own keys
        grown = windowed_step_sum(P + 1.0, P + G - 1.0, window[:, None], c0[keyed], c_key[:, None], m0[keyed],
                                  m_key[:, None], chunk=chunk[:, None])
        total = total + cost.counts[keyed] @ (grown - np.maximum(c0[keyed], m0[keyed]) * steps)
    return total


def adp_balance_wait(timeout_s, ranks: float, arrivals_per_s) -> np.ndarray:
    """Mean wait of a prompt for TensorRT-LLM's attention-DP balancing (s; SchedulerConfig's
    adp_balance_iterations): the first prompt to arrive opens a window that closes when every one of the
    ``ranks`` has a prompt, after the other ranks - 1 arrivals at ``arrivals_per_s`` X (requests/s: (ranks -
    1) / X s), or at ``timeout_s`` (N iterations), W = min of the two; it waits W, and the X W prompts that
    arrive inside the window wait W / 2 on average: W (1 + X W / 2) / (1 + X W)."""
    X = np.asarray(arrivals_per_s, dtype=np.float64)
    with np.errstate(divide="ignore"):
        window = np.minimum(timeout_s, np.where(X > 0.0, (ranks - 1.0) / X, np.inf))
    window = np.where(np.isfinite(window), window, 0.0)
    return window * (1.0 + X * window / 2.0) / (1.0 + X * window)


def _burst(cost, config: SchedulerConfig, R: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R requests of P prompt tokens that arrive together at an idle worker (a closed loop's start, or a
    wave of identical requests) are prefilled first come first served in iterations of B = min(budget,
    R P) tokens, chunks of c = min(prefill chunk, budget, P) tokens; the budget is that of a prefill-only
    iteration (SchedulerConfig.prefill_batch: SGLang's chunked_prefill_size, else max_batch_tokens), of each
    micro-batch of a pipelined worker (SchedulerConfig.period_tokens): request i's prompt is done after
    ceil(i P / B) iterations, on average 1 when R P <= B, else about P (R + 1) / (2 B) + 1/2 (a ceiling
    adds 1/2 on average). Returns (one such iteration's features, the mean number of iterations); the
    burst's mean TTFT is their product."""
    per_batch = config.prefill_batch
    budget = float(per_batch * cost.micro_batches)
    c = np.minimum(float(min(config.chunk or per_batch, per_batch)), P)
    tokens = np.minimum(budget, R * P)
    kv = np.where(P <= c, c, (P + c) / 2.0)  # a chunk's mean KV length over its prompt
    iterations = np.where(R * P <= budget, 1.0, P * (R + 1.0) / (2.0 * budget) + 0.5)
    return cost.chunk_features(c, kv, tokens / c), iterations


def steady_state(cost: StepCost | EngineCost, kv: KVCapacity, config: SchedulerConfig, concurrency, isl,
                 osl) -> SteadyState:
    C, P, G = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (concurrency, isl, osl)))
    n = C.size
    fits = kv.request_bytes(P + G, P + G) <= kv.budget_bytes
    mean_tokens = P + (G - 1.0) / 2.0
    held = kv.request_bytes(mean_tokens, P + G)
    r_kv = np.floor(kv.budget_bytes / held)
    caps = np.stack([C, np.full(n, float(config.max_seqs)), r_kv])
    limited_by = np.argmin(caps, axis=0)
    R = np.maximum(caps.min(axis=0), 1.0)
    budget = float(config.period_tokens(cost.micro_batches))
    g = float(cost.attention_dp)  # attention-DP ranks: each has budget / g tokens and R / g of the requests
    c = np.minimum(float(config.prefill_chunk), np.maximum((budget - (R - 1.0)) / g, 1.0))
    n_pf = np.ceil(P / c)
    L = n_pf + G - 1.0
    q = R * n_pf / L
    k = np.minimum(R, np.maximum(g, q))  # chunks in an iteration that carries any: one per rank at least
    frac = np.minimum(1.0, q / k)

    # the tagged request's chunks, one column each
    width = int(n_pf.max())
    idx = np.arange(width, dtype=np.float64)[None, :]
    valid = idx < n_pf[:, None]
    S = np.minimum((idx + 1.0) * c[:, None], P[:, None])
    T = S - idx * c[:, None]
    point = np.broadcast_to(np.arange(n)[:, None], valid.shape)[valid]
    chunks = cost.chunk_features(T[valid], S[valid])
    mean_chunk = np.stack([_per_point(row, point, n) for row in chunks]) / n_pf

    has_decode = G > 1.0
    mean_keys = mean_decode_keys(cost, P, G)
    mixed_decode = cost.decode_features(R - k, (R - k) * mean_keys)
    profile = getattr(cost, "profile", NEUTRAL)
    burst, burst_iterations = _burst(cost, config, R, P) if profile.burst_share else (None, None)
    columns = [chunks + (k - 1.0)[point] * mean_chunk[:, point] + mixed_decode[:, point], k * mean_chunk + mixed_decode,
               cost.decode_features(R, R * mean_keys)]
    if burst is not None:
        columns.append(burst)
    quadrature = cost.decode_quadrature(R, P, G, mean_keys) if isinstance(cost, EngineCost) else None
    if quadrature is not None:  # the engine's steps join the same call (one pass over the engine)
        columns.append(quadrature[0])
    times = np.split(cost.time_s(np.concatenate(columns, axis=1)), np.cumsum([x.shape[1] for x in columns[:-1]]))
    ttft_service, mixed, decode_only = _per_point(times[0], point, n), times[1], times[2]
    steps = quadrature[1](times[-1]) if quadrature is not None else decode_steps_s(cost, R, P, G, mean_keys)
    decode_time = steps + (frac * L - n_pf) * (mixed - decode_only)
    extra = profile.frontend_s(P) + np.zeros(n)  # TTFT beyond the iterations: the profile's frontend time
    with np.errstate(invalid="ignore", divide="ignore"):
        iteration = np.where(has_decode, decode_time / np.where(has_decode, G - 1.0, 1.0), 0.0)
    if profile is not NEUTRAL:  # a real engine's loop: its arrival waits out the iteration in flight
        extra += ENGINE_LAG_ITERATIONS * iteration * (R - 1.0) / R
    # a scheduler polling for new requests every recv_interval decode iterations: an arrival waits for the
    # next poll, (recv_interval - 1) / 2 busy iterations on average (none at R = 1: an idle loop polls)
    extra += (config.recv_interval - 1.0) / 2.0 * iteration * (R - 1.0) / R
    if burst is not None:
        extra += profile.burst_share * np.maximum(burst_iterations * times[3] - ttft_service, 0.0)

    e2e_service = ttft_service + decode_time
    rate = R / e2e_service  # the engine's completions (requests/s) with R running
    if config.adp_balance_iterations and g > 1.0:  # TensorRT-LLM's attention-DP balancing, while every rank
        # decodes (R >= g): a rank's prompts wait until every rank has one, or the timeout (adp_balance_wait)
        extra += np.where(R >= g, adp_balance_wait(config.adp_balance_iterations * iteration, g, rate), 0.0)
    # Little's law over the C requests in flight (frontend and engine loop, queue, running): below
    # saturation each sees e2e_service + extra; once C >= R + rate x extra the engine completes `rate` and
    # the time in front of it comes out of the queue's, C / rate.
    e2e = np.maximum(C / rate, e2e_service + extra)
    wait = e2e - e2e_service
    rate = C / e2e
    nan = np.where(fits, 1.0, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(has_decode, decode_time / (G - 1.0), np.nan)
    return SteadyState(
        concurrency=C, isl=P, osl=G, running=R * nan, queued=(C - R) * nan, limited_by=limited_by,
        prefill_chunks=n_pf, chunk_tokens=c, ttft_s=(ttft_service + wait) * nan, tpot_s=tpot * nan,
        e2e_s=(e2e_service + wait) * nan, requests_per_s=rate * nan, output_tokens_per_s=rate * G * nan,
        kv_occupancy=R * held / kv.budget_bytes * nan, fits=fits)
