"""A one-line progress bar on standard error, for sweeps that take noticeable time.

It stays silent when standard error is not a terminal (pipes, tests, CI) unless
``LLM_ROOFLINE_PROGRESS=1``, and it only appears once the work has run for ``delay_s`` seconds, so
the (usual) instant sweeps print nothing.
"""

from __future__ import annotations

import os
import sys
import time


class ProgressBar:
    def __init__(self, label: str, *, stream=None, delay_s: float = 0.3, width: int = 30):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.delay_s = delay_s
        self.width = width
        self.start = time.perf_counter()
        self.shown = False
        forced = os.environ.get("LLM_ROOFLINE_PROGRESS", "")
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = forced == "1" or (forced != "0" and isatty())

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        elapsed = time.perf_counter() - self.start
        if not self.shown and elapsed < self.delay_s and done < total:
            return
        if not self.shown and done >= total and elapsed < self.delay_s:
            return  # finished before anyone would notice
        self.shown = True
        filled = int(self.width * done / total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} {elapsed:5.1f} s")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
