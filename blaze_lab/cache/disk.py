"""L2: results on disk in one SQLite file (stdlib ``sqlite3``, WAL mode).

Each row keeps the value bytes with their length and sha256, so a truncated or overwritten entry is detected on
read, deleted and answered as a miss (counted in ``corrupt`` and ``errors``) — a damaged cache file must never
fail a request. Expiry is stored as wall-clock seconds from the injected clock's ``wall()``, so entries outlive the
process and expire across restarts. An optional byte budget evicts expired rows first, then the least recently
read. One connection guarded by a lock makes the tier safe for many threads of one process; WAL plus a busy
timeout lets other processes read while one writes.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.sqlite"
    >>> l2 = DiskTier(path)
    >>> l2.set("k", b'{"v":1}')
    >>> l2.get("k").value
    b'{"v":1}'
    >>> l2.close()
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

from blaze_lab.cache.tier import Hit, TierStats
from blaze_lab.clock import Clock, RealClock
from blaze_lab.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    size INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    expires_at REAL,
    accessed_at REAL NOT NULL
)
"""


def _checksum(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


class DiskTier:
    """SQLite-backed tier; ``max_bytes=None`` means no budget (only TTL removes entries)."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int | None = None,
        clock: Clock | None = None,
        name: str = "disk",
        busy_timeout_s: float = 5.0,
    ) -> None:
        if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1):
            raise ConfigError("cache.disk_max_bytes", max_bytes, reason="must be an integer >= 1 or None")
        self.name = name
        self.path = Path(path).expanduser()
        self.max_bytes = max_bytes
        self.clock: Clock = clock or RealClock()
        self._stats = TierStats(self.clock)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False: the lock below serializes use across threads.
            self._conn = sqlite3.connect(
                str(self.path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError("cache.disk_path", str(self.path), reason=f"cannot open SQLite cache: {exc}") from None

    # -- protocol ----------------------------------------------------------------------------------------------
    def get(self, key: str) -> Hit | None:
        with self._stats.timed("get"), self._lock:
            try:
                row = self._conn.execute(
                    "SELECT value, size, checksum, expires_at FROM entries WHERE key = ?", (key,)
                ).fetchone()
                if row is None:
                    self._stats.add("misses")
                    return None
                value, size, checksum, expires_at = row
                if not self._intact(value, size, checksum):
                    self._conn.execute("DELETE FROM entries WHERE key = ?", (key,))
                    self._stats.add("corrupt")
                    self._stats.add("errors")
                    self._stats.add("misses")
                    return None
                wall = self.clock.wall()
                if expires_at is not None and wall >= expires_at:
                    self._conn.execute("DELETE FROM entries WHERE key = ?", (key,))
                    self._stats.add("expirations")
                    self._stats.add("misses")
                    return None
                self._conn.execute("UPDATE entries SET accessed_at = ? WHERE key = ?", (wall, key))
            except sqlite3.Error:
                self._stats.add("errors")
                self._stats.add("misses")
                return None
            self._stats.add("hits")
            return Hit(bytes(value), None if expires_at is None else float(expires_at) - wall)

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
            wall = self.clock.wall()
            expires_at = None if ttl_s is None else wall + ttl_s
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO entries (key, value, size, checksum, expires_at, accessed_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (key, sqlite3.Binary(value), len(value), _checksum(value), expires_at, wall),
                )
                if self.max_bytes is not None:
                    self._make_room(wall)
            except sqlite3.Error:
                self._stats.add("errors")

    def _make_room(self, wall: float) -> None:
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
            try:
                cur = self._conn.execute("DELETE FROM entries WHERE key = ?", (key,))
            except sqlite3.Error:
                self._stats.add("errors")
                return
            if cur.rowcount > 0:
                self._stats.add("deletes")

    def stats(self) -> dict[str, Any]:
        with self._lock:
            try:
                entries, nbytes = self._conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM entries").fetchone()
            except sqlite3.Error:
                entries, nbytes = None, None
        return self._stats.snapshot(self.name, entries, nbytes)

    # -- housekeeping ------------------------------------------------------------------------------------------
    def clear(self) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM entries")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


__all__ = ["DiskTier"]
