"""One engine instance under load, iteration by iteration (the discrete-event core).

The scheduler rule is scheduler.py's. The decode group is kept as aggregates, never as a loop over
requests: its size, per window W the sum of min(S_i, W) and how many S_i < W still grow, and per
block phase the decoders that open a new KV block in a given iteration (a decoder opens one whenever
S - 1 is a multiple of the block size, i.e. every block_size iterations). Completions and window
crossings are known iteration numbers, kept in heaps. Between events (decode-only stretches with no
admission possible), many iterations are evaluated at once: their features are affine in the iteration
index, so StepCost prices the whole stretch in one vectorized call.

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
    def __init__(self, cost: StepCost, kv: KVCapacity, config: SchedulerConfig, requests: Requests,
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
        self.dec: dict[int, tuple[int, int, int]] = {}  # decoder: (first decode iteration, S there, epoch)
        self.epoch = 0
        self.n_dec = 0
        self.windows = cost.windows
        self.K = [0.0] * len(self.windows)
        self.rate = [0] * len(self.windows)
        self.window_heap: list[list[tuple[int, int, int]]] = [[] for _ in self.windows]
        self.finish_heap: list[tuple[int, int, int]] = []
        self.bs = kv.block_size
        self.phase = [0] * self.bs
        self.used_blocks = 0
        self.held: dict[int, float] = {}  # id -> reserve bytes (its blocks follow from its length)
        self.reserved = 0.0
        self.cap = config.prefill_chunk
        self.lines: dict[int, tuple] = {}  # decode-only cost lines by batch size
        self.steps = np.arange(1024, dtype=np.float64)
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

    # --- decode aggregates ------------------------------------------------------------------------------
    def _start_decode(self, rid: int, it0: int, s0: int) -> None:
        self.epoch += 1
        self.dec[rid] = (it0, s0, self.epoch)
        self.state[rid] = DECODE
        self.n_dec += 1
        for w, window in enumerate(self.windows):
            self.K[w] += min(s0, window)
            if s0 < window:
                self.rate[w] += 1
                if window != inf:
                    heapq.heappush(self.window_heap[w], (it0 + int(window) - s0, rid, self.epoch))
        self.phase[(it0 - s0 + 1) % self.bs] += 1
        steps = int(self.req.osl[rid]) - self.made[rid]
        heapq.heappush(self.finish_heap, (it0 + steps - 1, rid, self.epoch))

    def _stop_decode(self, rid: int, s_now: int) -> None:
        """Remove a decoder whose KV length in the coming iteration would be ``s_now``."""
        it0, s0, _ = self.dec.pop(rid)
        self.n_dec -= 1
        for w, window in enumerate(self.windows):
            self.K[w] -= min(s_now, window)
            if s_now < window:
                self.rate[w] -= 1
        self.phase[(it0 - s0 + 1) % self.bs] -= 1

    def _advance(self, steps: int) -> None:
        """The decoders ran ``steps`` iterations (no window crossing inside, see _stretch_limit)."""
        end = self.it + steps
        for w, heap in enumerate(self.window_heap):
            self.K[w] += self.rate[w] * steps
            while heap and heap[0][0] <= end:
                _, rid, epoch = heapq.heappop(heap)
                if rid in self.dec and self.dec[rid][2] == epoch:
                    self.rate[w] -= 1

    # --- preemption -------------------------------------------------------------------------------------
    def _preempt_last(self) -> bool:
        while self.running:
            rid = self.running.pop()
            st = self.state.get(rid)
            if st not in (PREFILL, DECODE):
                continue
            if st == DECODE:
                it0, s0, _ = self.dec[rid]
                s_now = s0 + self.it - it0
                opened = self.dec_alloc == self.it and (s_now - 1) % self.bs == 0  # its block of this iteration
                self._stop_decode(rid, s_now)
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
            if not (self.prefilling or self._admissible()) and self.n_dec and self._stretch(until):
                continue
            self._iteration()

    def _admissible(self) -> bool:
        return bool(self.waiting) and self.n_running < self.cfg.max_seqs and self._fits(self.waiting[0],
                                                                                       self.cfg.max_batch_tokens)

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
        heap = self.finish_heap
        while heap and not self._valid(heap[0]):
            heapq.heappop(heap)
        k = heap[0][0] - self.it + 1
        for w_heap in self.window_heap:
            while w_heap and not self._valid(w_heap[0]):
                heapq.heappop(w_heap)
            if w_heap:
                k = min(k, w_heap[0][0] - self.it)
        bound = until
        if not self.waiting and self.pending and self.n_running < self.cfg.max_seqs:
            bound = min(bound, self.pending[0][0])
        if bound < inf:  # iterations only lengthen within a stretch: the first one's duration bounds their count
            k = min(k, int((bound - self.clock) / self._first_duration()) + 2)
        opened = self._blocks_opened(k)
        free = self._free_blocks()
        if opened > free:  # stop before the KV cache runs out (the next iteration preempts)
            need = np.cumsum(np.array(self.phase, dtype=np.float64)[(self.it + np.arange(k)) % self.bs])
            k = int(np.searchsorted(need, free, side="right"))
            if k < 1:
                return False
            opened = int(need[k - 1])
        self._ensure_steps(k)
        dur = self._decode_durations(k)
        ends = self.clock + np.cumsum(dur)
        if ends[-1] - dur[-1] >= bound:  # the last iterations start at or after the bound
            k = int(np.searchsorted(ends[:-1], bound, side="left")) + 1  # start_0 = clock < bound
            opened = self._blocks_opened(k)
            dur = dur[:k]
        held = self.used_blocks * self.kv.page_bytes + self.reserved
        grown = opened * self.kv.page_bytes
        # KV held during each iteration: blocks open at a steady pace (exact at the ends of the stretch)
        self.log.add(dur, self.n_dec, held + grown * self.steps[1:k + 1] / k, held + grown)
        self.used_blocks += opened
        self.clock = float(ends[k - 1])
        self.it += k
        self._advance(k)
        self._finish_decoders()
        return True

    def _lines(self) -> tuple:
        lines = self.lines.get(self.n_dec)
        if lines is None:
            const, _, window, c0, c_key, m0, m_key, overhead, counts = self.cost.decode_lines(self.n_dec)
            keyed = list(zip(counts.tolist(), window.tolist(), c0.tolist(), c_key.tolist(), m0.tolist(),
                             m_key.tolist(), strict=True))
            lines = self.lines[self.n_dec] = (const + float(counts @ overhead), keyed)
        return lines

    def _decode_durations(self, k: int) -> np.ndarray:
        """Durations of the next ``k`` decode-only iterations: each keyed kernel's time is the max of two lines
        in the iteration index j (its keys grow by ``rate`` per iteration); lines that never cross in
        [0, k) fold into one line A + B j, the others are evaluated."""
        const, keyed = self._lines()
        a, b, extra = const, 0.0, None
        last = k - 1.0
        for count, w, c0, c_key, m0, m_key in keyed:
            keys, rate = self.K[w], self.rate[w]
            ca, cb, ma, mb = c0 + c_key * keys, c_key * rate, m0 + m_key * keys, m_key * rate
            if ca >= ma and ca + cb * last >= ma + mb * last:
                a, b = a + count * ca, b + count * cb
            elif ma >= ca and ma + mb * last >= ca + cb * last:
                a, b = a + count * ma, b + count * mb
            else:
                j = self.steps[:k]
                t = count * np.maximum(ca + cb * j, ma + mb * j)
                extra = t if extra is None else extra + t
        out = a + b * self.steps[:k] if b else np.full(k, a)
        return out if extra is None else out + extra

    def _first_duration(self) -> float:
        const, keyed = self._lines()
        return const + sum(count * max(c0 + c_key * self.K[w], m0 + m_key * self.K[w])
                           for count, w, c0, c_key, m0, m_key in keyed)

    def _blocks_opened(self, k: int) -> int:
        """Blocks the decoders open in the next ``k`` iterations (one per decoder every block_size)."""
        full, part = divmod(k, self.bs)
        start = self.it % self.bs
        ring = self.phase[start:] + self.phase[:start]
        return full * sum(self.phase) + sum(ring[:part])

    def _ensure_steps(self, k: int) -> None:
        if self.steps.size < k + 1:
            self.steps = np.arange(max(k + 1, 2 * self.steps.size), dtype=np.float64)

    def _chunk_features(self, T: int, S: int) -> np.ndarray:
        key = (T, S)
        x = self.chunk_cache.get(key)
        if x is None:
            x = self.chunk_cache[key] = self.cost.chunk_features(T, S)[:, 0]
        return x

    def _valid(self, entry: tuple[int, int, int]) -> bool:
        rid, epoch = entry[1], entry[2]
        return rid in self.dec and self.dec[rid][2] == epoch

    def _iteration(self) -> None:
        i, budget, preempted = self.it, self.cfg.max_batch_tokens, False
        if self.n_dec:
            while self.phase[i % self.bs] > self._free_blocks() and self._preempt_last():
                preempted = True
            self.used_blocks += self.phase[i % self.bs]
            self.dec_alloc = i
            budget -= self.n_dec
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
        if not chunks and not self.n_dec:
            raise RuntimeError("serving simulation: an iteration with nothing to run")  # guarded by simulate
        x = np.zeros(self.cost.n_features)
        x[0] = self.n_dec
        x[1:1 + len(self.K)] = self.K
        for _, c, s in chunks:
            x += self._chunk_features(c, s)
        dur = self.cost.one_time_s(x)
        self.clock += dur
        self.log.add_one(dur, self.n_dec, self.used_blocks * self.kv.page_bytes + self.reserved)
        self.it += 1
        self._advance(1)
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
        heap, last = self.finish_heap, self.it - 1
        while heap and heap[0][0] <= last:
            entry = heapq.heappop(heap)
            if not self._valid(entry):
                continue
            rid = entry[1]
            it0, s0, _ = self.dec[rid]
            s_next = s0 + self.it - it0
            self._stop_decode(rid, s_next)
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
