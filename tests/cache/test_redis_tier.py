from __future__ import annotations

import json

import pytest
import redis

from blaze_lab.cache.redis_tier import RedisTier, redact_url
from blaze_lab.cache.tier import CacheTier
from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError

from .conftest import RedisServer


@pytest.mark.redis
def test_round_trip_ttl_on_the_clock_and_native_expiry(redis_url: str) -> None:
    clock = VirtualClock()
    tier = RedisTier(redis_url, clock=clock, namespace="t")
    assert isinstance(tier, CacheTier)
    tier.set("k", b'{"v":1,"type":"text","data":"x"}', ttl_s=60)
    hit = tier.get("k")
    assert hit is not None and hit.value.startswith(b'{"v":1') and hit.ttl_left_s == pytest.approx(60)
    raw = redis.Redis.from_url(redis_url)
    assert 0 < raw.pttl("t:k") <= 60_000  # the server reclaims it by itself too
    clock.advance(60)  # virtual time reaches the stored expiry long before the server's
    assert tier.get("k") is None
    assert raw.exists("t:k") == 0
    stats = tier.stats()
    assert (stats["hits"], stats["misses"], stats["expirations"], stats["errors"]) == (1, 1, 1, 0)
    raw.close()
    tier.close()


@pytest.mark.redis
def test_corrupted_entry_is_a_counted_miss(redis_url: str) -> None:
    tier = RedisTier(redis_url, clock=VirtualClock(), namespace="t")
    tier.set("k", b"payload")
    raw = redis.Redis.from_url(redis_url)
    raw.hset("t:k", "v", b"payl")  # truncated by someone else
    assert tier.get("k") is None
    assert raw.exists("t:k") == 0
    assert tier.stats()["corrupt"] == 1 and tier.stats()["errors"] == 1
    raw.close()
    tier.close()


def test_unreachable_url_at_start_names_the_url(dead_redis_url: str) -> None:
    with pytest.raises(ConfigError, match=r"cache\.redis_url") as info:
        RedisTier(dead_redis_url)
    assert dead_redis_url in str(info.value)
    assert "required=False" in str(info.value)


def test_unreachable_start_with_required_false_warns_and_degrades(dead_redis_url: str) -> None:
    clock = VirtualClock()
    with pytest.warns(RuntimeWarning, match="starts degraded"):
        tier = RedisTier(dead_redis_url, required=False, clock=clock, backoff_s=1.0)
    assert tier.degraded and tier.stats()["errors"] == 1
    assert tier.get("k") is None and tier.stats()["skipped"] == 1  # inside the backoff window: no socket touched
    clock.advance(1.0)
    tier.set("k", b"v")  # window over: tries, fails, counted, next window is twice as long
    assert tier.stats()["errors"] == 2
    clock.advance(1.5)
    assert tier.degraded
    clock.advance(0.5)
    assert not tier.degraded


def test_password_never_appears_in_errors(dead_redis_url: str) -> None:
    url = dead_redis_url.replace("redis://", "redis://user:s3cret@")
    with pytest.raises(ConfigError) as info:
        RedisTier(url)
    assert "s3cret" not in str(info.value) and "user:***@" in str(info.value)
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_malformed_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"cache\.redis_url.*allowed: redis://"):
        RedisTier("http://127.0.0.1:6379")


@pytest.mark.redis
def test_outage_mid_run_degrades_then_recovers(redis_server: RedisServer) -> None:
    clock = VirtualClock()
    tier = RedisTier(redis_server.url, clock=clock, backoff_s=0.5, namespace="t")
    tier.set("a", b"1")
    assert tier.get("a") is not None
    redis_server.kill()
    assert tier.get("a") is None  # no exception: a miss with a counted error
    assert tier.stats()["errors"] == 1 and tier.degraded
    for _ in range(5):  # skipped without touching the socket while backing off
        tier.set("b", b"2")
        assert tier.get("b") is None
    assert tier.stats()["skipped"] == 10 and tier.stats()["errors"] == 1
    redis_server.start()  # same port, empty (persistence off)
    clock.advance(0.5)
    tier.set("c", b"3")
    hit = tier.get("c")
    assert hit is not None and hit.value == b"3" and not tier.degraded
    assert tier.stats()["errors"] == 1
    assert "ConnectionError" in tier.stats()["last_error"]
    tier.close()


@pytest.mark.redis
def test_foreign_value_under_our_key_is_a_miss_without_backoff(redis_url: str) -> None:
    tier = RedisTier(redis_url, clock=VirtualClock(), namespace="t")
    raw = redis.Redis.from_url(redis_url)
    raw.set("t:k", "a plain string, not our hash")  # WRONGTYPE for HGETALL
    assert tier.get("k") is None
    assert raw.exists("t:k") == 0
    raw.close()
    assert tier.stats()["corrupt"] == 1 and not tier.degraded
    tier.set("k", b"v")
    assert tier.get("k") is not None
    tier.close()


@pytest.mark.redis
def test_decode_responses_in_the_url_is_ignored(redis_url: str) -> None:
    tier = RedisTier(redis_url + "?decode_responses=True", clock=VirtualClock(), namespace="t")
    tier.set("k", "é".encode())
    assert tier.get("k") == (b"\xc3\xa9", None)
    tier.close()


@pytest.mark.redis
def test_stored_bytes_are_json_not_pickle(redis_url: str) -> None:
    from blaze_lab.cache.codec import CachedResult, encode

    tier = RedisTier(redis_url, clock=VirtualClock(), namespace="t")
    tier.set("k", encode(CachedResult(text="hi", token_ids=[1])))
    raw = redis.Redis.from_url(redis_url)
    stored = raw.hgetall("t:k")
    raw.close()
    assert set(stored) == {b"v", b"sum", b"exp"}
    assert json.loads(stored[b"v"])["type"] == "result"
    tier.close()
