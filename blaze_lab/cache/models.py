"""ModelCache: a memory-aware LRU of loaded models, keyed by the load-time part of a config.

Configs that differ only in run-time fields (batch size, lengths, sampling) share one load. The cache holds at
most ``budget_bytes`` of model weights; loading past that evicts the least recently used models first, and
eviction really frees memory (the cache drops its reference, runs the garbage collector and empties the CUDA
caching allocator) — a cache that only forgets its dict entry would keep the tensors alive.

Example:
    >>> cache = ModelCache(budget_bytes=100)
    >>> cache.get_or_load(("m", "fp32"), lambda: ("model-a", 60))
    'model-a'
    >>> cache.get_or_load(("m", "fp32"), lambda: ("never-called", 60))
    'model-a'
    >>> cache.get_or_load(("m", "bf16"), lambda: ("model-b", 60))   # evicts model-a (60 + 60 > 100)
    'model-b'
    >>> cache.stats()["hits"], cache.stats()["misses"], cache.stats()["evictions"]
    (1, 2, 1)
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from blaze_lab.clock import Clock, RealClock


@dataclass
class _Entry:
    value: Any
    nbytes: int
    load_s: float


class ModelCache:
    """LRU of loaded models with a byte budget. ``budget_bytes=None`` means unbounded."""

    def __init__(self, budget_bytes: int | None = None, clock: Clock | None = None) -> None:
        if budget_bytes is not None and budget_bytes <= 0:
            from blaze_lab.errors import ConfigError

            raise ConfigError("model_cache.budget_bytes", budget_bytes, reason="must be > 0 or None")
        self.budget_bytes = budget_bytes
        self.clock = clock or RealClock()
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._counts = {"hits": 0, "misses": 0, "evictions": 0}
        self._events: list[dict[str, Any]] = []

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes_used(self) -> int:
        return sum(e.nbytes for e in self._entries.values())

    def get_or_load(self, key: Hashable, loader: Callable[[], tuple[Any, int]]) -> Any:
        """Return the cached value for ``key``, or call ``loader() -> (value, nbytes)`` and cache it."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            self._counts["hits"] += 1
            self._event("hit", key, entry.nbytes)
            return entry.value
        self._counts["misses"] += 1
        # Free room *before* loading, so the old and new model never need to coexist beyond the budget.
        self._evict_for(0)
        t0 = self.clock.now()
        value, nbytes = loader()
        load_s = self.clock.now() - t0
        self._evict_for(nbytes)
        self._entries[key] = _Entry(value, int(nbytes), load_s)
        self._event("load", key, nbytes, load_s)
        return value

    def load_seconds(self, key: Hashable) -> float | None:
        entry = self._entries.get(key)
        return entry.load_s if entry else None

    def _evict_for(self, incoming: int) -> None:
        if self.budget_bytes is None:
            return
        while self._entries and self.bytes_used + incoming > self.budget_bytes:
            old_key, old = self._entries.popitem(last=False)
            self._counts["evictions"] += 1
            self._event("evict", old_key, old.nbytes)
            del old
            _free_memory()

    def evict(self, key: Hashable) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self._counts["evictions"] += 1
        self._event("evict", key, entry.nbytes)
        del entry
        _free_memory()
        return True

    def clear(self) -> None:
        for key in list(self._entries):
            self.evict(key)

    def keep_only(self, key: Hashable) -> int:
        """Evict every entry but ``key`` (before measuring ``key``'s memory: nothing of other configs may stay).

        Returns how many entries were evicted.
        """
        others = [k for k in self._entries if k != key]
        for other in others:
            self.evict(other)
        return len(others)

    def _event(self, kind: str, key: Hashable, nbytes: int, load_s: float = 0.0) -> None:
        self._events.append(
            {"time": self.clock.now(), "event": kind, "key": str(key), "bytes": int(nbytes), "load_s": load_s}
        )

    def stats(self) -> dict[str, Any]:
        return {**self._counts, "entries": len(self._entries), "bytes": self.bytes_used, "budget": self.budget_bytes}

    def stats_frame(self) -> pd.DataFrame:
        """One row: hits, misses, evictions, entries, bytes, budget."""
        return pd.DataFrame([self.stats()])

    def events_frame(self) -> pd.DataFrame:
        """Every hit / load / evict with its time, key, bytes and load time."""
        return pd.DataFrame(self._events, columns=["time", "event", "key", "bytes", "load_s"])


def _free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


__all__ = ["ModelCache"]
