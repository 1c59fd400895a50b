"""The decoding requests of one worker, kept as aggregates (never a loop over requests).

A decoder that starts at iteration it0 with KV length s0 has S = s0 + (i - it0) in iteration i. The group
keeps: its size; per key class (window W, chunk C) the sum of the keys its decoders see (``K``:
min(S, W), or ((S - 1) mod C) + 1 with chunks) and how many grow by one each iteration (``rate``: those
with S < W); per block phase the decoders that open a KV block in a given iteration (one opens whenever
S - 1 is a multiple of the block size, i.e. when i = it0 - s0 + 1 mod block); per chunk phase those whose
keys start a new chunk after iteration i (S a multiple of C: their keys fall from C to 1); and in heaps
the iterations of each decoder's last step and of its window crossings. Entries of decoders that left
(preempted) are skipped lazily by an epoch check.

Decode-only iterations are affine in the iteration index: ``durations`` prices k of them at once from the
cost's per-batch lines (StepCost.decode_lines). A cost without such lines (EngineCost: calibrated curves,
workers of several devices) prices the k iterations' own features in one vectorized call of its
``time_s`` instead: each iteration at its exact KV sum K + rate j (the engine then evaluates the group at
its mean KV length, its one approximation, engine_cost.py).
"""

from __future__ import annotations

import heapq
from math import inf

import numpy as np

from .engine_cost import EngineCost
from .step_cost import StepCost


class DecodeGroup:
    def __init__(self, cost: StepCost | EngineCost, block_size: int):
        self.cost, self.bs = cost, block_size
        self.windows = cost.windows
        self.chunks = cost.chunks
        self.chunk_phase = [[0] * int(c) if c != inf else [] for c in self.chunks]
        self.dec: dict[int, tuple[int, int, int]] = {}  # id -> (first decode iteration, S there, epoch)
        self.epoch = 0
        self.n = 0
        self.K = [0.0] * len(self.windows)
        self.rate = [0] * len(self.windows)
        self.window_heap: list[list[tuple[int, int, int]]] = [[] for _ in self.windows]
        self.finish_heap: list[tuple[int, int, int]] = []
        self.phase = [0] * block_size
        self.lines: dict[int, tuple] = {}  # decode-only cost lines by group size
        self.steps = np.arange(1024, dtype=np.float64)
        self.linear = hasattr(cost, "decode_lines")  # StepCost: the exact line folding below

    # --- membership ---------------------------------------------------------------------------------------
    def start(self, rid: int, it0: int, s0: int, steps_left: int) -> None:
        """``rid`` decodes from iteration it0 at KV length s0 for ``steps_left`` steps."""
        self.epoch += 1
        self.dec[rid] = (it0, s0, self.epoch)
        self.n += 1
        for w, window in enumerate(self.windows):
            chunk = self.chunks[w]
            if chunk != inf:
                self.K[w] += (s0 - 1) % int(chunk) + 1
                self.rate[w] += 1
                self.chunk_phase[w][(it0 - s0) % int(chunk)] += 1
                continue
            self.K[w] += min(s0, window)
            if s0 < window:
                self.rate[w] += 1
                if window != inf:
                    heapq.heappush(self.window_heap[w], (it0 + int(window) - s0, rid, self.epoch))
        self.phase[(it0 - s0 + 1) % self.bs] += 1
        heapq.heappush(self.finish_heap, (it0 + steps_left - 1, rid, self.epoch))

    def kv_len(self, rid: int, it: int) -> int:
        """S of decoder ``rid`` in iteration ``it``."""
        it0, s0, _ = self.dec[rid]
        return s0 + it - it0

    def stop(self, rid: int, s_now: int) -> int:
        """Remove a decoder whose KV length in the coming iteration would be ``s_now``; returns its first
        decode iteration."""
        it0, s0, _ = self.dec.pop(rid)
        self.n -= 1
        for w, window in enumerate(self.windows):
            chunk = self.chunks[w]
            if chunk != inf:
                self.K[w] -= (s_now - 1) % int(chunk) + 1
                self.rate[w] -= 1
                self.chunk_phase[w][(it0 - s0) % int(chunk)] -= 1
                continue
            self.K[w] -= min(s_now, window)
            if s_now < window:
                self.rate[w] -= 1
        self.phase[(it0 - s0 + 1) % self.bs] -= 1
        return it0

    def valid(self, entry: tuple[int, int, int]) -> bool:
        rid, epoch = entry[1], entry[2]
        return rid in self.dec and self.dec[rid][2] == epoch

    # --- time passes --------------------------------------------------------------------------------------
    def advance(self, it: int, steps: int) -> None:
        """The decoders ran iterations it .. it + steps - 1 (no window crossing inside, see next_event)."""
        end = it + steps
        for w, heap in enumerate(self.window_heap):
            self.K[w] += self.rate[w] * steps
            if self.chunks[w] != inf:  # decoders at a chunk's last key start the next chunk: C down to 1
                self.K[w] -= self.chunks[w] * _ring_sum(self.chunk_phase[w], it, steps)
            while heap and heap[0][0] <= end:
                _, rid, epoch = heapq.heappop(heap)
                if rid in self.dec and self.dec[rid][2] == epoch:
                    self.rate[w] -= 1

    def next_event(self, it: int) -> int:
        """How many iterations from ``it`` on run with the group unchanged: up to and including the first
        decoder's last step, and before the first window crossing."""
        heap = self.finish_heap
        while heap and not self.valid(heap[0]):
            heapq.heappop(heap)
        k = heap[0][0] - it + 1
        for w_heap in self.window_heap:
            while w_heap and not self.valid(w_heap[0]):
                heapq.heappop(w_heap)
            if w_heap:
                k = min(k, w_heap[0][0] - it)
        return k

    def finished(self, last: int) -> list[int]:
        """Decoders whose last step was at or before iteration ``last`` (removed from the heap, not the group)."""
        out, heap = [], self.finish_heap
        while heap and heap[0][0] <= last:
            entry = heapq.heappop(heap)
            if self.valid(entry):
                out.append(entry[1])
        return out

    # --- KV blocks ----------------------------------------------------------------------------------------
    def opens(self, it: int) -> int:
        """Blocks the decoders open in iteration ``it``."""
        return self.phase[it % self.bs]

    def opened(self, it: int, k: int) -> int:
        """Blocks the decoders open in iterations it .. it + k - 1."""
        return _ring_sum(self.phase, it, k)

    def opened_by(self, it: int, k: int) -> np.ndarray:
        """Blocks opened by the end of each of the next ``k`` iterations (cumulative)."""
        return np.cumsum(np.array(self.phase, dtype=np.float64)[(it + np.arange(k)) % self.bs])

    # --- durations ----------------------------------------------------------------------------------------
    def _lines(self) -> tuple:
        lines = self.lines.get(self.n)
        if lines is None:
            const, _, window, c0, c_key, m0, m_key, overhead, counts = self.cost.decode_lines(self.n)
            keyed = list(zip(counts.tolist(), window.tolist(), c0.tolist(), c_key.tolist(), m0.tolist(),
                             m_key.tolist(), strict=True))
            lines = self.lines[self.n] = (const + float(counts @ overhead), keyed)
        return lines

    def durations(self, it: int, k: int) -> np.ndarray:
        """Durations of the next ``k`` decode-only iterations (s): each keyed kernel's time is the max of two
        lines in the iteration index j (its keys grow by ``rate`` per iteration); lines that never cross in
        [0, k) fold into one line A + B j, the others are evaluated."""
        if self.steps.size < k + 1:
            self.steps = np.arange(max(k + 1, 2 * self.steps.size), dtype=np.float64)
        if not self.linear:
            return self._evaluated(k)
        const, keyed = self._lines()
        a, b, extra = const, 0.0, None
        last = k - 1.0
        for count, w, c0, c_key, m0, m_key in keyed:
            keys, rate = self.K[w], self.rate[w]
            if self.chunks[w] != inf:  # sawtooth keys: evaluate them iteration by iteration
                drops = np.array(self.chunk_phase[w], dtype=np.float64)[(it + self.steps[:k].astype(np.intp))
                                                                         % len(self.chunk_phase[w])]
                seen = keys + rate * self.steps[:k] - self.chunks[w] * (np.cumsum(drops) - drops)
                t = count * np.maximum(c0 + c_key * seen, m0 + m_key * seen)
                extra = t if extra is None else extra + t
                continue
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

    def _evaluated(self, k: int) -> np.ndarray:
        """Durations of the next ``k`` decode-only iterations (s) from a cost without lines (EngineCost,
        one key class without window or chunk: every decoder's keys grow by one per iteration), all k
        iterations in one call."""
        keys = np.asarray(self.K, dtype=np.float64)[:, None] + np.asarray(self.rate, dtype=np.float64)[:, None] \
            * self.steps[None, :k]
        return np.asarray(self.cost.time_s(self.cost.decode_features(np.full(k, float(self.n)), keys)),
                          dtype=np.float64)

    def first_duration(self) -> float:
        """The next decode-only iteration's duration (s); later ones are never shorter (keys only grow)."""
        if not self.linear:
            return float(self._evaluated(1)[0])
        const, keyed = self._lines()
        return const + sum(count * max(c0 + c_key * self.K[w], m0 + m_key * self.K[w])
                           for count, w, c0, c_key, m0, m_key in keyed)


def _ring_sum(counts: list[int], it: int, k: int) -> int:
    """sum of counts[i mod len] over i = it .. it + k - 1."""
    n = len(counts)
    full, part = divmod(k, n)
    start = it % n
    ring = counts[start:] + counts[:start]
    return full * sum(counts) + sum(ring[:part])
