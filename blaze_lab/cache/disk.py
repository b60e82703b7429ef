"""L2: results on disk in one SQLite file (stdlib ``sqlite3``, WAL mode).

Each row keeps the value bytes with their length and sha256, so a truncated or overwritten entry is detected on
read, deleted and answered as a miss (counted in ``corrupt`` and ``errors``) — a damaged cache file must never
fail a request. A file SQLite itself calls damaged (not a database, malformed image, or an ``entries`` table of
another shape) — at start or mid-run — is **quarantined**: renamed aside to ``<name>.corrupt-<UTC time>`` with its
``-wal``/``-shm`` companions, counted in ``quarantined``, logged once, and replaced by a fresh file. Only a path
that cannot be opened at all (a directory, no permission) is a ``ConfigError``.

With an HMAC key (:mod:`blaze_lab.cache.auth`) every row also carries a tag over key, expiry and value; a row
without a valid tag is never served (``tampered``). Expiry is stored as wall-clock seconds from the injected clock's
``wall()``, so entries outlive the process and expire across restarts. An optional byte budget evicts expired rows
first, then the least recently read. One connection guarded by a lock makes the tier safe for many threads of one
process; WAL plus a busy timeout lets other processes read while one writes.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.sqlite"
    >>> l2 = DiskTier(path)
    >>> l2.set("k", b'{"v":1}')
    >>> l2.get("k").value
    b'{"v":1}'
    >>> l2.close()
    >>> _ = path.write_bytes(b"not a database" * 100)   # damaged between runs
    >>> l2 = DiskTier(path)                               # quarantined, fresh file
    >>> l2.stats()["quarantined"], l2.get("k") is None
    (1, True)
    >>> l2.close()
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from blaze_lab.cache.auth import EntryAuth, entry_auth
from blaze_lab.cache.tier import Hit, TierStats
from blaze_lab.clock import Clock, RealClock
from blaze_lab.errors import ConfigError
from blaze_lab.secrets import Secret

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    size INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    expires_at REAL,
    accessed_at REAL NOT NULL,
    tag TEXT
)
"""
_COLUMNS = {"key", "value", "size", "checksum", "expires_at", "accessed_at"}
# SQLite's verdicts on the file itself (as opposed to locks, permissions or a bad path).
_DAMAGED = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}


class _Damaged(Exception):
    """The file is not a usable cache database (quarantine it)."""


def _checksum(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def _damaged(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and getattr(exc, "sqlite_errorname", "") in _DAMAGED


class DiskTier:
    """SQLite-backed tier; ``max_bytes=None`` means no budget (only TTL removes entries).

    ``hmac_key`` (a :class:`~blaze_lab.secrets.Secret`, str or bytes) turns on entry authentication.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int | None = None,
        clock: Clock | None = None,
        name: str = "disk",
        busy_timeout_s: float = 5.0,
        hmac_key: Secret | str | bytes | None = None,
    ) -> None:
        if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1):
            raise ConfigError("cache.disk_max_bytes", max_bytes, reason="must be an integer >= 1 or None")
        self.name = name
        self.path = Path(path).expanduser()
        self.max_bytes = max_bytes
        self.clock: Clock = clock or RealClock()
        self.busy_timeout_s = busy_timeout_s
        self._auth: EntryAuth | None = entry_auth(hmac_key)
        self._stats = TierStats(self.clock)
        self._lock = threading.Lock()
        self._warned_tampered = False
        self.quarantined: list[Path] = []
        """Where damaged files were moved (oldest first)."""
        try:
            self._conn: sqlite3.Connection | None = self._open()
        except _Damaged as exc:
            self._quarantine(str(exc))
            self._conn = self._open_fresh()

    # -- opening and quarantine --------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        """Connect and check the schema; raises _Damaged for a damaged file, ConfigError for an unusable path."""
        conn = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False: the lock serializes use across threads.
            conn = sqlite3.connect(
                str(self.path), timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(entries)")}
            if not columns >= _COLUMNS:
                raise _Damaged(f"entries table has columns {sorted(columns)}, not a blaze_lab result cache")
            if "tag" not in columns:  # written by a version without authentication tags
                conn.execute("ALTER TABLE entries ADD COLUMN tag TEXT")
            return conn
        except (OSError, sqlite3.Error, _Damaged) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, _Damaged):
                raise
            if _damaged(exc):
                raise _Damaged(f"{exc} ({getattr(exc, 'sqlite_errorname', '')})") from None
            raise ConfigError("cache.disk_path", str(self.path), reason=f"cannot open SQLite cache: {exc}") from None

    def _open_fresh(self) -> sqlite3.Connection:
        try:
            return self._open()
        except _Damaged as exc:  # the file was just moved away: something else is writing garbage there
            reason = f"fresh cache file is damaged too: {exc}"
            raise ConfigError("cache.disk_path", str(self.path), reason=reason) from None

    def _quarantine(self, reason: str) -> None:
        """Move the damaged file (and its WAL / shared-memory files) aside; the next open creates a fresh one."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock.wall()))
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            # A stale WAL left beside a fresh database would be replayed into it: move companions first.
            for suffix in ("-wal", "-shm"):
                companion = self.path.with_name(self.path.name + suffix)
                if companion.exists():
                    companion.rename(target.with_name(target.name + suffix))
            self.path.rename(target)
        except OSError as exc:
            why = f"damaged SQLite cache ({reason}) cannot be moved aside: {exc}"
            raise ConfigError("cache.disk_path", str(self.path), reason=why) from None
        self.quarantined.append(target)
        self._stats.add("errors")
        log.warning("result cache %s is damaged (%s): moved to %s, starting a fresh file", self.path, reason, target)

    def _recover(self, exc: sqlite3.Error) -> None:
        """Mid-run: a damaged file is quarantined and replaced (caller holds the lock); anything else is counted."""
        self._stats.add("errors")
        if not _damaged(exc) or self._conn is None:
            return
        self._conn.close()
        self._conn = None
        try:
            self._quarantine(str(exc))
            self._conn = self._open_fresh()
        except ConfigError as err:  # the tier stays off (every operation a counted miss / no-op)
            log.warning("result cache %s disabled: %s", self.path, err)

    # -- protocol ----------------------------------------------------------------------------------------------
    def get(self, key: str) -> Hit | None:
        with self._stats.timed("get"), self._lock:
            if self._conn is None:
                self._stats.add("errors")
                self._stats.add("misses")
                return None
            try:
                row = self._conn.execute(
                    "SELECT value, size, checksum, expires_at, tag FROM entries WHERE key = ?", (key,)
                ).fetchone()
                if row is None:
                    self._stats.add("misses")
                    return None
                value, size, checksum, expires_at, tag = row
                if not self._intact(value, size, checksum):
                    self._drop(key, "corrupt")
                    self._stats.add("errors")
                    return None
                if self._auth is not None and not self._auth.verify(key, expires_at, value, tag):
                    self._drop(key, "tampered")
                    self._warn_tampered()
                    return None
                wall = self.clock.wall()
                if expires_at is not None and wall >= expires_at:
                    self._drop(key, "expirations")
                    return None
                self._conn.execute("UPDATE entries SET accessed_at = ? WHERE key = ?", (wall, key))
            except sqlite3.Error as exc:
                self._recover(exc)
                self._stats.add("misses")
                return None
            self._stats.add("hits")
            return Hit(bytes(value), None if expires_at is None else float(expires_at) - wall)

    def _drop(self, key: str, counter: str) -> None:
        assert self._conn is not None
        self._conn.execute("DELETE FROM entries WHERE key = ?", (key,))
        self._stats.add(counter)
        self._stats.add("misses")

    def _warn_tampered(self) -> None:
        if not self._warned_tampered:
            self._warned_tampered = True
            log.warning("result cache %s: rejected an entry without a valid HMAC tag (counted as tampered)", self.path)

    @staticmethod
    def _intact(value: Any, size: Any, checksum: Any) -> bool:
        """Whether a row still holds exactly the bytes written (type, length and sha256 all match)."""
        if not isinstance(value, bytes) or not isinstance(size, int) or not isinstance(checksum, str):
            return False
        return len(value) == size and _checksum(value) == checksum

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        with self._stats.timed("set"), self._lock:
            self._stats.add("sets")
            if ttl_s is not None and ttl_s <= 0:
                return
            if self._conn is None:
                self._stats.add("errors")
                return
            wall = self.clock.wall()
            expires_at = None if ttl_s is None else wall + ttl_s
            tag = None if self._auth is None else self._auth.tag(key, expires_at, value)
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO entries (key, value, size, checksum, expires_at, accessed_at, tag)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key, sqlite3.Binary(value), len(value), _checksum(value), expires_at, wall, tag),
                )
                if self.max_bytes is not None:
                    self._make_room(wall)
            except sqlite3.Error as exc:
                self._recover(exc)

    def _make_room(self, wall: float) -> None:
        assert self._conn is not None
        total = self._conn.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()[0]
        if self.max_bytes is None or total <= self.max_bytes:
            return
        expired = self._conn.execute("DELETE FROM entries WHERE expires_at IS NOT NULL AND expires_at <= ?", (wall,))
        self._stats.add("expirations", max(expired.rowcount, 0))
        total = self._conn.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()[0]
        if total <= self.max_bytes:
            return
        # Oldest-read first; a running sum picks exactly the rows whose removal brings the total under budget.
        rows = self._conn.execute("SELECT key, size FROM entries ORDER BY accessed_at ASC, rowid ASC").fetchall()
        doomed = []
        for key, size in rows:
            if total <= self.max_bytes:
                break
            doomed.append((key,))
            total -= size
        self._conn.executemany("DELETE FROM entries WHERE key = ?", doomed)
        self._stats.add("evictions", len(doomed))

    def delete(self, key: str) -> None:
        with self._lock:
            if self._conn is None:
                self._stats.add("errors")
                return
            try:
                cur = self._conn.execute("DELETE FROM entries WHERE key = ?", (key,))
            except sqlite3.Error as exc:
                self._recover(exc)
                return
            if cur.rowcount > 0:
                self._stats.add("deletes")

    def stats(self) -> dict[str, Any]:
        entries: int | None = None
        nbytes: int | None = None
        with self._lock:
            if self._conn is not None:
                # Reading stats never counts as (or causes) a failure.
                with contextlib.suppress(sqlite3.Error):
                    query = "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM entries"
                    entries, nbytes = self._conn.execute(query).fetchone()
        row = self._stats.snapshot(self.name, entries, nbytes)
        row["quarantined"] = len(self.quarantined)
        row["authenticated"] = self._auth is not None
        return row

    # -- housekeeping ------------------------------------------------------------------------------------------
    def clear(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.execute("DELETE FROM entries")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


__all__ = ["DiskTier"]
