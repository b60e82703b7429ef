from __future__ import annotations

import threading

import pytest

from blaze_lab.cache.memory import MemoryTier
from blaze_lab.cache.tier import CacheTier, Hit
from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError


def test_speaks_the_tier_protocol() -> None:
    assert isinstance(MemoryTier(), CacheTier)


def test_ttl_expires_on_the_virtual_clock_without_sleeping() -> None:
    clock = VirtualClock()
    tier = MemoryTier(clock=clock)
    tier.set("a", b"1", ttl_s=10)
    tier.set("b", b"2", ttl_s=None)
    clock.advance(4)
    assert tier.get("a") == Hit(b"1", 6.0)
    clock.advance(6)  # exactly at the deadline: expired
    assert tier.get("a") is None
    assert tier.get("b") == Hit(b"2", None)
    stats = tier.stats()
    assert (stats["hits"], stats["misses"], stats["expirations"], stats["entries"]) == (2, 1, 1, 1)


def test_byte_budget_evicts_least_recently_used_and_counts() -> None:
    tier = MemoryTier(max_bytes=30)  # each entry: 1-byte key + 9-byte value = 10 bytes
    for key in "abc":
        tier.set(key, b"x" * 9)
    assert tier.stats()["bytes"] == 30
    assert tier.get("a") is not None  # a is now most recent; b is the LRU
    tier.set("d", b"x" * 9)
    assert tier.get("b") is None
    assert [k for k in "acd" if tier.get(k) is None] == []
    tier.set("e", b"x" * 19)  # 20 bytes: evicts a and c (the two least recent)
    stats = tier.stats()
    assert stats["evictions"] == 3
    assert stats["bytes"] <= 30 and stats["entries"] == 2


def test_expired_entries_go_before_live_ones() -> None:
    clock = VirtualClock()
    tier = MemoryTier(max_bytes=20, clock=clock)
    tier.set("a", b"x" * 9)  # oldest, no TTL
    tier.set("b", b"x" * 9, ttl_s=1)
    clock.advance(2)
    tier.set("c", b"x" * 9)
    assert tier.get("a") is not None  # survived: the expired b made room
    assert tier.stats()["expirations"] == 1 and tier.stats()["evictions"] == 0


def test_oversized_value_is_not_kept_and_does_not_flush_others() -> None:
    tier = MemoryTier(max_bytes=20)
    tier.set("a", b"x")
    tier.set("big", b"x" * 100)
    assert tier.get("big") is None and tier.get("a") is not None
    assert tier.stats()["evictions"] == 1


def test_overwrite_replaces_bytes_and_delete_removes() -> None:
    tier = MemoryTier()
    tier.set("k", b"12345")
    tier.set("k", b"1")
    assert tier.stats()["bytes"] == 2
    tier.delete("k")
    assert tier.get("k") is None and tier.stats()["bytes"] == 0 and tier.stats()["deletes"] == 1


def test_bad_budget_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"cache\.max_bytes"):
        MemoryTier(max_bytes=0)


def test_threads_keep_byte_accounting_consistent() -> None:
    tier = MemoryTier(max_bytes=2_000)

    def work(n: int) -> None:
        for i in range(300):
            tier.set(f"{n}-{i % 50}", b"v" * (i % 17))
            tier.get(f"{(n + 1) % 4}-{i % 50}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = tier.stats()
    recount = sum(len(k.encode()) + len(v) for k, (v, _) in tier._data.items())
    assert stats["bytes"] == recount <= 2_000
