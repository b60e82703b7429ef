"""L3: a Redis server the user names (default ``redis://127.0.0.1:6379/0``), through redis-py.

Redis is optional and shared, so it must never fail a request. Start-up is strict: an unreachable URL raises
:class:`~blaze_lab.errors.ConfigError` naming the URL (``required=False`` starts degraded instead, with a
``RuntimeWarning`` and a counted error). Mid-run, every Redis failure (refused, reset, timeout) is counted in
``errors``, answered as miss / no-op, and opens a backoff window on the injected clock (doubling up to
``max_backoff_s``) during which the tier is skipped (``skipped``) instead of paying a socket timeout per request.
After the window the next operation tries again; redis-py reconnects by itself.

Entries are hashes ``{v: bytes, sum: sha256, exp: wall-clock expiry or ""}`` plus ``tag`` (HMAC over key, expiry
and value) when an ``hmac_key`` is set; then an entry without a valid tag is a miss counted as ``tampered``, never
served (see :mod:`blaze_lab.cache.auth`). The stored expiry is checked against the clock's ``wall()`` (so a
VirtualClock expires entries in tests); a native ``PEXPIRE`` is set too so a shared server reclaims memory on its own.

The URL is a :class:`~blaze_lab.secrets.Secret` (a str is wrapped): it is revealed only to open the connection, and
every message this tier produces (errors, warnings, ``last_error``) is scrubbed of it.

Example (needs a running redis-server):
    >>> l3 = RedisTier("redis://127.0.0.1:6379/0", required=False)  # doctest: +SKIP
    >>> l3.set("k", b"v", ttl_s=60)  # doctest: +SKIP
    >>> l3.get("k")  # doctest: +SKIP
    Hit(value=b'v', ttl_left_s=60.0)
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import warnings
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from blaze_lab.cache.auth import EntryAuth, entry_auth, expiry_text
from blaze_lab.cache.tier import Hit, TierStats
from blaze_lab.clock import Clock, RealClock
from blaze_lab.errors import ConfigError
from blaze_lab.secrets import Secret, redact_url

log = logging.getLogger(__name__)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_FAILURES = (redis.RedisError, OSError)


class RedisTier:
    """Redis-backed tier that degrades (miss / no-op + counted error + backoff) instead of raising."""

    def __init__(
        self,
        url: Secret | str = DEFAULT_REDIS_URL,
        *,
        required: bool = True,
        clock: Clock | None = None,
        timeout_s: float = 0.25,
        namespace: str = "blaze_lab:result",
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        name: str = "redis",
        hmac_key: Secret | str | bytes | None = None,
        field: str = "cache.redis_url",
    ) -> None:
        self.name = name
        # literal=True: Python callers may pass a literal URL; specs are refused earlier, in from_dict.
        self.url = Secret.parse(url, field=field)
        """The server's URL as a Secret (prints redacted)."""
        self._auth: EntryAuth | None = entry_auth(hmac_key)
        self._warned_tampered = False
        self.namespace = namespace
        self.clock: Clock = clock or RealClock()
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._stats = TierStats(self.clock)
        self._lock = threading.Lock()
        self._failures = 0  # consecutive failures; sets the next backoff
        self._down_until: float | None = None
        self.last_error = ""
        if not self.url.reveal().startswith(REDIS_SCHEMES):
            raise ConfigError(field, self.url.redacted, allowed=list(REDIS_SCHEMES))
        try:
            # Short timeouts and no client-side retries: the backoff below decides when to try again, so a dead
            # server costs one timeout per window instead of one (times retries) per request.
            self._client = redis.Redis.from_url(
                self.url.reveal(),  # the one place the credential is used
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
            reason = self._parse_failure(exc)
            raise ConfigError(field, self.url.redacted, reason=reason, allowed=list(REDIS_SCHEMES)) from None
        if not self._parsed_as_shown():
            self._client.close()
            raise ConfigError(
                field,
                self.url.redacted,
                reason="redis-py reads another server than the one after the last '@' (a password with an unencoded "
                "'/', '?' or '#'); percent-encode those characters in the password",
            )
        try:
            self._client.ping()
        except TypeError as exc:  # an unknown ?option= reaches the connection class only now
            self._client.close()
            reason = f"unsupported URL option ({self.url.scrub(str(exc))})"
            raise ConfigError(field, self.url.redacted, reason=reason) from None
        except _FAILURES as exc:
            message = f"cannot connect to Redis at {self.url} ({self.url.scrub(str(exc)).rstrip('.')})"
            if required:
                self._client.close()
                raise ConfigError(
                    field,
                    self.url.redacted,
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
            self.last_error = self._describe(exc)
            delay = min(self.max_backoff_s, self.backoff_s * 2**self._failures)
            self._failures += 1
            self._down_until = self.clock.now() + delay

    def _ok(self) -> None:
        with self._lock:
            self._failures = 0
            self._down_until = None

    def _parsed_as_shown(self) -> bool:
        """Whether redis-py connects where the redacted URL says (else its messages would quote the password)."""
        if not self.url.is_credential:
            return True
        location = re.split(r"[?#]", self.url.reveal().rpartition("@")[2])[0]
        kwargs = self._client.connection_pool.connection_kwargs
        target = kwargs.get("path") or kwargs.get("host") or ""
        return str(target) in location

    def _parse_failure(self, exc: ValueError) -> str:
        # redis-py quotes pieces of the URL it could not parse ("Port could not be cast ... as 'w'"); when an
        # unencoded '/', '?' or '#' splits a password, such a piece is part of it, so do not repeat it.
        if self.url.is_credential:
            return (
                "redis-py cannot parse it (message withheld: it may quote the password); "
                "percent-encode '/', '?', '#' and '%' in the password"
            )
        return str(exc)

    def _describe(self, exc: BaseException) -> str:
        return f"{type(exc).__name__}: {self.url.scrub(str(exc))}"

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
                self.last_error = self._describe(exc)
                self._drop(key, "corrupt")
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
                self._drop(key, "corrupt")
                return None
            try:
                expires_at = float(exp) if exp else None
            except ValueError:
                self._drop(key, "corrupt")
                return None
            if self._auth is not None and not self._auth.verify(key, expires_at, value, fields.get(b"tag")):
                if not self._warned_tampered:
                    self._warned_tampered = True
                    log.warning("redis tier %s: rejected an entry without a valid HMAC tag (tampered)", self.url)
                self._drop(key, "tampered")
                return None
            wall = self.clock.wall()
            if expires_at is not None and wall >= expires_at:
                self._drop(key, "expirations")
                return None
            self._stats.add("hits")
            return Hit(value, None if expires_at is None else expires_at - wall)

    def _drop(self, key: str, counter: str) -> None:
        """A miss that removes the entry: ``corrupt`` (also an error), ``tampered`` or ``expirations``."""
        self._stats.add(counter)
        if counter == "corrupt":
            self._stats.add("errors")
        self._stats.add("misses")
        self._delete_quietly(key)

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        if ttl_s is not None and ttl_s <= 0:
            return
        if not self._available():
            return
        with self._stats.timed("set"):
            self._stats.add("sets")
            expires_at = None if ttl_s is None else self.clock.wall() + ttl_s
            mapping = {"v": value, "sum": hashlib.sha256(value).hexdigest(), "exp": expiry_text(expires_at)}
            if self._auth is not None:
                mapping["tag"] = self._auth.tag(key, expires_at, value)
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
        row["authenticated"] = self._auth is not None
        return row

    def close(self) -> None:
        self._client.close()


__all__ = ["DEFAULT_REDIS_URL", "REDIS_SCHEMES", "RedisTier", "redact_url"]
