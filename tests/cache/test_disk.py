from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from blaze_lab.cache.disk import DiskTier
from blaze_lab.cache.tier import CacheTier
from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def tier(tmp_path: Path, clock: VirtualClock) -> Iterator[DiskTier]:
    disk = DiskTier(tmp_path / "sub" / "results.sqlite", clock=clock)
    yield disk
    disk.close()


def _raw(path: Path, sql: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(sql, params)
    finally:
        conn.close()


def test_protocol_wal_and_persistence(tmp_path: Path, clock: VirtualClock) -> None:
    path = tmp_path / "r.sqlite"
    first = DiskTier(path, clock=clock)
    assert isinstance(first, CacheTier)
    assert first._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    first.set("k", b"value", ttl_s=100)
    first.close()
    second = DiskTier(path, clock=clock)  # a new process would see the same rows
    assert second.get("k").value == b"value"  # type: ignore[union-attr]
    second.close()


def test_ttl_uses_the_clock_wall_time(tier: DiskTier, clock: VirtualClock) -> None:
    tier.set("k", b"v", ttl_s=30)
    clock.advance(29)
    hit = tier.get("k")
    assert hit is not None and hit.ttl_left_s == pytest.approx(1.0)
    clock.advance(1)
    assert tier.get("k") is None
    stats = tier.stats()
    assert stats["expirations"] == 1 and stats["entries"] == 0


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("UPDATE entries SET value = ? WHERE key = 'k'", (b"\x00garbage not json",)),  # checksum mismatch
        ("UPDATE entries SET value = substr(value, 1, 5) WHERE key = 'k'", ()),  # truncated
        ("UPDATE entries SET value = 'text, not a blob' WHERE key = 'k'", ()),  # wrong storage type
        ("UPDATE entries SET checksum = 'deadbeef' WHERE key = 'k'", ()),  # checksum itself damaged
    ],
)
def test_corrupted_row_is_a_counted_miss_and_is_deleted(tier: DiskTier, sql: str, params: tuple) -> None:
    tier.set("k", b'{"v":1,"type":"text","data":"hello"}')
    _raw(tier.path, sql, params)
    assert tier.get("k") is None
    stats = tier.stats()
    assert (stats["corrupt"], stats["errors"], stats["misses"], stats["entries"]) == (1, 1, 1, 0)
    tier.set("k", b"fresh")  # the tier keeps working
    assert tier.get("k").value == b"fresh"  # type: ignore[union-attr]


def test_byte_budget_evicts_least_recently_read(tmp_path: Path, clock: VirtualClock) -> None:
    tier = DiskTier(tmp_path / "r.sqlite", max_bytes=30, clock=clock)
    for key in "abc":
        tier.set(key, b"x" * 10)
        clock.advance(1)
    assert tier.get("a") is not None  # a read recently; b is now the oldest
    clock.advance(1)
    tier.set("d", b"x" * 10)
    assert tier.get("b") is None
    assert all(tier.get(k) is not None for k in "acd")
    assert tier.stats()["evictions"] == 1 and tier.stats()["bytes"] == 30
    tier.close()


def _quarantined(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".corrupt-*"))


def test_garbage_file_at_start_is_quarantined_with_its_wal(
    tmp_path: Path, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "junk.sqlite"
    garbage = b"this is not a database" * 100
    path.write_bytes(garbage)
    path.with_name("junk.sqlite-wal").write_bytes(b"stale wal")  # must not be replayed into the fresh file
    with caplog.at_level("WARNING", logger="blaze_lab.cache.disk"):
        tier = DiskTier(path, clock=clock)
    moved = [p for p in _quarantined(path) if not p.name.endswith("-wal")]
    assert len(moved) == 1 and moved[0].read_bytes() == garbage
    assert tier.quarantined == moved
    wal = path.with_name("junk.sqlite-wal")
    assert not wal.exists() or wal.read_bytes() != b"stale wal"  # never left beside the fresh file
    assert [r.levelname for r in caplog.records] == ["WARNING"] and "junk.sqlite" in caplog.text
    stats = tier.stats()
    assert (stats["quarantined"], stats["entries"], stats["errors"]) == (1, 0, 1)
    tier.set("k", b"v")
    assert tier.get("k").value == b"v"  # type: ignore[union-attr]
    tier.close()


def test_truncated_real_cache_is_quarantined(tmp_path: Path, clock: VirtualClock) -> None:
    path = tmp_path / "r.sqlite"
    first = DiskTier(path, clock=clock)
    for i in range(500):
        first.set(f"k{i}", b"x" * 200)
    first.close()  # checkpoints the WAL into the main file
    data = path.read_bytes()
    assert len(data) > 8192
    path.write_bytes(data[: len(data) // 2])
    second = DiskTier(path, clock=clock)
    assert second.stats()["quarantined"] == 1 and second.stats()["entries"] == 0
    assert second.get("k1") is None
    second.set("k1", b"fresh")
    assert second.get("k1").value == b"fresh"  # type: ignore[union-attr]
    second.close()
    third = DiskTier(path, clock=clock)  # the fresh file is healthy: nothing more is moved
    assert third.stats()["quarantined"] == 0 and len(_quarantined(path)) == 1
    third.close()


def test_damage_found_mid_run_is_quarantined(tmp_path: Path, clock: VirtualClock) -> None:
    path = tmp_path / "r.sqlite"
    tier = DiskTier(path, clock=clock)
    for i in range(300):
        tier.set(f"k{i}", b"x" * 300)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("UPDATE entries SET accessed_at = 1 WHERE key = 'k1'")  # makes the tier drop its page cache
    other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    with path.open("r+b") as fh:  # everything after the first page overwritten
        fh.seek(4096)
        fh.write(b"\xff" * (size - 4096))
    other.close()
    assert tier.get("k5") is None  # SQLite reports a malformed image: a counted miss, then a fresh file
    assert tier.stats()["quarantined"] == 1 and len(_quarantined(path)) == 1
    tier.set("k5", b"new")
    assert tier.get("k5").value == b"new"  # type: ignore[union-attr]
    tier.close()


def test_a_foreign_entries_table_is_quarantined(tmp_path: Path, clock: VirtualClock) -> None:
    path = tmp_path / "other.sqlite"
    _raw(path, "CREATE TABLE entries (id INTEGER PRIMARY KEY, note TEXT)")
    tier = DiskTier(path, clock=clock)
    assert tier.stats()["quarantined"] == 1
    tier.set("k", b"v")
    assert tier.get("k") is not None
    tier.close()


def test_a_file_without_tag_column_is_migrated_in_place(tmp_path: Path, clock: VirtualClock) -> None:
    path = tmp_path / "old.sqlite"
    _raw(
        path,
        "CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB NOT NULL, size INTEGER NOT NULL, "
        "checksum TEXT NOT NULL, expires_at REAL, accessed_at REAL NOT NULL)",
    )
    _raw(path, "INSERT INTO entries VALUES ('k', X'7631', 2, ?, NULL, 0)", (hashlib.sha256(b"v1").hexdigest(),))
    tier = DiskTier(path, clock=clock)
    assert tier.stats()["quarantined"] == 0
    assert tier.get("k").value == b"v1"  # type: ignore[union-attr]
    tier.close()


def test_unopenable_path_names_the_field(tmp_path: Path) -> None:
    folder = tmp_path / "a-directory.sqlite"
    folder.mkdir()
    with pytest.raises(ConfigError, match=r"cache\.disk_path.*a-directory\.sqlite"):
        DiskTier(folder)
    assert _quarantined(folder) == []  # a path problem is the user's to fix, not a damaged file to move


# -- authentication ----------------------------------------------------------------------------------------------

KEY = "k" * 16 + "-test-hmac-key"


def _plant(path: Path, key: str, value: bytes, expires_at: float | None = None, tag: str | None = None) -> None:
    """What someone with write access to the file can do: a row with a correct checksum (and any tag)."""
    _raw(
        path,
        "INSERT OR REPLACE INTO entries (key, value, size, checksum, expires_at, accessed_at, tag)"
        " VALUES (?, ?, ?, ?, ?, 0, ?)",
        (key, value, len(value), hashlib.sha256(value).hexdigest(), expires_at, tag),
    )


@pytest.mark.parametrize("tag", [None, "0" * 64])
def test_forged_row_is_rejected_with_a_key_and_served_without(
    tmp_path: Path, clock: VirtualClock, tag: str | None
) -> None:
    path = tmp_path / "r.sqlite"
    DiskTier(path, clock=clock).close()  # create the file
    forged = b'{"v":1,"type":"text","data":"planted answer"}'
    _plant(path, "k", forged, tag=tag)
    keyed = DiskTier(path, clock=clock, hmac_key=KEY)
    assert keyed.get("k") is None
    stats = keyed.stats()
    assert (stats["tampered"], stats["hits"], stats["misses"], stats["entries"]) == (1, 0, 1, 0)
    keyed.close()
    _plant(path, "k", forged, tag=tag)
    unkeyed = DiskTier(path, clock=clock)  # documented: without a key only corruption is detected
    assert unkeyed.get("k").value == forged  # type: ignore[union-attr]
    unkeyed.close()


def test_tag_binds_the_key_and_the_expiry(tmp_path: Path, clock: VirtualClock) -> None:
    path = tmp_path / "r.sqlite"
    tier = DiskTier(path, clock=clock, hmac_key=KEY)
    tier.set("a", b"answer for a", ttl_s=10)
    assert tier.get("a").value == b"answer for a"  # type: ignore[union-attr]
    # Copy the valid row (tag and all) under another key: refused.
    _raw(path, "INSERT INTO entries SELECT 'b', value, size, checksum, expires_at, accessed_at, tag FROM entries")
    assert tier.get("b") is None
    # Extend the valid row's lifetime: refused.
    _raw(path, "UPDATE entries SET expires_at = expires_at + 3600 WHERE key = 'a'")
    assert tier.get("a") is None
    assert tier.stats()["tampered"] == 2
    tier.set("a", b"recomputed", ttl_s=10)  # a rewrite under the key is trusted again
    assert tier.get("a").value == b"recomputed"  # type: ignore[union-attr]
    tier.close()


def test_short_hmac_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cache\.hmac_key.*at least 16") as info:
        DiskTier(tmp_path / "r.sqlite", hmac_key="short")
    assert "short" not in str(info.value).replace("at least", "")


def test_many_threads_one_process(tier: DiskTier) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(100):
                tier.set(f"{n}-{i}", f"{n}-{i}".encode())
                hit = tier.get(f"{n}-{i}")
                assert hit is not None and hit.value == f"{n}-{i}".encode()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats = tier.stats()
    assert stats["entries"] == 600 and stats["errors"] == 0 and stats["hits"] == 600
