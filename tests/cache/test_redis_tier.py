from __future__ import annotations

import hashlib
import json

import pytest
import redis

from blaze_lab.cache.redis_tier import RedisTier, redact_url
from blaze_lab.cache.tier import CacheTier
from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError
from blaze_lab.secrets import Secret

from .conftest import PASSWORD, RedisServer


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


LEAKY_URLS = [
    # (url, what must never appear in any message)
    ("redis://:s3cr3t-p@ss@127.0.0.1:1/0", ["s3cr3t", "p@ss"]),
    ("redis://u:pw@host/0?password=pw2", ["u:pw@", "pw2"]),
    ("redis://u:s3cr3t@127.0.0.1:1/0?db=0&password=pw-3456", ["s3cr3t", "pw-3456"]),
    ("unix://:s3cr3t-p@ss@/nonexistent/redis.sock", ["s3cr3t", "p@ss"]),
]


@pytest.mark.parametrize(("url", "secrets"), LEAKY_URLS)
def test_connect_failure_messages_never_contain_the_password(url: str, secrets: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        RedisTier(url, timeout_s=0.2)
    message = str(info.value)
    assert "cannot connect" in message and "***" in message
    assert not any(s in message for s in secrets), message
    with pytest.warns(RuntimeWarning, match="starts degraded") as warned:
        tier = RedisTier(url, required=False, timeout_s=0.2, clock=VirtualClock())
    texts = [str(w.message) for w in warned] + [tier.stats()["last_error"], repr(tier.url), str(tier.url)]
    assert not any(s in text for s in secrets for text in texts), texts
    tier.close()


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cr3t-p@ss@127.0.0.1:notaport/0",  # redis-py refuses the port
        "http://u:s3cr3t-p@ss@127.0.0.1:1/0",  # wrong scheme
        "127.0.0.1:6379?password=s3cr3t-p@ss",  # not a URL at all: hidden entirely
        "redis://:s3cr3t-p@ss/x@127.0.0.1:1/0",  # an unencoded '/' splits the password: redis-py misparses it
        "redis://u:s3cr3t-p@ss@127.0.0.1:1/0?token=s3cr3t-tok",  # an option redis-py does not know
    ],
)
def test_bad_url_messages_never_contain_the_password(url: str) -> None:
    with pytest.raises(ConfigError, match=r"cache\.redis_url") as info:
        RedisTier(url)
    assert "s3cr3t" not in str(info.value) and "p@ss" not in str(info.value)


def test_unreachable_url_without_password_is_shown_in_full(dead_redis_url: str) -> None:
    with pytest.raises(ConfigError) as info:
        RedisTier(dead_redis_url)
    assert dead_redis_url in str(info.value)
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.mark.redis
def test_password_server_works_and_wrong_password_is_redacted(redis_server_with_password: RedisServer) -> None:
    base = redis_server_with_password.url.removeprefix("redis://")
    good = Secret(f"redis://:{PASSWORD}@{base}")  # unencoded '@', ':' and '/' in the password
    tier = RedisTier(good, clock=VirtualClock(), namespace="t")
    tier.set("k", b"v")
    assert tier.get("k") == (b"v", None)
    assert PASSWORD not in repr(tier.stats()) and PASSWORD not in repr(tier.url)
    tier.close()
    wrong = f"redis://:wrong-{PASSWORD}@{base}"
    with pytest.raises(ConfigError) as info:
        RedisTier(wrong)
    assert "wrong-" not in str(info.value) and "s3cr3t" not in str(info.value)
    assert "redis://:***@127.0.0.1" in str(info.value)


# -- authentication ----------------------------------------------------------------------------------------------

KEY = "redis-test-hmac-key-0123456789"


def _forge(raw: redis.Redis, name: str, value: bytes, tag: bytes | None) -> None:
    """What anyone who can write to the shared server can do: a well-formed entry with a correct checksum."""
    mapping: dict[str, bytes | str] = {"v": value, "sum": hashlib.sha256(value).hexdigest(), "exp": ""}
    if tag is not None:
        mapping["tag"] = tag
    raw.delete(name)
    raw.hset(name, mapping=mapping)  # type: ignore[arg-type]


@pytest.mark.redis
@pytest.mark.parametrize("tag", [None, b"0" * 64])
def test_forged_entry_is_rejected_with_a_key_and_served_without(redis_url: str, tag: bytes | None) -> None:
    raw = redis.Redis.from_url(redis_url)
    forged = b'{"v":1,"type":"text","data":"planted answer"}'
    _forge(raw, "t:k", forged, tag)
    keyed = RedisTier(redis_url, clock=VirtualClock(), namespace="t", hmac_key=KEY)
    assert keyed.get("k") is None
    stats = keyed.stats()
    assert (stats["tampered"], stats["hits"], stats["misses"], stats["authenticated"]) == (1, 0, 1, True)
    assert raw.exists("t:k") == 0  # removed: it can never be served
    keyed.close()
    _forge(raw, "t:k", forged, tag)
    unkeyed = RedisTier(redis_url, clock=VirtualClock(), namespace="t")  # documented: checksum only
    assert unkeyed.get("k") == (forged, None)
    unkeyed.close()
    raw.close()


@pytest.mark.redis
def test_a_valid_entry_copied_under_another_key_is_rejected(redis_url: str) -> None:
    clock = VirtualClock()
    tier = RedisTier(redis_url, clock=clock, namespace="t", hmac_key=KEY)
    tier.set("a", b"answer for a", ttl_s=60)
    assert tier.get("a") is not None
    raw = redis.Redis.from_url(redis_url)
    stored = raw.hgetall("t:a")
    assert set(stored) == {b"v", b"sum", b"exp", b"tag"}
    raw.hset("t:b", mapping=stored)  # type: ignore[arg-type]
    assert tier.get("b") is None
    raw.hset("t:a", "exp", repr(float(stored[b"exp"]) + 3600))  # stretch its lifetime: refused too
    assert tier.get("a") is None
    assert tier.stats()["tampered"] == 2
    raw.close()
    tier.close()


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
