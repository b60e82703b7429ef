"""L1: in-process LRU with TTL and a byte budget.

Bytes are what the entry costs: UTF-8 key length + value length (the encoded envelope). When a ``set`` pushes the
total over ``max_bytes``, expired entries go first (counted as ``expirations``), then least-recently-used ones
(``evictions``). A value larger than the whole budget is not kept (counted as one eviction) — storing it would
flush every other entry for one that cannot fit anyway. TTL is measured on the injected clock's ``now()``, so
tests expire entries by advancing a :class:`~blaze_lab.clock.VirtualClock`.

Example:
    >>> from blaze_lab.clock import VirtualClock
    >>> clock = VirtualClock()
    >>> l1 = MemoryTier(max_bytes=1_000, clock=clock)
    >>> l1.set("a", b"x" * 10, ttl_s=5)
    >>> clock.advance(6)
    >>> l1.get("a") is None, l1.stats()["expirations"]
    (True, 1)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from blaze_lab.cache.tier import Hit, TierStats
from blaze_lab.clock import Clock, RealClock
from blaze_lab.errors import ConfigError


class MemoryTier:
    """Thread-safe LRU dict of bytes with per-entry expiry (monotonic clock) and a byte budget."""

    def __init__(self, max_bytes: int = 64 * 2**20, clock: Clock | None = None, name: str = "memory") -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ConfigError("cache.max_bytes", max_bytes, reason="must be an integer >= 1")
        self.name = name
        self.max_bytes = max_bytes
        self.clock: Clock = clock or RealClock()
        self._stats = TierStats(self.clock)
        # key -> (value, expires_at on clock.now() or None); order = recency (last = most recent).
        self._data: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def _cost(key: str, value: bytes) -> int:
        return len(key.encode("utf-8")) + len(value)

    def _drop(self, key: str) -> None:
        value, _ = self._data.pop(key)
        self._bytes -= self._cost(key, value)

    def get(self, key: str) -> Hit | None:
        with self._stats.timed("get"), self._lock:
            item = self._data.get(key)
            if item is None:
                self._stats.add("misses")
                return None
            value, expires_at = item
            now = self.clock.now()
            if expires_at is not None and now >= expires_at:
                self._drop(key)
                self._stats.add("expirations")
                self._stats.add("misses")
                return None
            self._data.move_to_end(key)
            self._stats.add("hits")
            return Hit(value, None if expires_at is None else expires_at - now)

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        with self._stats.timed("set"), self._lock:
            self._stats.add("sets")
            if key in self._data:
                self._drop(key)
            cost = self._cost(key, value)
            if cost > self.max_bytes:
                self._stats.add("evictions")
                return
            now = self.clock.now()
            if ttl_s is not None and ttl_s <= 0:
                return  # already expired (promotion of an entry at its deadline)
            self._data[key] = (value, None if ttl_s is None else now + ttl_s)
            self._bytes += cost
            if self._bytes > self.max_bytes:
                self._make_room(now)

    def _make_room(self, now: float) -> None:
        for k in [k for k, (_, exp) in self._data.items() if exp is not None and now >= exp]:
            self._drop(k)
            self._stats.add("expirations")
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._data))
            self._drop(oldest)
            self._stats.add("evictions")

    def delete(self, key: str) -> None:
        with self._lock:
            if key in self._data:
                self._drop(key)
                self._stats.add("deletes")

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            entries, nbytes = len(self._data), self._bytes
        return self._stats.snapshot(self.name, entries, nbytes)


__all__ = ["MemoryTier"]
