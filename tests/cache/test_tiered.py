from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from blaze_lab.cache.codec import CachedResult
from blaze_lab.cache.disk import DiskTier
from blaze_lab.cache.keys import cache_key
from blaze_lab.cache.memory import MemoryTier
from blaze_lab.cache.tier import Hit
from blaze_lab.cache.tiered import CacheConfig, TieredCache
from blaze_lab.clock import VirtualClock
from blaze_lab.errors import CacheError, ConfigError

from .conftest import PASSWORD, RedisServer

RESULT = CachedResult(text="Paris.", token_ids=[42, 7], timings={"latency_s": 0.8, "ttft_s": 0.1})


def _key(prompt: str = "Capital of France?", **sampling: Any) -> str | None:
    return cache_key("smollm2-135m", {"dtype": "bf16"}, prompt, {"max_new_tokens": 8, **sampling})


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def _cache(tmp_path: Path, clock: VirtualClock, disk: str = "l2.sqlite", **fields: Any) -> TieredCache:
    cfg = CacheConfig(disk_path=str(tmp_path / disk), **fields)
    return TieredCache.from_config(cfg, clock=clock)


def _row(cache: TieredCache, tier: str) -> dict[str, Any]:
    frame = cache.stats_frame()
    return frame[frame["tier"] == tier].iloc[0].to_dict()


@pytest.fixture
def two_tier(tmp_path: Path, clock: VirtualClock) -> Iterator[TieredCache]:
    cache = _cache(tmp_path, clock, tiers=("memory", "disk"))
    yield cache
    cache.close()


# -- config ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"tiers": ()}, "cache.tiers"),
        ({"tiers": ("memory", "ssd")}, "cache.tiers"),
        ({"tiers": ("disk", "disk")}, "cache.tiers"),
        ({"max_bytes": 0}, "cache.max_bytes"),
        ({"disk_max_bytes": -1}, "cache.disk_max_bytes"),
        ({"ttl_s": 0}, "cache.ttl_s"),
        ({"ttl_s": -5.0}, "cache.ttl_s"),
        ({"redis_url": "http://127.0.0.1:6379"}, "cache.redis_url"),
        ({"redis_timeout_s": 0}, "cache.redis_timeout_s"),
    ],
)
def test_bad_config_names_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        CacheConfig(**fields)
    assert info.value.field == field


def test_config_from_yaml_like_dict() -> None:
    cfg = CacheConfig.from_dict({"tiers": ["redis", "memory"], "ttl_s": 30, "max_bytes": 1024})
    assert cfg.tiers == ("redis", "memory") and cfg.ttl_s == 30.0
    assert cfg.flat()["cache.tiers"] == ["redis", "memory"]
    with pytest.raises(ConfigError, match=r"cache\.max_byte.*unknown key"):
        CacheConfig.from_dict({"max_byte": 1})
    with pytest.raises(ConfigError, match=r"cache\.tiers.*allowed: memory, disk, redis"):
        CacheConfig.from_dict({"tiers": ["l1"]})


# -- memory + disk -------------------------------------------------------------------------------------------------


def test_miss_then_hit_and_disk_hit_promotes_to_memory(two_tier: TieredCache) -> None:
    key = _key()
    calls: list[int] = []
    compute = lambda: calls.append(1) or RESULT  # noqa: E731
    assert two_tier.get_or_compute(key, compute) == RESULT
    assert two_tier.get_or_compute(key, compute) == RESULT
    assert len(calls) == 1
    assert two_tier.lookup(key).tier == "memory"
    two_tier.tiers[0].delete(key)  # type: ignore[arg-type]  # L1 lost it (e.g. a new process)
    assert two_tier.lookup(key).tier == "disk"
    assert two_tier.lookup(key).tier == "memory"  # promoted
    assert _row(two_tier, "memory")["promotions"] == 1
    assert two_tier.overall()["hit_rate"] == pytest.approx(4 / 5)


def test_ttl_expiry_across_tiers_and_promotion_keeps_remaining_ttl(tmp_path: Path, clock: VirtualClock) -> None:
    cache = _cache(tmp_path, clock, tiers=("memory", "disk"), ttl_s=10)
    key = _key()
    cache.set(key, RESULT)
    clock.advance(8)
    cache.tiers[0].delete(key)  # type: ignore[arg-type]
    assert cache.lookup(key).tier == "disk"  # promoted to L1 with 2 s left, not a fresh 10 s
    clock.advance(1.9)
    assert cache.lookup(key).tier == "memory"
    clock.advance(0.1)
    found = cache.lookup(key)
    assert not found.hit and found.tier is None
    assert _row(cache, "memory")["expirations"] == 1 and _row(cache, "disk")["expirations"] == 1
    cache.close()


def test_memory_budget_evictions_show_in_the_frame(tmp_path: Path, clock: VirtualClock) -> None:
    cache = _cache(tmp_path, clock, tiers=("memory", "disk"), max_bytes=400)
    for i in range(10):
        cache.set(_key(f"prompt {i}"), RESULT)  # ~170 bytes each
    memory = _row(cache, "memory")
    assert memory["evictions"] == 8 and memory["entries"] == 2 and memory["bytes"] <= 400
    assert _row(cache, "disk")["entries"] == 10
    assert cache.lookup(_key("prompt 0")).tier == "disk"
    cache.close()


def test_corrupted_l2_entry_is_a_miss_not_a_crash(two_tier: TieredCache) -> None:
    key = _key()
    two_tier.set(key, RESULT)
    two_tier.tiers[0].delete(key)  # type: ignore[arg-type]
    disk = two_tier.tiers[1]
    assert isinstance(disk, DiskTier)
    conn = sqlite3.connect(disk.path, isolation_level=None)
    conn.execute("UPDATE entries SET value = ? WHERE key = ?", (b"\xde\xad garbage", key))
    conn.close()
    assert two_tier.get_or_compute(key, lambda: RESULT) == RESULT  # miss -> recomputed
    assert _row(two_tier, "disk")["errors"] == 1 and _row(two_tier, "disk")["corrupt"] == 1
    assert two_tier.lookup(key).tier == "memory"  # rewritten


def test_intact_but_undecodable_entry_is_dropped(two_tier: TieredCache) -> None:
    # Checksum fine, content not an envelope (another writer): the decode step catches it.
    two_tier.tiers[1].set("k", b'{"not": "an envelope"}')
    assert two_tier.lookup("k").hit is False
    assert two_tier.tiers[1].get("k") is None
    assert _row(two_tier, "disk")["decode_errors"] == 1 and _row(two_tier, "disk")["errors"] == 1


def test_non_deterministic_request_is_never_cached(two_tier: TieredCache) -> None:
    key = _key(do_sample=True, temperature=0.8)  # sampling without a seed
    assert key is None
    calls: list[int] = []
    for _ in range(3):
        two_tier.get_or_compute(key, lambda: calls.append(1) or RESULT)
    assert len(calls) == 3
    assert two_tier.overall()["uncacheable"] == 3
    assert int(two_tier.stats_frame()["sets"].sum()) == 0
    seeded = _key(do_sample=True, temperature=0.8, seed=1)
    two_tier.get_or_compute(seeded, lambda: RESULT)
    assert two_tier.lookup(seeded).hit


def test_non_json_value_is_refused_before_any_tier(two_tier: TieredCache) -> None:
    with pytest.raises(CacheError, match="no pickle"):
        two_tier.set("k", object())
    assert int(two_tier.stats_frame()["sets"].sum()) == 0


def test_a_tier_that_raises_cannot_fail_a_request(clock: VirtualClock) -> None:
    class Broken:  # a unit-test stand-in for a tier with a bug
        name = "broken"

        def get(self, key: str) -> Hit | None:
            raise RuntimeError("boom")

        def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
            raise RuntimeError("boom")

        def delete(self, key: str) -> None:
            raise RuntimeError("boom")

        def stats(self) -> dict[str, Any]:
            raise RuntimeError("boom")

    cache = TieredCache([MemoryTier(clock=clock), Broken()], clock=clock)
    assert cache.get_or_compute("k", lambda: "v") == "v"
    cache.tiers[0].delete("k")
    assert cache.get_or_compute("k", lambda: "again") == "again"
    row = cache.stats_frame().set_index("tier").loc["broken"]
    assert row["tier_exceptions"] == 4 and row["errors"] == 4  # two gets, two sets


def test_stats_frame_shape(two_tier: TieredCache) -> None:
    two_tier.get_or_compute("k", lambda: "v")
    frame = two_tier.stats_frame()
    assert list(frame["tier"]) == ["memory", "disk"] and list(frame["level"]) == [1, 2]
    for col in (
        "hits",
        "misses",
        "hit_rate",
        "errors",
        "evictions",
        "bytes",
        "get_latency_s_mean",
        "set_latency_s_mean",
        "promotions",
    ):
        assert col in frame.columns
    assert (frame["get_count"] == 1).all() and (frame["set_count"] == 1).all()


def test_disk_bytes_are_json_envelopes(two_tier: TieredCache) -> None:
    two_tier.set("k", RESULT)
    disk = two_tier.tiers[1]
    assert isinstance(disk, DiskTier)
    conn = sqlite3.connect(disk.path)
    (value,) = conn.execute("SELECT value FROM entries WHERE key = 'k'").fetchone()
    conn.close()
    envelope = json.loads(value)
    assert envelope["type"] == "result" and envelope["data"]["text"] == "Paris."


# -- with a real Redis ---------------------------------------------------------------------------------------------


@pytest.mark.redis
def test_l3_hit_promotes_to_l1_and_l2(tmp_path: Path, clock: VirtualClock, redis_url: str) -> None:
    tiers = ("memory", "disk", "redis")
    writer = _cache(tmp_path, clock, "writer.sqlite", tiers=tiers, redis_url=redis_url)
    key = _key()
    assert writer.lookup(key).hit is False
    writer.set(key, RESULT)
    writer.close()
    # Another process/machine: its own empty L1 and L2, the same Redis.
    reader = _cache(tmp_path, clock, "reader.sqlite", tiers=tiers, redis_url=redis_url)
    found = reader.lookup(key)
    assert (found.hit, found.tier, found.value) == (True, "redis", RESULT)
    assert _row(reader, "memory")["promotions"] == 1 and _row(reader, "disk")["promotions"] == 1
    assert reader.lookup(key).tier == "memory"
    reader.tiers[0].delete(key)  # type: ignore[arg-type]
    assert reader.lookup(key).tier == "disk"
    assert _row(reader, "redis")["hits"] == 1
    reader.close()


@pytest.mark.redis
def test_ttl_expiry_with_redis_on_the_virtual_clock(tmp_path: Path, clock: VirtualClock, redis_url: str) -> None:
    cache = _cache(tmp_path, clock, tiers=("memory", "disk", "redis"), redis_url=redis_url, ttl_s=5)
    key = _key()
    cache.set(key, RESULT)
    clock.advance(5)
    assert cache.lookup(key).hit is False
    assert [int(x) for x in cache.stats_frame()["expirations"]] == [1, 1, 1]
    cache.close()


@pytest.mark.redis
def test_redis_killed_mid_run_requests_still_succeed(
    tmp_path: Path, clock: VirtualClock, redis_server: RedisServer
) -> None:
    cache = _cache(tmp_path, clock, tiers=("memory", "disk", "redis"), redis_url=redis_server.url)
    keys = [_key(f"prompt {i}") for i in range(6)]
    for key in keys[:3]:
        cache.get_or_compute(key, lambda: RESULT)
    redis_server.kill()
    served = [cache.get_or_compute(key, lambda: RESULT) for key in keys]  # old keys hit L1, new ones compute
    assert served == [RESULT] * 6
    cache.tiers[0].delete(keys[0])  # type: ignore[arg-type]
    assert cache.lookup(keys[0]).tier == "disk"  # lower tiers keep answering
    row = _row(cache, "redis")
    assert row["errors"] >= 1 and row["degraded"]
    assert row["errors"] + row["skipped"] >= 3  # every Redis write after the kill failed or was skipped
    assert _row(cache, "memory")["errors"] == 0 and _row(cache, "disk")["errors"] == 0
    cache.close()


def test_unreachable_redis_at_start_is_a_clear_error(tmp_path: Path, dead_redis_url: str) -> None:
    cfg = CacheConfig(tiers=("memory", "redis"), redis_url=dead_redis_url, disk_path=str(tmp_path / "x.sqlite"))
    with pytest.raises(ConfigError, match=r"cache\.redis_url") as info:
        TieredCache.from_config(cfg)
    assert dead_redis_url in str(info.value)


def test_unreachable_redis_not_required_starts_degraded(
    tmp_path: Path, clock: VirtualClock, dead_redis_url: str
) -> None:
    tiers = ("memory", "disk", "redis")
    with pytest.warns(RuntimeWarning, match=dead_redis_url):
        cache = _cache(tmp_path, clock, tiers=tiers, redis_url=dead_redis_url, redis_required=False)
    assert cache.get_or_compute("k", lambda: "v") == "v"
    assert cache.lookup("k").tier == "memory"
    assert _row(cache, "redis")["errors"] == 1
    cache.close()


@pytest.mark.redis
def test_redis_values_are_json(tmp_path: Path, clock: VirtualClock, redis_url: str) -> None:
    cache = _cache(tmp_path, clock, tiers=("redis",), redis_url=redis_url, namespace="ns")
    cache.set("k", RESULT)
    raw = redis.Redis.from_url(redis_url)
    value = raw.hget("ns:k", "v")
    raw.close()
    assert value is not None and json.loads(value)["data"]["token_ids"] == [42, 7]
    cache.close()


def test_default_disk_path_lives_under_the_blaze_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BLAZE_LAB_CACHE", str(tmp_path / "bl"))
    assert CacheConfig().resolved_disk_path() == tmp_path / "bl" / "results" / "results.sqlite"
    assert CacheConfig(disk_path="~/x.sqlite").resolved_disk_path() == Path.home() / "x.sqlite"


def test_package_exports_resolve_lazily() -> None:
    import blaze_lab.cache as package

    for name in package.__all__:
        assert getattr(package, name) is not None
    with pytest.raises(AttributeError):
        _ = package.NoSuchThing


# -- secrets and authentication through the config ------------------------------------------------------------------

HMAC_KEY = "tiered-test-hmac-key-0123456789"


def test_forged_l2_entry_is_not_served_nor_promoted(
    tmp_path: Path, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLAZE_LAB_CACHE_KEY", HMAC_KEY)
    cfg = CacheConfig.from_dict(
        {
            "tiers": ["memory", "disk"],
            "disk_path": str(tmp_path / "l2.sqlite"),
            "hmac_key": {"env": "BLAZE_LAB_CACHE_KEY"},
        }
    )
    assert cfg.flat()["cache.hmac_key"] == "***" and cfg.to_dict()["hmac_key"] == {"env": "BLAZE_LAB_CACHE_KEY"}
    cache = TieredCache.from_config(cfg, clock=clock)
    key = _key()
    assert key is not None
    forged = json.dumps(
        {"v": 1, "type": "result", "data": {"text": "planted", "token_ids": [], "timings": {}, "meta": {}}}
    )
    raw = forged.encode()
    conn = sqlite3.connect(tmp_path / "l2.sqlite", isolation_level=None)
    conn.execute(
        "INSERT INTO entries (key, value, size, checksum, expires_at, accessed_at) VALUES (?, ?, ?, ?, NULL, 0)",
        (key, raw, len(raw), hashlib.sha256(raw).hexdigest()),
    )
    conn.close()
    assert cache.get_or_compute(key, lambda: RESULT) == RESULT  # computed, not the planted answer
    assert cache.lookup(key).tier == "memory"
    disk = _row(cache, "disk")
    assert (disk["tampered"], disk["hits"], disk["authenticated"]) == (1, 0, True)
    assert _row(cache, "memory")["tampered"] == 0
    cache.close()
    reopened = TieredCache.from_config(cfg.replace(tiers=("disk",)), clock=clock)  # the rewrite carries a valid tag
    assert reopened.lookup(key) == (True, RESULT, "disk")
    reopened.close()


@pytest.mark.redis
def test_redis_with_a_password_from_the_environment(
    tmp_path: Path, clock: VirtualClock, redis_server_with_password: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = redis_server_with_password.url.replace("redis://", f"redis://:{PASSWORD}@")
    monkeypatch.setenv("TEST_REDIS_URL", url)
    monkeypatch.setenv("BLAZE_LAB_CACHE_KEY", HMAC_KEY)
    cfg = CacheConfig.from_dict(
        {"tiers": ["redis"], "redis_url": {"env": "TEST_REDIS_URL"}, "hmac_key": {"env": "BLAZE_LAB_CACHE_KEY"}}
    )
    cache = TieredCache.from_config(cfg, clock=clock)
    assert cache.get_or_compute("k", lambda: RESULT) == RESULT and cache.lookup("k") == (True, RESULT, "redis")
    shown = [repr(cfg), str(cfg.flat()), str(cfg.to_dict()), cache.stats_frame().to_csv(), cfg.config_hash()]
    assert not any(PASSWORD in text or "s3cr3t" in text for text in shown)
    assert cfg.flat()["cache.redis_url"].startswith("redis://:***@127.0.0.1:")
    cache.close()
    with pytest.raises(ConfigError, match=r"cache\.redis_url.*\{env: NAME\}") as info:
        CacheConfig.from_dict({"tiers": ["redis"], "redis_url": url})  # a literal password in a spec: refused
    assert "s3cr3t" not in str(info.value)
