"""One engine instance under load, iteration by iteration (the discrete-event core).

The scheduler rule is scheduler.py's. The decoding requests are aggregates (decode_group.py), never a
loop over requests. Between events (decode-only stretches with no admission possible), many iterations
are evaluated at once: their features are affine in the iteration index, so the whole stretch is priced
in one vectorized step.

``role``: "agg" (prefill and decode), "prefill" (a disaggregated prefill worker: a request leaves when
its prompt is done) or "decode" (a disaggregated decode worker: requests arrive with their prompt's KV
cache and start decoding on admission).
"""

from __future__ import annotations

import heapq
from collections import deque
from math import floor, inf

import numpy as np

from .capacity import KVCapacity
from .decode_group import DecodeGroup
from .engine_cost import EngineCost
from .scheduler import SchedulerConfig
from .statistics import IterationLog
from .step_cost import StepCost

WAITING, PREFILL, DECODE, DONE = 0, 1, 2, 3


class Requests:
    """Every request of a simulation (arrays by request id): inputs and what happened to them (s)."""

    def __init__(self, isl: np.ndarray, osl: np.ndarray):
        n = isl.size
        self.isl = isl.astype(np.int64)
        self.osl = osl.astype(np.int64)
        self.arrival = np.full(n, np.nan)
        self.first_token = np.full(n, np.nan)
        self.finish = np.full(n, np.nan)
        self.preemptions = np.zeros(n, dtype=np.int64)
        self.kv_waits = np.zeros(n, dtype=np.int64)


class Worker:
    def __init__(self, cost: StepCost | EngineCost, kv: KVCapacity, config: SchedulerConfig, requests: Requests,
                 role: str = "agg", on_finish=None):
        self.cost, self.kv, self.cfg, self.req, self.role = cost, kv, config, requests, role
        self.on_finish = on_finish  # callback(request id, time): closed loop and disaggregation
        self.clock = 0.0
        self.it = 0
        self.pending: list[tuple[float, int]] = []  # heap of (arrival time, id)
        self.waiting: deque[int] = deque()
        self.running: list[int] = []  # admission order (lazy: finished ids are skipped)
        self.n_running = 0
        self.prefilling: list[int] = []
        self.state: dict[int, int] = {}
        self.todo: dict[int, int] = {}  # prompt tokens to compute (prompt, or prompt + output on recompute)
        self.done: dict[int, int] = {}  # of those, computed so far
        self.made: dict[int, int] = {}  # output tokens produced so far
        self.dg = DecodeGroup(cost, kv.block_size)
        self.bs = kv.block_size
        self.used_blocks = 0
        self.held: dict[int, float] = {}  # id -> reserve bytes (its blocks follow from its length)
        self.reserved = 0.0
        self.cap = config.prefill_chunk
        self.budget = config.period_tokens(cost.micro_batches)  # tokens per iteration (a pipeline's period)
        whole = np.unique(requests.isl)  # whole prompts in one chunk: the common case, priced at once
        self.chunk_cache: dict[tuple[int, int], np.ndarray] = dict(zip(
            ((p, p) for p in whole.tolist()), cost.chunk_features(whole, whole).T, strict=True))
        self.reserve = kv.reserve_bytes(requests.isl + requests.osl).tolist()  # bytes, by request id
        self.dec_alloc = -1  # the iteration whose decode blocks have been allocated
        self.log = IterationLog()

    # --- arrivals ---------------------------------------------------------------------------------------
    def arrive(self, rid: int, time: float) -> None:
        heapq.heappush(self.pending, (time, rid))

    def next_start(self) -> float:
        """When this worker next starts an iteration (inf when idle with nothing to come)."""
        if self.n_running or self.waiting:
            return self.clock
        return max(self.clock, self.pending[0][0]) if self.pending else inf

    # --- KV accounting ----------------------------------------------------------------------------------
    def _block_capacity(self, reserved: float) -> float:
        if self.kv.page_bytes == 0:
            return inf
        return floor((self.kv.budget_bytes - reserved) / self.kv.page_bytes)

    def _free_blocks(self) -> float:
        return self._block_capacity(self.reserved) - self.used_blocks

    def _blocks(self, tokens: int) -> int:
        return -(-tokens // self.bs)

    def _release(self, rid: int, blocks: int) -> None:
        """Free a request's ``blocks`` (derived from its length by the caller) and its reserve."""
        self.used_blocks -= blocks
        self.reserved -= self.held.pop(rid)

    def _start_decode(self, rid: int, it0: int, s0: int) -> None:
        self.state[rid] = DECODE
        self.dg.start(rid, it0, s0, int(self.req.osl[rid]) - self.made[rid])

    # --- preemption -------------------------------------------------------------------------------------
    def _preempt_last(self) -> bool:
        while self.running:
            rid = self.running.pop()
            st = self.state.get(rid)
            if st not in (PREFILL, DECODE):
                continue
            if st == DECODE:
                s_now = self.dg.kv_len(rid, self.it)
                opened = self.dec_alloc == self.it and (s_now - 1) % self.bs == 0  # its block of this iteration
                it0 = self.dg.stop(rid, s_now)
                self.made[rid] += self.it - it0
                self.todo[rid] = s_now  # recompute every token known so far: prompt + output
                self._release(rid, self._blocks(s_now - 1) + opened)
            else:
                self.prefilling.remove(rid)
                self._release(rid, self._blocks(self.done[rid]))
            self.done[rid] = 0
            self.state[rid] = WAITING
            self.n_running -= 1
            self.req.preemptions[rid] += 1
            self.waiting.appendleft(rid)
            return True
        return False

    # --- the main loop ----------------------------------------------------------------------------------
    def run(self, until: float = inf, at_least_one: bool = False, yield_on_finish: bool = False) -> None:
        """Run every iteration that starts before ``until`` (and the next one anyway if ``at_least_one``);
        with ``yield_on_finish``, return after an iteration in which a request left (it may have handed work
        to another worker, whose bound must then be recomputed)."""
        self.finished = False
        while True:
            start = self.next_start()
            if start == inf or (start >= until and not at_least_one) or (yield_on_finish and self.finished):
                return
            if at_least_one:
                until, at_least_one = max(until, np.nextafter(start, inf)), False
            self.clock = start
            while self.pending and self.pending[0][0] <= start:
                self.waiting.append(heapq.heappop(self.pending)[1])
            if not (self.prefilling or self._admissible()) and self.dg.n and self._stretch(until):
                continue
            self._iteration()

    def _admissible(self) -> bool:
        return bool(self.waiting) and self.n_running < self.cfg.max_seqs and self._fits(self.waiting[0], self.budget)

    def _first_need(self, rid: int, budget: int) -> tuple[int, int]:
        """(tokens, blocks) a waiting request takes in its first iteration: a prompt chunk, or one decode
        token when its prompt's KV cache came with it (disaggregated decode)."""
        if self.done.get(rid, 0) == self.todo[rid]:
            return 1, self._blocks(self.todo[rid] + 1)
        return min(self.todo[rid], self.cap, budget), self._blocks(min(self.todo[rid], self.cap, budget))

    def _fits(self, rid: int, budget: int) -> bool:
        reserve = self.reserve[rid]
        if self.reserved + reserve > self.kv.budget_bytes:
            return False
        return self._first_need(rid, budget)[1] <= self._block_capacity(self.reserved + reserve) - self.used_blocks

    def _stretch(self, until: float) -> bool:
        """Run decode-only iterations up to the next event in one vectorized step; False if not even one
        can run without preemption (the single-iteration path handles that)."""
        dg = self.dg
        k = dg.next_event(self.it)
        bound = until
        if not self.waiting and self.pending and self.n_running < self.cfg.max_seqs:
            bound = min(bound, self.pending[0][0])
        # iterations only lengthen within a stretch: the first one's duration bounds their count (the linear
        # cost's arrays grow with k; the engine's call costs the same for any k, so it prices them all)
        if bound < inf and dg.linear:
            k = min(k, int((bound - self.clock) / dg.first_duration()) + 2)
        opened = dg.opened(self.it, k)
        free = self._free_blocks()
        if opened > free:  # stop before the KV cache runs out (the next iteration preempts)
            need = dg.opened_by(self.it, k)
            k = int(np.searchsorted(need, free, side="right"))
            if k < 1:
                return False
            opened = int(need[k - 1])
        dur = dg.durations(self.it, k)
        ends = self.clock + np.cumsum(dur)
        if ends[-1] - dur[-1] >= bound:  # the last iterations start at or after the bound
            k = int(np.searchsorted(ends[:-1], bound, side="left")) + 1  # start_0 = clock < bound
            opened = dg.opened(self.it, k)
            dur = dur[:k]
        held = self.used_blocks * self.kv.page_bytes + self.reserved
        grown = opened * self.kv.page_bytes
        # KV held during each iteration: blocks open at a steady pace (exact at the ends of the stretch)
        self.log.add(dur, dg.n, held + grown * dg.steps[1:k + 1] / k, held + grown)
        self.used_blocks += opened
        self.clock = float(ends[k - 1])
        dg.advance(self.it, k)
        self.it += k
        self._finish_decoders()
        return True

    def _chunk_features(self, T: int, S: int) -> np.ndarray:
        key = (T, S)
        x = self.chunk_cache.get(key)
        if x is None:
            x = self.chunk_cache[key] = self.cost.chunk_features(T, S)[:, 0]
        return x

    def _iteration(self) -> None:
        i, budget, preempted = self.it, self.budget, False
        if self.dg.n:
            while self.dg.opens(i) > self._free_blocks() and self._preempt_last():
                preempted = True
            self.used_blocks += self.dg.opens(i)
            self.dec_alloc = i
            budget -= self.dg.n
        chunks: list[tuple[int, int, int]] = []
        for rid in list(self.prefilling):
            if budget <= 0:
                break
            if self.state[rid] != PREFILL:  # preempted by an earlier request of this loop
                continue
            d = self.done[rid]
            c = min(self.todo[rid] - d, self.cap, budget)
            new = self._blocks(d + c) - self._blocks(d)
            while new > self._free_blocks() and self.running and self.running[-1] != rid and self._preempt_last():
                preempted = True
            if rid not in self.prefilling or new > self._free_blocks():
                break
            self.used_blocks += new
            chunks.append((rid, c, d + c))
            budget -= c
        while not preempted and budget > 0 and self.n_running < self.cfg.max_seqs and self.waiting:
            rid = self.waiting[0]
            if not self._fits(rid, budget):
                self.req.kv_waits[rid] = 1
                break
            self.waiting.popleft()
            tokens, blocks = self._first_need(rid, budget)
            self.held[rid] = self.reserve[rid]
            self.reserved += self.held[rid]
            self.used_blocks += blocks
            self.running.append(rid)
            self.n_running += 1
            budget -= tokens
            if self.done.get(rid, 0) == self.todo[rid]:  # KV cache arrived with it: decode at once
                self._start_decode(rid, i, self.todo[rid] + 1)
            else:
                self.state[rid] = PREFILL
                self.done[rid] = 0
                self.prefilling.append(rid)
                chunks.append((rid, tokens, tokens))
        if not chunks and not self.dg.n:
            raise RuntimeError("serving simulation: an iteration with nothing to run")  # guarded by simulate
        x = np.zeros(self.cost.n_features)
        x[0] = self.dg.n
        x[1:1 + len(self.dg.K)] = self.dg.K
        for _, c, s in chunks:
            x += self._chunk_features(c, s)
        dur = self.cost.one_time_s(x)
        self.clock += dur
        self.log.add_one(dur, self.dg.n, self.used_blocks * self.kv.page_bytes + self.reserved)
        self.dg.advance(i, 1)
        self.it += 1
        self._finish_decoders()
        for rid, _, s in chunks:
            self.done[rid] = s
            if s == self.todo[rid]:
                self._prompt_done(rid)

    def _prompt_done(self, rid: int) -> None:
        self.prefilling.remove(rid)
        self.made[rid] = self.made.get(rid, 0) + 1
        if np.isnan(self.req.first_token[rid]):
            self.req.first_token[rid] = self.clock
        if self.made[rid] >= self.req.osl[rid] or self.role == "prefill":
            self._release(rid, self._blocks(self.todo[rid]))
            self._done(rid)
        else:
            self._start_decode(rid, self.it, self.todo[rid] + 1)

    def _finish_decoders(self) -> None:
        for rid in self.dg.finished(self.it - 1):
            s_next = self.dg.kv_len(rid, self.it)
            self.dg.stop(rid, s_next)
            self._release(rid, self._blocks(s_next - 1))
            self.made[rid] = int(self.req.osl[rid])
            self._done(rid)

    def _done(self, rid: int) -> None:
        self.finished = True
        self.state[rid] = DONE
        self.n_running -= 1
        self.req.finish[rid] = self.clock
        for store in (self.todo, self.done, self.made):
            store.pop(rid, None)
        if self.on_finish is not None:
            self.on_finish(rid, self.clock)

    def add_request(self, rid: int, time: float, *, kv_ready: bool = False) -> None:
        """A new request arrives at ``time``; ``kv_ready``: its prompt's KV cache comes with it
        (disaggregated decode), so it starts decoding on admission with one output token made."""
        isl = int(self.req.isl[rid])
        if np.isnan(self.req.arrival[rid]):
            self.req.arrival[rid] = time
        self.todo[rid] = isl
        self.state[rid] = WAITING
        if kv_ready:
            self.done[rid] = isl
            self.made[rid] = 1
        self.arrive(rid, time)
