"""The discrete-event simulation: requests routed to workers, disaggregated pools, and the statistics.

Aggregated serving: ``workers`` identical engine instances (data-parallel replicas); open-loop arrivals go
round robin in arrival order; a closed loop keeps ``concurrency`` requests in flight, split evenly over the
workers, each replacing its finished requests. Workers are then independent and run one after another.

Disaggregated serving (DistServe, Splitwise, Dynamo): a prefill pool computes prompts (a request leaves its
prefill worker with its first token), the request's KV cache (bytes = the engine's cache of its prompt) goes
over the link, and a decode worker continues it; TTFT ends when the first token reaches the decode worker,
which streams the rest. A request starts its prefill only once a decode worker has room for it. The pools
are coupled (decode completions start prefills, prefills feed decode workers), so the workers advance in a
conservative event loop: a worker runs only the iterations that start before anything could hand it a
request (a decode worker: a prefill worker's next iteration start plus the shortest transfer; a prefill
worker: the next arrival or a decode worker's next iteration start). Transfers do not contend for the link.

A pool's iteration cost is the linear StepCost (ideal or hardware, one device per worker: exact) or the
engine-evaluated EngineCost (calibrated, workers of several devices: engine_cost.py); the workers ask both
the same way (time_s of iteration features; decode_group.py prices decode-only stretches).

The frontend time of the cost's serving profile (profiles.py, the calibrated engines: frontend, router,
tokenization, scheduling; none for ideal and hardware) is a frontend in front of the engine: a request of P
prompt tokens sent at t (its arrival, from which TTFT and end-to-end latency count) reaches the engine's
queue (aggregated: its worker; disaggregated: the dispatch to a prefill worker) at t + request_overhead_s +
prompt_token_s x P (ServingProfile.frontend_s). Every TTFT and end-to-end latency includes it once, TPOT and
ITL do not change, and a closed loop's C requests in flight count the ones still in the frontend: the
engine holds C - X x frontend time of them on average (Little's law over the frontend), so its throughput
at a given C drops where the engine is not saturated.
"""

from __future__ import annotations

import heapq
from collections import deque
from math import inf

import numpy as np

from ..errors import ScenarioError
from .pool import Pool, prompt_kv_bytes
from .profiles import NEUTRAL
from .statistics import SimResult, summarize
from .worker import Requests, Worker
from .workload import Workload


def _check_fits(pool: Pool, workload: Workload, what: str) -> None:
    total = workload.isl + workload.osl
    worst = int(np.argmax(pool.kv.request_bytes(total, total)))
    if pool.kv.request_bytes(total[worst], total[worst]) > pool.kv.budget_bytes:
        raise ScenarioError(f"a request of {int(workload.isl[worst])} + {int(workload.osl[worst])} tokens does not "
                            f"fit the KV cache of one {what} worker ({pool.kv.capacity_tokens:,.0f} tokens)")


class _Progress:
    def __init__(self, callback, total: int):
        self.callback, self.total, self.done, self.step = callback, total, 0, max(1, total // 100)

    def __call__(self) -> None:
        self.done += 1
        if self.callback is not None and (self.done % self.step == 0 or self.done == self.total):
            self.callback(self.done, self.total)


def frontend_delays_s(pool: Pool, req: Requests) -> np.ndarray:
    """The frontend's latency before each request reaches the engine (s, by request id): the frontend time
    of the pool's serving profile at the request's prompt length (0 without one)."""
    profile = getattr(pool.cost, "profile", NEUTRAL)
    return np.asarray(profile.frontend_s(req.isl.astype(np.float64)), dtype=np.float64) + np.zeros(req.isl.size)


def simulate_agg(pool: Pool, workload: Workload, progress=None) -> SimResult:
    """Aggregated serving of ``workload`` on ``pool.workers`` replicas."""
    _check_fits(pool, workload, "")
    cost = pool.cost.tabulate(pool.config.max_batch_tokens)
    req = Requests(workload.isl, workload.osl)
    n, nw = workload.size, pool.workers
    tick = _Progress(progress, n)
    send = _Frontend(req, frontend_delays_s(pool, req))
    workers: list[Worker] = []
    if workload.arrival_s is None:
        shares = np.array_split(np.arange(n), nw)
        loops = np.array_split(np.arange(min(workload.concurrency, n)), nw)  # concurrency per worker
        for ids, loop in zip(shares, loops, strict=True):
            queue = iter(ids[loop.size:].tolist())
            worker = Worker(cost, pool.kv, pool.config, req, on_finish=_closed_loop(queue, tick, send))
            for rid in ids[:loop.size].tolist():
                send(worker, rid, 0.0)
            worker.on_finish.worker = worker
            workers.append(worker)
    else:
        for w in range(nw):
            worker = Worker(cost, pool.kv, pool.config, req, on_finish=lambda rid, t: tick())
            for rid in range(w, n, nw):
                send(worker, rid, float(workload.arrival_s[rid]))
            workers.append(worker)
    for worker in workers:
        worker.run()
    return summarize(req, workers, workers, gpus=nw * pool.gpus_per_worker, kv=pool.kv, workload=workload)


class _Frontend:
    """Sends a request to an aggregated worker: it arrives (the client's clock) at ``time`` and reaches the
    worker's queue its frontend delay later (``delays_s``, s by request id)."""

    def __init__(self, req: Requests, delays_s: np.ndarray):
        self.req, self.delays_s = req, delays_s

    def __call__(self, worker: Worker, rid: int, time: float) -> None:
        self.req.arrival[rid] = time
        worker.add_request(rid, time + float(self.delays_s[rid]))


class _closed_loop:
    """on_finish for a closed loop: each finished request is replaced by the next one, sent at once."""

    def __init__(self, queue, tick, send: _Frontend):
        self.queue, self.tick, self.send, self.worker = queue, tick, send, None

    def __call__(self, rid: int, time: float) -> None:
        self.tick()
        nxt = next(self.queue, None)
        if nxt is not None:
            self.send(self.worker, nxt, time)


def simulate_disagg(prefill: Pool, decode: Pool, workload: Workload, link_bytes_per_s: float,
                    progress=None) -> SimResult:
    """Disaggregated serving: ``prefill.workers`` prefill workers, ``decode.workers`` decode workers, the KV
    cache of each prompt sent over a link of ``link_bytes_per_s`` (one direction).

    A request is dispatched to a prefill worker only once a decode worker has room for it (fewer than its
    max_seqs requests, and the KV bytes of its requests at their mean length within its budget; SGLang's
    and Dynamo's decode workers reserve memory before the prefill starts): until then it waits, and that
    wait is part of its TTFT. A request sent at t reaches that dispatch at t + its frontend delay under the
    decode pool's profile (the module docstring)."""
    _check_fits(prefill, workload, "prefill")
    _check_fits(decode, workload, "decode")
    req = Requests(workload.isl, workload.osl)
    n = workload.size
    tick = _Progress(progress, n)
    transfer_s = prompt_kv_bytes(prefill.cost, workload.isl) / link_bytes_per_s
    footprint = decode.kv.request_bytes(workload.isl + (workload.osl - 1) / 2.0, workload.isl + workload.osl)
    closed = workload.arrival_s is None
    front: deque[int] = deque()
    slots, slot_bytes = [0] * decode.workers, [0.0] * decode.workers
    assigned: dict[int, int] = {}
    turn = {"prefill": 0, "decode": 0}
    arrivals = iter(range(min(workload.concurrency, n), n) if closed else ())  # a closed loop's after the first C
    delays = frontend_delays_s(decode, req)
    in_frontend: list[tuple[float, int]] = []  # heap of (when it reaches the dispatch, id)

    def dispatch(time: float) -> None:
        while front:
            rid = front[0]
            for step in range(decode.workers):
                d = (turn["decode"] + step) % decode.workers
                if slots[d] < decode.config.max_seqs and slot_bytes[d] + footprint[rid] <= decode.kv.budget_bytes:
                    break
            else:
                return
            front.popleft()
            turn["decode"] = d + 1
            slots[d] += 1
            slot_bytes[d] += footprint[rid]
            assigned[rid] = d
            prefillers[turn["prefill"] % len(prefillers)].add_request(rid, time)
            turn["prefill"] += 1

    def send(rid: int, time: float) -> None:
        """A request sent at ``time``: it reaches the dispatch its frontend delay later (a closed loop's
        request with none reaches it at once)."""
        req.arrival[rid] = time
        if delays[rid] or not closed:
            heapq.heappush(in_frontend, (time + float(delays[rid]), rid))
        else:
            reach(rid, time)

    def reach(rid: int, time: float) -> None:
        front.append(rid)
        dispatch(time)

    def release(rid: int) -> None:
        d = assigned.pop(rid)
        slots[d] -= 1
        slot_bytes[d] -= footprint[rid]

    def prefill_done(rid: int, time: float) -> None:
        if req.osl[rid] <= 1:
            decode_done(rid, time)
            return
        arrival = time + float(transfer_s[rid])
        req.first_token[rid] = arrival
        decoders[assigned[rid]].add_request(rid, arrival, kv_ready=True)

    def decode_done(rid: int, time: float) -> None:
        tick()
        release(rid)
        if closed:
            nxt = next(arrivals, None)
            if nxt is not None:
                send(nxt, time)
        dispatch(time)

    pcost = prefill.cost.tabulate(prefill.config.max_batch_tokens)
    dcost = decode.cost.tabulate(decode.config.max_batch_tokens)
    prefillers = [Worker(pcost, prefill.kv, prefill.config, req, role="prefill", on_finish=prefill_done)
                  for _ in range(prefill.workers)]
    decoders = [Worker(dcost, decode.kv, decode.config, req, role="decode", on_finish=decode_done)
                for _ in range(decode.workers)]
    everyone = prefillers + decoders
    n_p = len(prefillers)
    first_transfer = float(transfer_s.min())
    for rid in range(min(workload.concurrency, n)) if closed else range(n):  # an open loop's all, up front
        send(rid, 0.0 if closed else float(workload.arrival_s[rid]))
    while True:
        # the next request to reach the dispatch: the first out of the frontend
        next_arrival = in_frontend[0][0] if in_frontend else inf
        starts = [w.next_start() for w in everyone]
        first = int(np.argmin(starts))
        if next_arrival <= starts[first]:
            if next_arrival == inf:
                break
            reach(heapq.heappop(in_frontend)[1], next_arrival)
            continue
        # What can hand this worker a request, and when at the earliest: a decode worker gets them from the
        # prefill workers (after a transfer), a prefill worker from arrivals and from decode completions.
        if first < n_p:
            bound = min(min(starts[n_p:], default=inf), next_arrival)
        else:
            bound = min(starts[:n_p], default=inf) + first_transfer
        everyone[first].run(until=bound, at_least_one=True, yield_on_finish=True)
    return summarize(req, decoders, everyone, gpus=prefill.gpus + decode.gpus, kv=decode.kv, workload=workload,
                     transfer_s=transfer_s)
