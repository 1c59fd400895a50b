"""CPU work off the event loop: a fixed number of worker threads, a bounded queue in front of them,
and a queue timeout. A request that finds the queue full, or waits longer than the timeout, is
refused with :class:`Busy` (the app answers 503 with ``Retry-After``) instead of piling up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Busy(Exception):
    """The pool's queue is full, or a job waited longer than the queue timeout."""

    def __init__(self, lane: str, reason: str, retry_after_s: int):
        super().__init__(f"server busy ({lane} work: {reason}); retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class WorkPool:
    """At most ``threads`` jobs run at once, at most ``queue`` more wait (each at most
    ``queue_timeout_s``). Created inside the running event loop (the app's lifespan)."""

    def __init__(self, lane: str, threads: int, queue: int, queue_timeout_s: float, retry_after_s: int = 1):
        self.lane = lane
        self.threads = threads
        self.queue = queue
        self.queue_timeout_s = queue_timeout_s
        self.retry_after_s = retry_after_s
        self.waiting = 0
        self.running = 0
        self._slots = asyncio.Semaphore(threads)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"llm-roofline-{lane}")

    async def run(self, fn: Callable[[], T]) -> T:
        if self._slots.locked() or self.waiting:  # every thread busy: join the queue, if there is room
            if self.waiting >= self.queue:
                raise Busy(self.lane, f"{self.running} running, {self.waiting} waiting", self.retry_after_s)
            self.waiting += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), self.queue_timeout_s)
            except asyncio.TimeoutError:
                raise Busy(self.lane, f"waited {self.queue_timeout_s:g} s for a worker",
                           self.retry_after_s) from None
            finally:
                self.waiting -= 1
        else:
            await self._slots.acquire()
        self.running += 1
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn)
        # The slot is free when the thread is, even if the request is cancelled (client gone) first.
        future.add_done_callback(self._release)
        return await asyncio.shield(future)

    def _release(self, _future) -> None:
        self.running -= 1
        self._slots.release()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def stats(pools: dict[str, WorkPool]) -> dict[str, Any]:
    return {name: {"threads": p.threads, "running": p.running, "waiting": p.waiting, "queue": p.queue}
            for name, p in pools.items()}
