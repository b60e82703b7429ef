"""Secrets: redaction of URLs, the Secret value object, and how configs carry one (to_dict, flat, hashes)."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import pickle
from typing import ClassVar

import pandas as pd
import pytest

from blaze_lab.cache.tiered import CacheConfig
from blaze_lab.config import BaseConfig, check_url, stable_hash
from blaze_lab.errors import ConfigError
from blaze_lab.secrets import Secret, redact_text, redact_url

PW = "s3cr3t-p@ss"
URL = f"redis://:{PW}@127.0.0.1:6390/0"


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("redis://:pw@127.0.0.1:6390/0", "redis://:***@127.0.0.1:6390/0"),
        (URL, "redis://:***@127.0.0.1:6390/0"),  # '@' inside the password
        ("redis://user:p:w@ss@host:1/2", "redis://user:***@host:1/2"),  # ':' and '@' inside the password
        ("redis://:p?w#x@host/0", "redis://:***@host/0"),  # '?' and '#' inside the password
        ("redis://u:pw@host/0?password=pw2", "redis://u:***@host/0?password=***"),
        ("redis://host/0?db=1&pass=x&Token=y;auth_key=z", "redis://host/0?db=1&pass=***&Token=***;auth_key=***"),
        ("redis://host/0?pass%77ord=x", "redis://host/0?pass%77ord=***"),  # percent-encoded name
        ("redis://token-only@host:6379", "redis://***@host:6379"),  # a lone userinfo may be a token
        ("redis://user:@host", "redis://user:@host"),  # nothing to hide
        ("unix:///tmp/redis.sock?db=0&password=pw", "unix:///tmp/redis.sock?db=0&password=***"),
        ("unix://:pw@/tmp/redis.sock", "unix://:***@/tmp/redis.sock"),
        ("rediss://[::1]:6379/0", "rediss://[::1]:6379/0"),
        ("redis://127.0.0.1:6379/0#frag", "redis://127.0.0.1:6379/0#frag"),
        ("redis://h/0#secret=x", "redis://h/0#secret=***"),
        ("redis://h/0?client_name=a@b", "redis://***@b"),  # '@' in the query: over-redacts, never leaks
        ("not a url: pw", "***"),  # malformed: hidden entirely
        ("redis:/user:pw@host", "***"),
        ("", ""),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_redact_text_finds_urls_in_messages() -> None:
    text = f"Error connecting to {URL}: refused; retry 'rediss://u:x@h/0?token=t'."
    assert (
        redact_text(text)
        == "Error connecting to redis://:***@127.0.0.1:6390/0: refused; retry 'rediss://u:***@h/0?token=***'."
    )


# -- the Secret value ---------------------------------------------------------------------------------------------


def test_every_printable_form_is_redacted() -> None:
    secret = Secret(URL)
    shown = [str(secret), repr(secret), f"{secret}", f"{secret!r}", f"{secret:>40}", "%s" % secret]  # noqa: UP031
    shown += [json.dumps({"u": secret}, default=str), str([secret]), str({"u": secret})]
    for text in shown:
        assert PW not in text and "s3cr3t" not in text, text
    assert str(secret) == "redis://:***@127.0.0.1:6390/0"
    assert secret.reveal() == URL
    assert secret.is_credential and not Secret("redis://127.0.0.1:6379/0").is_credential
    with pytest.raises(TypeError):
        json.dumps(secret)  # no silent default: the caller must choose (default=str redacts)


def test_a_key_secret_hides_everything() -> None:
    key = Secret("redis://looks-like-a-url-but-is-a-key", kind="key")
    assert str(key) == "***" and repr(key) == "Secret('***')" and key.to_json() == "***"


def test_immutable_equal_hashable_and_copyable() -> None:
    secret = Secret(URL)
    with pytest.raises(AttributeError):
        secret._value = "x"  # type: ignore[misc]
    assert secret == Secret(URL) and hash(secret) == hash(Secret(URL)) and secret != Secret(URL + "1")
    assert copy.copy(secret) is secret and copy.deepcopy({"s": secret})["s"] is secret


def test_pickling_a_literal_refuses_and_an_env_secret_travels_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(URL))
    monkeypatch.setenv("TEST_REDIS_URL", URL)
    from_env = Secret.from_env("TEST_REDIS_URL")
    data = pickle.dumps(from_env)
    assert PW.encode() not in data and b"TEST_REDIS_URL" in data
    assert pickle.loads(data) == from_env  # read again where it is unpickled


def test_scrub_removes_the_secret_and_its_parts() -> None:
    secret = Secret("redis://u:longpassword@h/0?token=tok-123456")
    text = "failed for redis://u:longpassword@h/0 (token tok-123456; auth longpassword)"
    scrubbed = secret.scrub(text)
    assert "longpassword" not in scrubbed and "tok-123456" not in scrubbed
    assert "redis://u:***@h/0" in scrubbed


# -- parsing: literal, {env: NAME}, placeholders -------------------------------------------------------------------


def test_env_form_reads_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_REDIS_URL", URL)
    secret = Secret.parse({"env": "MY_REDIS_URL"}, field="cache.redis_url")
    assert secret.reveal() == URL and secret.env == "MY_REDIS_URL"
    assert secret.to_json() == {"env": "MY_REDIS_URL"}
    assert repr(secret) == "Secret(env='MY_REDIS_URL', value='redis://:***@127.0.0.1:6390/0')"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"env": "MISSING_REDIS_URL"}, "MISSING_REDIS_URL is not set"),
        ({"env": "EMPTY_REDIS_URL"}, "EMPTY_REDIS_URL is empty"),
        ({"env": "not a name"}, "must name an environment variable"),
        ({"env": "X", "value": PW}, "exactly one key"),
        ({"value": PW}, "exactly one key"),
        (42, "must be a string or {env: NAME}"),
        ("redis://:***@127.0.0.1:6390/0", "redacted placeholder"),
        ("redis://h/0?password=***", "redacted placeholder"),
    ],
)
def test_bad_secret_values_name_the_field_and_never_show_a_value(
    monkeypatch: pytest.MonkeyPatch, value: object, reason: str
) -> None:
    monkeypatch.delenv("MISSING_REDIS_URL", raising=False)
    monkeypatch.setenv("EMPTY_REDIS_URL", "")
    with pytest.raises(ConfigError, match=r"^cache\.redis_url: ") as info:
        Secret.parse(value, field="cache.redis_url")
    assert info.value.field == "cache.redis_url" and reason in str(info.value)
    assert PW not in str(info.value)


def test_literal_credential_refused_only_when_asked() -> None:
    assert Secret.parse(URL, field="f").reveal() == URL
    with pytest.raises(ConfigError, match=r"f: invalid value 'redis://:\*\*\*@127\.0\.0\.1:6390/0'.*\{env: NAME\}"):
        Secret.parse(URL, field="f", literal=False)
    assert Secret.parse("redis://127.0.0.1:6379/0", field="f", literal=False).reveal() == "redis://127.0.0.1:6379/0"


# -- configs carrying secrets ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Demo(BaseConfig):
    PREFIX: ClassVar[str] = "demo"
    LOAD_FIELDS: ClassVar[tuple[str, ...]] = ("url",)
    SECRET_FIELDS: ClassVar[dict[str, str]] = {"url": "url"}
    url: Secret | str = "redis://127.0.0.1:6379/0"
    n: int = 1

    def validate(self) -> None:
        check_url(self, "url", ("redis://", "unix://"))


def test_config_serializations_never_contain_the_password() -> None:
    cfg = CacheConfig(tiers=("memory", "redis"), redis_url=URL, hmac_key="an-hmac-key-of-24-chars!")
    assert isinstance(cfg.redis_url, Secret) and cfg.secret("redis_url").reveal() == URL  # type: ignore[union-attr]
    assert cfg.flat()["cache.redis_url"] == "redis://:***@127.0.0.1:6390/0"
    assert cfg.flat()["cache.hmac_key"] == "***"
    assert cfg.to_dict()["redis_url"] == "redis://:***@127.0.0.1:6390/0"
    buffer = io.BytesIO()
    pd.DataFrame([cfg.flat()]).to_parquet(buffer, index=False)
    texts = [repr(cfg), str(cfg.to_dict()), json.dumps(cfg.to_dict()), json.dumps(cfg.flat()), str(cfg.run_fields())]
    for text in texts:
        assert "s3cr3t" not in text and "an-hmac-key" not in text, text
    assert b"s3cr3t" not in buffer.getvalue() and b"an-hmac-key" not in buffer.getvalue()


def test_config_hash_is_stable_and_ignores_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = Demo()
    # A URL without credentials hashes exactly as the plain string field did: existing run ids do not move.
    assert plain.config_hash() == stable_hash({"kind": "demo", "url": "redis://127.0.0.1:6379/0", "n": 1})
    one, other = Demo(url="redis://:pw-one@h:1/0"), Demo(url="redis://:pw-two@h:1/0")
    assert one.config_hash() == other.config_hash() == Demo(url="redis://:pw-one@h:1/0").config_hash()
    assert one.load_hash() == other.load_hash() and one != other
    assert one.config_hash() != Demo(url="redis://:pw-one@h:2/0").config_hash()  # another server is another run
    monkeypatch.setenv("A_URL", "redis://:pw-one@h:1/0")
    monkeypatch.setenv("B_URL", "redis://:pw-one@h:1/0")
    a, b = Demo.from_dict({"url": {"env": "A_URL"}}), Demo.from_dict({"url": {"env": "B_URL"}})
    assert a.config_hash() != b.config_hash()  # the variable's name is part of the identity
    monkeypatch.setenv("A_URL", "redis://:rotated@h:1/0")
    assert Demo.from_dict({"url": {"env": "A_URL"}}).config_hash() == a.config_hash()  # password rotation


def test_from_dict_takes_env_refuses_literals_and_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_REDIS_URL", URL)
    cfg = Demo.from_dict({"url": {"env": "MY_REDIS_URL"}, "n": 2})
    assert cfg.secret("url").reveal() == URL  # type: ignore[union-attr]
    assert cfg.to_dict() == {"url": {"env": "MY_REDIS_URL"}, "n": 2}  # what notebook parameters receive
    assert Demo.from_dict(cfg.to_dict()) == cfg  # ... and what the kernel rebuilds from them
    with pytest.raises(ConfigError) as info:
        Demo.from_dict({"url": URL}, where="exp.yaml:base")
    assert info.value.field == "exp.yaml:base.url" and "{env: NAME}" in str(info.value) and PW not in str(info.value)
    assert Demo.from_dict({"url": URL}, literal_secrets=True).secret("url").reveal() == URL  # type: ignore[union-attr]
    literal = Demo(url=URL)  # Python code may hold a literal; writing it down gives a placeholder that is refused
    with pytest.raises(ConfigError, match="redacted placeholder"):
        Demo.from_dict(literal.to_dict())
    monkeypatch.delenv("MY_REDIS_URL")
    with pytest.raises(ConfigError, match=r"demo\.url.*MY_REDIS_URL is not set"):
        Demo.from_dict({"url": {"env": "MY_REDIS_URL"}})


def test_validation_messages_show_the_redacted_value() -> None:
    with pytest.raises(ConfigError) as info:
        Demo(url=f"http://:{PW}@h/0")
    assert str(info.value) == "demo.url: invalid value 'http://:***@h/0'; allowed: redis://, unix://"
    with pytest.raises(ConfigError, match=r"cache\.hmac_key.*at least 16") as info:
        CacheConfig(hmac_key="short-key")
    assert "short-key" not in str(info.value)


def test_secret_accessor_is_only_for_secret_fields() -> None:
    assert Demo().secret("url") == Secret("redis://127.0.0.1:6379/0")
    assert CacheConfig().secret("hmac_key") is None
    with pytest.raises(KeyError, match=r"demo\.n is not a secret field"):
        Demo().secret("n")
    assert Demo().replace(n=3).secret("url") == Demo().secret("url")
