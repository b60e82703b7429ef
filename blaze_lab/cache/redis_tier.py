"""L3: a Redis server the user names (default ``redis://127.0.0.1:6379/0``), through redis-py.

Redis is optional and shared, so it must never fail a request. Start-up is strict: an unreachable URL raises
:class:`~blaze_lab.errors.ConfigError` naming the URL (``required=False`` starts degraded instead, with a
``RuntimeWarning`` and a counted error). Mid-run, every Redis failure (refused, reset, timeout) is counted in
``errors``, answered as miss / no-op, and opens a backoff window on the injected clock (doubling up to
``max_backoff_s``) during which the tier is skipped (``skipped``) instead of paying a socket timeout per request.
After the window the next operation tries again; redis-py reconnects by itself.

Entries are hashes ``{v: bytes, sum: sha256, exp: wall-clock expiry or ""}``. The stored expiry is checked against
the clock's ``wall()`` (so a VirtualClock expires entries in tests); a native ``PEXPIRE`` is set too so a shared
server reclaims memory on its own.

Example (needs a running redis-server):
    >>> l3 = RedisTier("redis://127.0.0.1:6379/0", required=False)  # doctest: +SKIP
    >>> l3.set("k", b"v", ttl_s=60)  # doctest: +SKIP
    >>> l3.get("k")  # doctest: +SKIP
    Hit(value=b'v', ttl_left_s=60.0)
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import warnings
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from blaze_lab.cache.tier import Hit, TierStats
from blaze_lab.clock import Clock, RealClock
from blaze_lab.errors import ConfigError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
_FAILURES = (redis.RedisError, OSError)


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (error messages and stats must not leak it)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


class RedisTier:
    """Redis-backed tier that degrades (miss / no-op + counted error + backoff) instead of raising."""

    def __init__(
        self,
        url: str = DEFAULT_REDIS_URL,
        *,
        required: bool = True,
        clock: Clock | None = None,
        timeout_s: float = 0.25,
        namespace: str = "blaze_lab:result",
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        name: str = "redis",
    ) -> None:
        self.name = name
        self.url = url
        self.namespace = namespace
        self.clock: Clock = clock or RealClock()
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._stats = TierStats(self.clock)
        self._lock = threading.Lock()
        self._failures = 0  # consecutive failures; sets the next backoff
        self._down_until: float | None = None
        self.last_error = ""
        try:
            # Short timeouts and no client-side retries: the backoff below decides when to try again, so a dead
            # server costs one timeout per window instead of one (times retries) per request.
            self._client = redis.Redis.from_url(
                url,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                retry=Retry(NoBackoff(), 0),
                retry_on_timeout=False,
                health_check_interval=0,
            )
            # Values are checksummed bytes: a "?decode_responses=true" in the URL (URL options beat keyword
            # arguments in from_url) would hand back str and make every entry look corrupt.
            self._client.connection_pool.connection_kwargs["decode_responses"] = False
        except ValueError as exc:
            raise ConfigError(
                "cache.redis_url", redact_url(url), reason=str(exc), allowed=["redis://", "rediss://", "unix://"]
            ) from None
        try:
            self._client.ping()
        except _FAILURES as exc:
            message = f"cannot connect to Redis at {redact_url(url)} ({str(exc).rstrip('.')})"
            if required:
                raise ConfigError(
                    "cache.redis_url",
                    redact_url(url),
                    reason=f"{message}; start redis-server there, fix the URL, or pass required=False",
                ) from None
            self._failed(exc)
            warnings.warn(f"{message}; the redis tier starts degraded", RuntimeWarning, stacklevel=2)

    # -- degradation -------------------------------------------------------------------------------------------
    @property
    def degraded(self) -> bool:
        """True while inside a backoff window after a failure."""
        return self._down_until is not None and self.clock.now() < self._down_until

    def _available(self) -> bool:
        with self._lock:
            if self._down_until is not None and self.clock.now() < self._down_until:
                self._stats.add("skipped")
                return False
            return True

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self._stats.add("errors")
            self.last_error = f"{type(exc).__name__}: {exc}"
            delay = min(self.max_backoff_s, self.backoff_s * 2**self._failures)
            self._failures += 1
            self._down_until = self.clock.now() + delay

    def _ok(self) -> None:
        with self._lock:
            self._failures = 0
            self._down_until = None

    def _key(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    # -- protocol ----------------------------------------------------------------------------------------------
    def get(self, key: str) -> Hit | None:
        if not self._available():
            return None
        with self._stats.timed("get"):
            try:
                fields: dict[bytes, bytes] = self._client.hgetall(self._key(key))  # type: ignore[assignment]
            except redis.ResponseError as exc:
                # The server answered (e.g. WRONGTYPE: someone stored a non-hash under our key): a bad entry,
                # not an outage, so no backoff.
                self._stats.add("corrupt")
                self._stats.add("errors")
                self._stats.add("misses")
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._delete_quietly(key)
                return None
            except _FAILURES as exc:
                self._failed(exc)
                return None
            self._ok()
            if not fields:
                self._stats.add("misses")
                return None
            value, checksum, exp = fields.get(b"v"), fields.get(b"sum"), fields.get(b"exp")
            if value is None or checksum is None or hashlib.sha256(value).hexdigest().encode() != checksum:
                self._stats.add("corrupt")
                self._stats.add("errors")
                self._stats.add("misses")
                self._delete_quietly(key)
                return None
            expires_at = float(exp) if exp else None
            wall = self.clock.wall()
            if expires_at is not None and wall >= expires_at:
                self._stats.add("expirations")
                self._stats.add("misses")
                self._delete_quietly(key)
                return None
            self._stats.add("hits")
            return Hit(value, None if expires_at is None else expires_at - wall)

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        if ttl_s is not None and ttl_s <= 0:
            return
        if not self._available():
            return
        with self._stats.timed("set"):
            self._stats.add("sets")
            expires_at = "" if ttl_s is None else repr(self.clock.wall() + ttl_s)
            mapping = {"v": value, "sum": hashlib.sha256(value).hexdigest(), "exp": expires_at}
            try:
                pipe = self._client.pipeline(transaction=True)
                pipe.delete(self._key(key))  # drops any native expiry of an older version
                pipe.hset(self._key(key), mapping=mapping)  # type: ignore[arg-type]
                if ttl_s is not None:
                    pipe.pexpire(self._key(key), max(1, math.ceil(ttl_s * 1000)))
                pipe.execute()
            except _FAILURES as exc:
                self._failed(exc)
                return
            self._ok()

    def _delete_quietly(self, key: str) -> None:
        try:
            self._client.delete(self._key(key))
        except _FAILURES as exc:
            self._failed(exc)

    def delete(self, key: str) -> None:
        if not self._available():
            return
        try:
            removed = self._client.delete(self._key(key))
        except _FAILURES as exc:
            self._failed(exc)
            return
        self._ok()
        if removed:
            self._stats.add("deletes")

    def stats(self) -> dict[str, Any]:
        # Entry counts would need a SCAN over a shared server; not worth a round trip per stats call.
        row = self._stats.snapshot(self.name, None, None)
        row["degraded"] = self.degraded
        row["last_error"] = self.last_error
        return row

    def close(self) -> None:
        self._client.close()


__all__ = ["DEFAULT_REDIS_URL", "RedisTier", "redact_url"]
