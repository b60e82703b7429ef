"""Authentication tags for shared cache entries (L2 SQLite file, L3 Redis): HMAC-SHA256 under a secret key.

The sha256 checksum stored with every entry detects *corruption*: anyone able to write the file or the server can
recompute it, so it says nothing about who wrote the entry. With a key (``CacheConfig.hmac_key``, best given as
``{env: BLAZE_LAB_CACHE_KEY}``) each entry also carries ``HMAC(key, cache key, expiry, value)``; an entry whose
tag is missing or wrong is never served — it counts as ``tampered`` and a miss. Binding the cache key means a valid
entry cannot be copied under another key; binding the expiry means its lifetime cannot be extended. Not covered:
whoever can read the key can forge entries, and an old valid entry for the *same* key and expiry can be written
back (replay) until it expires. Without a key, tags are neither written nor checked.

Example:
    >>> auth = EntryAuth("correct horse battery staple")
    >>> tag = auth.tag("k1", None, b'{"v":1}')
    >>> auth.verify("k1", None, b'{"v":1}', tag), auth.verify("k2", None, b'{"v":1}', tag)
    (True, False)
    >>> auth
    EntryAuth(key=Secret('***'))
"""

from __future__ import annotations

import hashlib
import hmac

from blaze_lab.errors import ConfigError
from blaze_lab.secrets import Secret

MIN_KEY_CHARS = 16
"""Shorter keys are refused: they would be guessable offline from one planted-and-observed entry."""

_DOMAIN = b"blaze_lab.cache.entry.v1"


def _field(data: bytes) -> bytes:
    # Length-prefixed, so no choice of key / expiry / value can shift bytes from one field into another.
    return len(data).to_bytes(8, "big") + data


def expiry_text(expires_at: float | None) -> str:
    """The canonical text of an expiry (``repr`` of the float round-trips through SQLite REAL and Redis)."""
    return "" if expires_at is None else repr(float(expires_at))


class EntryAuth:
    """Computes and checks entry tags; ``key`` is a Secret (kind ``key``), a str or bytes."""

    def __init__(self, key: Secret | str | bytes, *, field: str = "cache.hmac_key") -> None:
        raw = key.reveal() if isinstance(key, Secret) else key
        material = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        if len(material) < MIN_KEY_CHARS:
            raise ConfigError(
                field,
                "***",
                reason=f"an HMAC key needs at least {MIN_KEY_CHARS} characters "
                "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')",
            )
        self._key = material

    def tag(self, cache_key: str, expires_at: float | None, value: bytes) -> str:
        message = _DOMAIN + _field(cache_key.encode("utf-8")) + _field(expiry_text(expires_at).encode()) + value
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, cache_key: str, expires_at: float | None, value: bytes, tag: object) -> bool:
        """Whether ``tag`` is this key's tag for the entry (constant-time compare; a missing tag is False)."""
        if isinstance(tag, bytes):
            tag = tag.decode("ascii", errors="replace")
        if not isinstance(tag, str):
            return False
        return hmac.compare_digest(self.tag(cache_key, expires_at, value), tag)

    def __repr__(self) -> str:
        return "EntryAuth(key=Secret('***'))"


def entry_auth(key: Secret | str | bytes | None, *, field: str = "cache.hmac_key") -> EntryAuth | None:
    """``EntryAuth(key)``, or None when no key is configured (entries are then only checksummed)."""
    return None if key is None else EntryAuth(key, field=field)


__all__ = ["MIN_KEY_CHARS", "EntryAuth", "entry_auth", "expiry_text"]
