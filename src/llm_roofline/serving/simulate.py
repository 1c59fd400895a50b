"""The discrete-event simulation: requests routed to workers, disaggregated pools, and the statistics.

Aggregated serving: ``workers`` identical engine instances (data-parallel replicas); open-loop arrivals go
round robin in arrival order; a closed loop keeps ``concurrency`` requests in flight, split evenly over the
workers, each replacing its finished requests. Workers are then independent and run one after another.

Disaggregated serving (DistServe, Splitwise, Dynamo): a prefill pool computes prompts (a request leaves its
prefill worker with its first token), the request's KV cache (bytes = the engine's cache of its prompt) goes
over the link, and a decode worker continues it; TTFT ends when the first token reaches the decode worker,
which streams the rest. The pools are coupled (a closed loop starts a request when one finishes decoding),
so their workers advance together in a conservative event loop: a worker runs only the iterations that start
before any other worker could hand it a request (before every other worker's next iteration start).
Transfers do not contend for the link, and a decode worker that is full queues arrivals (the prefill worker
does not wait for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import inf

import numpy as np

from ..errors import ScenarioError
from .capacity import KVCapacity
from .scheduler import SchedulerConfig
from .statistics import SimResult, summarize
from .step_cost import StepCost
from .worker import Requests, Worker
from .workload import Workload


@dataclass(frozen=True)
class Pool:
    """A set of identical workers: the iteration cost, KV capacity and scheduler settings of each."""

    cost: StepCost
    kv: KVCapacity
    config: SchedulerConfig
    workers: int = 1
    gpus_per_worker: int = 1


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


def simulate_agg(pool: Pool, workload: Workload, progress=None) -> SimResult:
    """Aggregated serving of ``workload`` on ``pool.workers`` replicas."""
    _check_fits(pool, workload, "")
    cost = pool.cost.tabulate(pool.config.max_batch_tokens)
    req = Requests(workload.isl, workload.osl)
    n, nw = workload.size, pool.workers
    tick = _Progress(progress, n)
    workers: list[Worker] = []
    if workload.arrival_s is None:
        shares = np.array_split(np.arange(n), nw)
        loops = np.array_split(np.arange(min(workload.concurrency, n)), nw)
        for ids, first in zip(shares, loops, strict=True):
            queue = iter(ids[len(first):].tolist())
            worker = Worker(cost, pool.kv, pool.config, req, on_finish=_closed_loop(queue, tick))
            for rid in first.tolist():
                worker.add_request(rid, 0.0)
            worker.on_finish.worker = worker
            workers.append(worker)
    else:
        for w in range(nw):
            worker = Worker(cost, pool.kv, pool.config, req, on_finish=lambda rid, t: tick())
            for rid in range(w, n, nw):
                worker.add_request(rid, float(workload.arrival_s[rid]))
            workers.append(worker)
    for worker in workers:
        worker.run()
    return summarize(req, workers, workers, gpus=nw * pool.gpus_per_worker, kv=pool.kv, workload=workload)


class _closed_loop:
    """on_finish for a closed loop: each finished request is replaced by the next one, at once."""

    def __init__(self, queue, tick):
        self.queue, self.tick, self.worker = queue, tick, None

    def __call__(self, rid: int, time: float) -> None:
        self.tick()
        nxt = next(self.queue, None)
        if nxt is not None:
            self.worker.add_request(nxt, time)


def simulate_disagg(prefill: Pool, decode: Pool, workload: Workload, link_bytes_per_s: float,
                    progress=None) -> SimResult:
    """Disaggregated serving: ``prefill.workers`` prefill workers, ``decode.workers`` decode workers, the KV
    cache of each prompt sent over a link of ``link_bytes_per_s`` (one direction)."""
    _check_fits(prefill, workload, "prefill")
    _check_fits(decode, workload, "decode")
    req = Requests(workload.isl, workload.osl)
    n = workload.size
    tick = _Progress(progress, n)
    transfer_s = prompt_kv_bytes(prefill.cost, workload.isl) / link_bytes_per_s
    counters = {"prefill": 0, "decode": 0}
    closed = workload.arrival_s is None
    queue = iter(range(min(workload.concurrency, n), n)) if closed else None

    def route(pool: list[Worker], key: str) -> Worker:
        worker = pool[counters[key] % len(pool)]
        counters[key] += 1
        return worker

    def prefill_done(rid: int, time: float) -> None:
        if req.osl[rid] <= 1:
            decode_done(rid, time)
            return
        arrival = time + float(transfer_s[rid])
        req.first_token[rid] = arrival
        route(decoders, "decode").add_request(rid, arrival, kv_ready=True)

    def decode_done(rid: int, time: float) -> None:
        tick()
        if closed:
            nxt = next(queue, None)
            if nxt is not None:
                route(prefillers, "prefill").add_request(nxt, time)

    pcost = prefill.cost.tabulate(prefill.config.max_batch_tokens)
    dcost = decode.cost.tabulate(decode.config.max_batch_tokens)
    prefillers = [Worker(pcost, prefill.kv, prefill.config, req, role="prefill", on_finish=prefill_done)
                  for _ in range(prefill.workers)]
    decoders = [Worker(dcost, decode.kv, decode.config, req, role="decode", on_finish=decode_done)
                for _ in range(decode.workers)]
    if closed:
        for rid in range(min(workload.concurrency, n)):
            route(prefillers, "prefill").add_request(rid, 0.0)
    else:
        for rid in range(n):
            route(prefillers, "prefill").add_request(rid, float(workload.arrival_s[rid]))
    everyone = prefillers + decoders
    while True:
        starts = [w.next_start() for w in everyone]
        first = int(np.argmin(starts))
        if starts[first] == inf:
            break
        bound = min((s for i, s in enumerate(starts) if i != first), default=inf)
        everyone[first].run(until=bound, at_least_one=True)
    gpus = prefill.workers * prefill.gpus_per_worker + decode.workers * decode.gpus_per_worker
    return summarize(req, decoders, everyone, gpus=gpus, kv=decode.kv, workload=workload,
                     transfer_s=transfer_s)


def prompt_kv_bytes(cost: StepCost, isl: np.ndarray) -> np.ndarray:
    """Bytes of the KV cache (and recurrent state) a prompt of ``isl`` tokens leaves: the engine's
    cache_elements x bytes per KV element."""
    from ..graph import cache_elements
    from ..precision import storage_bytes

    s = cost.settings
    kb = storage_bytes(s.kv_cache.bits, s.group_size, s.scale_bits)[0]
    return cache_elements(cost.model, np.asarray(isl, dtype=np.float64)) * kb
