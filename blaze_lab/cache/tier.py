"""The one small protocol every result-cache tier speaks, and the counters each keeps.

A tier stores opaque bytes (the :mod:`blaze_lab.cache.codec` envelope) under string keys; encoding happens once,
in :class:`~blaze_lab.cache.tiered.TieredCache`, so byte budgets count exactly what is stored. ``get`` returns a
:class:`Hit` carrying the remaining TTL so that promotion to a faster tier keeps the original expiry (an entry
must not live forever by bouncing between tiers). No tier raises from ``get``/``set``/``delete`` for an
operational failure: it counts an error and answers miss / no-op.

Example:
    >>> from blaze_lab.cache.memory import MemoryTier
    >>> tier: CacheTier = MemoryTier(max_bytes=1024)
    >>> tier.set("k", b"v", ttl_s=None)
    >>> tier.get("k")
    Hit(value=b'v', ttl_left_s=None)
    >>> tier.stats()["hits"]
    1
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, Protocol, runtime_checkable

from blaze_lab.clock import Clock


class Hit(NamedTuple):
    """A stored value and its remaining time to live (``None``: no expiry)."""

    value: bytes
    ttl_left_s: float | None


@runtime_checkable
class CacheTier(Protocol):
    """get / set / delete / stats over bytes; ``name`` is the tier's row label in stats frames."""

    name: str

    def get(self, key: str) -> Hit | None: ...

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None: ...

    def delete(self, key: str) -> None: ...

    def stats(self) -> dict[str, Any]: ...


COUNTERS = ("hits", "misses", "sets", "deletes", "errors", "skipped", "evictions", "expirations", "corrupt", "tampered")


@dataclasses.dataclass
class TierStats:
    """Thread-safe counters and latency sums of one tier. ``entries``/``bytes`` are set by the tier itself.

    ``skipped`` counts operations not attempted because the tier is degraded (Redis backoff); ``corrupt`` counts
    entries found unreadable and deleted (also counted in ``errors``); ``tampered`` counts intact entries whose
    authentication tag is missing or wrong (only with an HMAC key; never served, deleted, counted as misses).
    """

    clock: Clock
    counts: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    get_count: int = 0
    get_s_total: float = 0.0
    set_count: int = 0
    set_s_total: float = 0.0
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def add(self, counter: str, n: int = 1) -> None:
        with self._lock:
            self.counts[counter] += n

    @contextmanager
    def timed(self, op: str) -> Iterator[None]:
        """Add the duration of the block (on the injected clock) to ``op`` ("get" or "set")."""
        start = self.clock.now()
        try:
            yield
        finally:
            elapsed = self.clock.now() - start
            with self._lock:
                if op == "get":
                    self.get_count += 1
                    self.get_s_total += elapsed
                else:
                    self.set_count += 1
                    self.set_s_total += elapsed

    def snapshot(self, name: str, entries: int | None, nbytes: int | None) -> dict[str, Any]:
        """One flat row: counters, sizes, latency totals and means (NaN when an op never ran)."""
        with self._lock:
            row: dict[str, Any] = {"tier": name, **self.counts}
            row["entries"] = entries
            row["bytes"] = nbytes
            row["get_count"] = self.get_count
            row["get_latency_s_total"] = self.get_s_total
            row["get_latency_s_mean"] = self.get_s_total / self.get_count if self.get_count else float("nan")
            row["set_count"] = self.set_count
            row["set_latency_s_total"] = self.set_s_total
            row["set_latency_s_mean"] = self.set_s_total / self.set_count if self.set_count else float("nan")
        lookups = row["hits"] + row["misses"]
        row["hit_rate"] = row["hits"] / lookups if lookups else float("nan")
        return row


__all__ = ["COUNTERS", "CacheTier", "Hit", "TierStats"]
