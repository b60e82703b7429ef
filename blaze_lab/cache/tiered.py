"""TieredCache: read-through from the fastest tier, promotion on a lower hit, write-through to every tier.

The result cache sits in front of an engine: ``cache_key(...)`` names a deterministic request, ``get_or_compute``
answers it from the fastest tier that has it (L1 memory -> L2 disk -> L3 Redis), copies the answer up into the
faster tiers it missed (keeping the original expiry), and on a full miss computes it and writes it to all tiers.
A tier failure is that tier's problem — counted in its stats, answered as a miss — never a failed request.

Example:
    >>> import tempfile
    >>> from blaze_lab.clock import VirtualClock
    >>> cfg = CacheConfig(tiers=("memory", "disk"), ttl_s=60, disk_path=tempfile.mkdtemp() + "/r.sqlite")
    >>> cache = TieredCache.from_config(cfg, clock=VirtualClock())
    >>> cache.get_or_compute("k1", lambda: {"text": "hello"})
    {'text': 'hello'}
    >>> cache.lookup("k1").tier
    'memory'
    >>> cache.stats_frame()[["tier", "hits", "misses", "sets"]].to_dict("records")
    [{'tier': 'memory', 'hits': 1, 'misses': 1, 'sets': 1}, {'tier': 'disk', 'hits': 0, 'misses': 1, 'sets': 1}]
    >>> cache.close()
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import EllipsisType
from typing import Any, ClassVar, NamedTuple, TypeVar

import pandas as pd

from blaze_lab.cache.auth import entry_auth
from blaze_lab.cache.codec import decode, encode
from blaze_lab.cache.disk import DiskTier
from blaze_lab.cache.memory import MemoryTier
from blaze_lab.cache.redis_tier import DEFAULT_REDIS_URL, REDIS_SCHEMES, RedisTier
from blaze_lab.cache.tier import COUNTERS, CacheTier
from blaze_lab.clock import Clock, RealClock
from blaze_lab.config import BaseConfig, check_int, check_number, check_type, check_url
from blaze_lab.errors import CacheError, ConfigError
from blaze_lab.secrets import Secret

log = logging.getLogger(__name__)

T = TypeVar("T")

TIER_ORDER = ("memory", "disk", "redis")
"""Fastest first; :meth:`TieredCache.from_config` always stacks tiers in this order."""


@dataclasses.dataclass(frozen=True)
class CacheConfig(BaseConfig):
    """Result-cache settings (``cache.*`` columns).

    Fields:
        tiers: which tiers to stack, any of ``memory`` (L1), ``disk`` (L2), ``redis`` (L3); order is irrelevant
            (they are always read fastest first).
        max_bytes: L1 byte budget (keys + encoded values); LRU eviction beyond it.
        disk_max_bytes: L2 byte budget, ``None`` for unbounded.
        ttl_s: time to live of every entry in seconds, ``None`` for no expiry.
        disk_path: SQLite file of L2; ``""`` means ``<cache_dir>/results/results.sqlite``.
        redis_url: L3 server; only the address given here is ever contacted. A secret field: pass a URL with a
            password as ``{"env": NAME}`` in specs / mappings (a literal one is refused there); it prints redacted.
        redis_required: unreachable Redis at start is an error (True) or a degraded tier with a warning (False).
        redis_timeout_s: socket connect/read timeout of L3 operations.
        namespace: prefix of L3 keys (lets several projects share one server).
        hmac_key: optional secret (``{"env": "BLAZE_LAB_CACHE_KEY"}``, >= 16 characters): L2/L3 entries carry an
            HMAC tag and entries without a valid one are never served (``tampered``). None = checksums only.
    """

    PREFIX: ClassVar[str] = "cache"
    SECRET_FIELDS: ClassVar[Mapping[str, str]] = {"redis_url": "url", "hmac_key": "key"}

    tiers: tuple[str, ...] = ("memory", "disk")
    max_bytes: int = 64 * 2**20
    disk_max_bytes: int | None = None
    ttl_s: float | None = None
    disk_path: str = ""
    redis_url: Secret | str = DEFAULT_REDIS_URL
    redis_required: bool = True
    redis_timeout_s: float = 0.25
    namespace: str = "blaze_lab:result"
    hmac_key: Secret | str | None = None

    def validate(self) -> None:
        if not isinstance(self.tiers, tuple | list) or not self.tiers:
            raise ConfigError(self.field_name("tiers"), self.tiers, reason="empty", allowed=TIER_ORDER)
        for tier in self.tiers:
            if tier not in TIER_ORDER:
                raise ConfigError(self.field_name("tiers"), tier, allowed=TIER_ORDER)
        if len(set(self.tiers)) != len(self.tiers):
            raise ConfigError(self.field_name("tiers"), list(self.tiers), reason="a tier is listed twice")
        check_int(self, "max_bytes", minimum=1)
        if self.disk_max_bytes is not None:
            check_int(self, "disk_max_bytes", minimum=1)
        if self.ttl_s is not None:
            check_number(self, "ttl_s", minimum=0, strict_min=True)
        check_type(self, "disk_path", str)
        check_url(self, "redis_url", REDIS_SCHEMES)
        check_type(self, "redis_required", bool)
        check_number(self, "redis_timeout_s", minimum=0, strict_min=True)
        check_type(self, "namespace", str)
        entry_auth(self.secret("hmac_key"), field=self.field_name("hmac_key"))  # refuses a too-short key now

    def resolved_disk_path(self) -> Path:
        if self.disk_path:
            return Path(self.disk_path).expanduser()
        from blaze_lab.models.cache import cache_dir  # deferred: only needed for the default location

        return cache_dir() / "results" / "results.sqlite"


class Lookup(NamedTuple):
    """Result of :meth:`TieredCache.lookup`: ``hit`` False means a miss (``value`` None, ``tier`` None)."""

    hit: bool
    value: Any
    tier: str | None


_EXTRA = ("promotions", "decode_errors", "tier_exceptions")


class TieredCache:
    """A stack of tiers (fastest first) with read-through, promotion and write-through.

    Args:
        tiers: objects speaking :class:`~blaze_lab.cache.tier.CacheTier`, fastest first.
        ttl_s: default time to live for :meth:`set` (``None``: no expiry).
        clock: only used to time whole lookups; tiers carry their own clock for TTL.
    """

    def __init__(self, tiers: Sequence[CacheTier], *, ttl_s: float | None = None, clock: Clock | None = None) -> None:
        if not tiers:
            raise ConfigError("cache.tiers", [], reason="needs at least one tier", allowed=TIER_ORDER)
        names = [t.name for t in tiers]
        if len(set(names)) != len(names):
            raise ConfigError("cache.tiers", names, reason="tier names must be unique")
        self.tiers = list(tiers)
        self.ttl_s = ttl_s
        self.clock: Clock = clock or RealClock()
        self._lock = threading.Lock()
        self._extra = {t.name: dict.fromkeys(_EXTRA, 0) for t in self.tiers}
        self.requests = 0
        self.hits = 0
        self.uncacheable = 0

    @classmethod
    def from_config(cls, config: CacheConfig, clock: Clock | None = None) -> TieredCache:
        """Build the tiers named by ``config`` (memory, disk, redis order) sharing one clock.

        Raises ConfigError naming ``cache.redis_url`` when Redis is required and unreachable.
        """
        clock = clock or RealClock()
        tiers: list[CacheTier] = []
        try:
            for name in TIER_ORDER:
                if name not in config.tiers:
                    continue
                if name == "memory":
                    tiers.append(MemoryTier(max_bytes=config.max_bytes, clock=clock))
                elif name == "disk":
                    tiers.append(
                        DiskTier(
                            config.resolved_disk_path(),
                            max_bytes=config.disk_max_bytes,
                            clock=clock,
                            hmac_key=config.secret("hmac_key"),
                        )
                    )
                else:
                    tiers.append(
                        RedisTier(
                            config.redis_url,
                            required=config.redis_required,
                            clock=clock,
                            timeout_s=config.redis_timeout_s,
                            namespace=config.namespace,
                            hmac_key=config.secret("hmac_key"),
                        )
                    )
        except BaseException:
            cls(tiers or [MemoryTier(clock=clock)], clock=clock).close()  # do not leak an open SQLite file
            raise
        return cls(tiers, ttl_s=config.ttl_s, clock=clock)

    # -- tier calls that never raise ---------------------------------------------------------------------------
    def _count(self, tier: CacheTier, counter: str) -> None:
        with self._lock:
            self._extra[tier.name][counter] += 1

    def _safe(self, tier: CacheTier, op: Callable[..., T], *args: Any) -> T | None:
        # Tiers count their own operational failures; this catches what escapes anyway (a bug or an unexpected
        # library exception) so that one broken tier still cannot fail a request.
        try:
            return op(*args)
        except Exception as exc:
            self._count(tier, "tier_exceptions")
            log.warning("cache tier %s raised %s: %s", tier.name, type(exc).__name__, exc)
            return None

    # -- public API --------------------------------------------------------------------------------------------
    def lookup(self, key: str | None) -> Lookup:
        """Read through the tiers; promote a hit into the faster tiers that missed. ``key=None`` is a miss."""
        with self._lock:
            self.requests += 1
            if key is None:
                self.uncacheable += 1
        if key is None:
            return Lookup(False, None, None)
        for depth, tier in enumerate(self.tiers):
            hit = self._safe(tier, tier.get, key)
            if hit is None:
                continue
            try:
                value = decode(hit.value)
            except CacheError as exc:
                # Bytes intact as stored but not a valid envelope (written by something else): drop, keep looking.
                self._count(tier, "decode_errors")
                log.warning("cache tier %s: undecodable entry %s dropped (%s)", tier.name, key[:16], exc)
                self._safe(tier, tier.delete, key)
                continue
            for faster in self.tiers[:depth]:
                self._safe(faster, faster.set, key, hit.value, hit.ttl_left_s)
                self._count(faster, "promotions")
            with self._lock:
                self.hits += 1
            return Lookup(True, value, tier.name)
        return Lookup(False, None, None)

    def get(self, key: str | None, default: Any = None) -> Any:
        """The cached value or ``default``."""
        found = self.lookup(key)
        return found.value if found.hit else default

    def set(self, key: str | None, value: Any, ttl_s: float | EllipsisType | None = ...) -> None:
        """Write ``value`` to every tier (``key=None``: not cacheable, ignored). ``ttl_s`` defaults to the cache's.

        Raises CacheError only for a value that is not JSON data (a programming error, not an outage).
        """
        if key is None:
            return
        raw = encode(value)
        ttl = self.ttl_s if ttl_s is ... else ttl_s
        for tier in self.tiers:
            self._safe(tier, tier.set, key, raw, ttl)

    def delete(self, key: str) -> None:
        for tier in self.tiers:
            self._safe(tier, tier.delete, key)

    def get_or_compute(self, key: str | None, compute: Callable[[], T]) -> T:
        """Cached value for ``key``, else ``compute()`` stored in every tier. ``key=None`` always computes."""
        found = self.lookup(key)
        if found.hit:
            return found.value
        value = compute()
        self.set(key, value)
        return value

    # -- stats -------------------------------------------------------------------------------------------------
    def stats_frame(self) -> pd.DataFrame:
        """One row per tier (``level`` 1 = fastest): hits, misses, errors, evictions, bytes, get/set latency ...

        ``errors`` includes entries that failed to decode and exceptions that escaped the tier.
        """
        rows = []
        for level, tier in enumerate(self.tiers, start=1):
            try:
                row = dict(tier.stats())
            except Exception as exc:  # reading stats must not count as (or cause) a request failure
                log.warning("cache tier %s: stats unavailable (%s)", tier.name, exc)
                row = {"tier": tier.name, **dict.fromkeys(COUNTERS, 0)}
            extra = self._extra[tier.name]
            row.update(extra)
            row["errors"] = row.get("errors", 0) + extra["decode_errors"] + extra["tier_exceptions"]
            row["level"] = level
            rows.append(row)
        frame = pd.DataFrame(rows)
        first = ["tier", "level", "hits", "misses", "hit_rate", "errors", "evictions", "expirations", "bytes"]
        return frame[first + [c for c in frame.columns if c not in first]]

    def overall(self) -> dict[str, Any]:
        """Request-level totals: requests, hits, misses, hit_rate, uncacheable (key None)."""
        with self._lock:
            requests, hits, uncacheable = self.requests, self.hits, self.uncacheable
        return {
            "requests": requests,
            "hits": hits,
            "misses": requests - hits,
            "hit_rate": hits / requests if requests else float("nan"),
            "uncacheable": uncacheable,
        }

    def close(self) -> None:
        for tier in self.tiers:
            close = getattr(tier, "close", None)
            if close is not None:
                self._safe(tier, close)


__all__ = ["TIER_ORDER", "CacheConfig", "Lookup", "TieredCache"]
