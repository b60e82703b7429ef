from __future__ import annotations

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


def test_unopenable_path_names_the_field(tmp_path: Path) -> None:
    not_a_db = tmp_path / "junk.sqlite"
    not_a_db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match=r"cache\.disk_path.*junk\.sqlite"):
        DiskTier(not_a_db)


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
