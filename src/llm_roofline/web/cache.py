"""A thread-safe least-recently-used cache bounded by the total size of its values (bytes for the
server's serialized responses, a count for parsed uploads)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


def text_bytes(value: Any) -> int:
    """Size of a cached response: its JSON text (ASCII: 1 byte per character), else 1."""
    return len(value) if isinstance(value, str | bytes) else 1


class BoundedCache:
    """Keeps the most recently used entries whose sizes (``size_of``) sum to at most ``max_size``;
    an entry larger than ``max_size / 4`` is not kept at all (it would evict everything else)."""

    def __init__(self, max_size: int, size_of: Callable[[Any], int] = text_bytes):
        self.max_size = max_size
        self.size_of = size_of
        self.size = 0
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Hashable) -> Any:
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            self._data.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, value: Any) -> None:
        size = self.size_of(value)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.size -= old[1]
            if size > self.max_size / 4:
                return
            self._data[key] = (value, size)
            self.size += size
            while self.size > self.max_size:
                _, (_, dropped) = self._data.popitem(last=False)
                self.size -= dropped

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.size = 0
