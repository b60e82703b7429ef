"""The tiered result cache in front of a batcher, and the Zipf tier-comparison workload of the serving notebook.

:class:`CachedServer` wraps a started DynamicBatcher or ContinuousBatcher: a request whose key (model + load-time
config + prompt + greedy sampling) is in a tier is answered from it — its handle streams the cached tokens at once
and records which tier answered (``cache_tier``) — and a miss goes to the batcher, its result written through to
every tier afterwards (in a worker thread, so disk/Redis writes never stall the event loop). Lookups are
synchronous: L1/L2 answer in microseconds to a millisecond, and L3 is bounded by ``redis_timeout_s`` (a Redis outage
degrades to a counted miss, see docs/cache.md).

:func:`cache_tier_workload` sends a Zipf-popularity stream through several tier configurations on a virtual clock
and returns one row per request with a ``cache.tiers`` column, ready for ``summarize_cache_workload(by=...)``.

Example:
    >>> rows = cache_tier_workload([("memory",), ("memory", "disk")], n_unique=50, n_requests=300,
    ...                            memory_max_bytes=4_000)
    >>> from blaze_lab.cache import summarize_cache_workload
    >>> s = summarize_cache_workload(rows, by="cache.tiers")
    >>> list(s["cache.tiers"]), bool(s["hit_rate"].iloc[1] >= s["hit_rate"].iloc[0])
    (['memory', 'memory+disk'], True)
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from blaze_lab.cache.codec import CachedResult
from blaze_lab.cache.keys import cache_key
from blaze_lab.cache.tiered import CacheConfig, TieredCache
from blaze_lab.clock import Clock, VirtualClock
from blaze_lab.errors import ConfigError
from blaze_lab.secrets import Secret
from blaze_lab.serving.handles import OK, RequestHandle

# Nominal per-tier lookup costs for the simulated workload (seconds): an in-process dict, a local SQLite read,
# a Redis round trip on localhost. Pass measured values (CachedServer stats) to replace them.
NOMINAL_TIER_COST_S: dict[str, float] = {"memory": 5e-6, "disk": 2e-4, "redis": 4e-4}


def open_cache(
    tiers: Sequence[str],
    *,
    redis_url: Secret | str,
    clock: Clock | None = None,
    disk_path: str = "",
    field: str = "serving",
) -> TieredCache:
    """A TieredCache for ``tiers``; an unreachable Redis raises ConfigError naming ``<field>.redis_url``."""
    cfg = CacheConfig(tiers=tuple(tiers), redis_url=redis_url, disk_path=disk_path, redis_required=True)
    try:
        return TieredCache.from_config(cfg, clock=clock)
    except ConfigError as exc:
        if exc.field.endswith("redis_url"):
            # exc.value is the redacted URL; never re-raise with the raw one.
            raise ConfigError(f"{field}.redis_url", exc.value, reason=exc.reason or str(exc)) from None
        raise


class CachedServer:
    """A result cache in front of a started batcher (same ``submit`` interface; see the module docstring)."""

    def __init__(self, server: Any, cache: TieredCache, model: str, load_config: Mapping[str, Any]) -> None:
        self.server = server
        self.cache = cache
        self.model = model
        self.load_config = dict(load_config)
        self._writes: set[asyncio.Future[None]] = set()

    @property
    def clock(self) -> Clock:
        return self.server.clock

    def submit(self, prompt: str, max_new_tokens: int | None = None) -> RequestHandle:
        n = max_new_tokens if max_new_tokens is not None else self.server.default_new_tokens
        key = cache_key(self.model, self.load_config, prompt, {"do_sample": False, "max_new_tokens": n})
        found = self.cache.lookup(key)
        if found.hit and isinstance(found.value, CachedResult):
            handle = RequestHandle(-1, prompt, n, 0, self.clock)
            handle.start_t = handle.submit_t
            handle.cache_tier = found.tier or ""
            t = self.clock.now() - handle.submit_t
            for tok in found.value.token_ids:
                handle._push(tok, t)
            handle._end(OK, text=found.value.text)
            return handle
        handle = self.server.submit(prompt, n)
        handle._done.add_done_callback(lambda fut: self._store(key, fut))
        return handle

    def _store(self, key: str | None, fut: asyncio.Future[Any]) -> None:
        if key is None or fut.cancelled():
            return
        result = fut.result()
        if result.outcome != OK:
            return
        value = CachedResult(text=result.text, token_ids=list(result.token_ids))
        write = asyncio.get_running_loop().run_in_executor(None, self.cache.set, key, value)
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)

    async def flush(self) -> None:
        """Wait for pending write-throughs."""
        if self._writes:
            await asyncio.gather(*list(self._writes))


def cache_tier_workload(
    tier_sets: Sequence[Sequence[str]],
    *,
    n_unique: int = 200,
    n_requests: int = 2000,
    s: float = 1.1,
    service_s: float = 0.25,
    memory_max_bytes: int = 20_000,
    value_chars: int = 200,
    ttl_s: float | None = None,
    redis_url: Secret | str = "redis://127.0.0.1:6379/0",
    tier_cost_s: Mapping[str, float] | None = None,
    disk_dir: str | Path | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-request rows of one Zipf stream served through each tier configuration (virtual time).

    ``service_s`` is the engine's time for a miss (use a measured mean E2E); each tier consulted costs
    ``tier_cost_s`` (default :data:`NOMINAL_TIER_COST_S`). A small ``memory_max_bytes`` makes L1 evict, which is
    where L2/L3 earn their keep. Redis configurations start degraded (warned, counted) when no server answers.
    """
    from blaze_lab.cache.workload import simulate_cache_workload, zipf_keys

    keys = zipf_keys(n_unique, n_requests, s=s, seed=seed)
    costs = dict(NOMINAL_TIER_COST_S if tier_cost_s is None else tier_cost_s)
    frames = []
    with tempfile.TemporaryDirectory(prefix="blaze-cache-") as tmp:
        base = Path(disk_dir) if disk_dir is not None else Path(tmp)
        for i, tiers in enumerate(tier_sets):
            clock = VirtualClock()
            cfg = CacheConfig(
                tiers=tuple(tiers), max_bytes=memory_max_bytes, ttl_s=ttl_s, redis_url=redis_url,
                redis_required=False, disk_path=str(base / f"tiers{i}.sqlite"),
                namespace=f"blaze_lab:workload:{seed}:{i}",
            )
            cache = TieredCache.from_config(cfg, clock=clock)
            label = "+".join(t.name for t in cache.tiers)

            def compute(key: str | None, clock: VirtualClock = clock) -> dict[str, str]:
                clock.sleep_sync(service_s)
                return {"text": (key or "") * max(1, value_chars // max(1, len(key or "x")))}

            try:
                rows = simulate_cache_workload(
                    cache, keys, compute, clock, tier_cost_s={t.name: costs.get(t.name, 0.0) for t in cache.tiers}
                )
                if "redis" in tiers:
                    for key in dict.fromkeys(keys):
                        cache.delete(key)  # leave a shared server as we found it
            finally:
                cache.close()
            rows.insert(0, "cache.tiers", label)
            frames.append(rows)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


__all__ = ["NOMINAL_TIER_COST_S", "CachedServer", "cache_tier_workload", "open_cache"]
