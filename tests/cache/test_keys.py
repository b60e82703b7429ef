from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from blaze_lab.cache.keys import cache_key, is_deterministic
from blaze_lab.config import BaseConfig
from blaze_lab.errors import ConfigError


@dataclass(frozen=True)
class _Cfg(BaseConfig):
    PREFIX: ClassVar[str] = "llm"
    LOAD_FIELDS: ClassVar[tuple[str, ...]] = ("dtype",)
    dtype: str = "fp32"
    batch_size: int = 1


GREEDY = {"do_sample": False, "max_new_tokens": 8}


def test_key_is_sha256_hex_and_pinned() -> None:
    # Pinned: a change of the canonical form would silently orphan every stored entry; bump KEY_VERSION instead.
    assert (
        cache_key("m", None, [1, 2, 3], {"temperature": 0.0})
        == "1dcf8303322c8bfb7333d1685aa0254a6d7b92af3fb9af853bdb8f0210040ed7"
    )
    key = cache_key("m", {"dtype": "bf16"}, "hi", GREEDY)
    assert key is not None and len(key) == 64 and int(key, 16) >= 0


def test_dict_order_and_none_params_do_not_split_keys() -> None:
    a = cache_key("m", {"a": 1, "b": 2}, "hi", {"max_new_tokens": 8, "do_sample": False, "top_k": None})
    b = cache_key("m", {"b": 2, "a": 1}, "hi", {"do_sample": False, "max_new_tokens": 8})
    assert a == b


def test_every_part_changes_the_key() -> None:
    base = cache_key("m", {"dtype": "bf16"}, "hi", GREEDY)
    assert cache_key("m2", {"dtype": "bf16"}, "hi", GREEDY) != base
    assert cache_key("m", {"dtype": "fp32"}, "hi", GREEDY) != base
    assert cache_key("m", {"dtype": "bf16"}, "hi!", GREEDY) != base
    assert cache_key("m", {"dtype": "bf16"}, "hi", {**GREEDY, "max_new_tokens": 9}) != base


def test_base_config_uses_only_load_time_fields() -> None:
    k1 = cache_key("m", _Cfg(dtype="bf16", batch_size=1), "hi", GREEDY)
    k8 = cache_key("m", _Cfg(dtype="bf16", batch_size=8), "hi", GREEDY)
    assert k1 == k8
    pairs = cache_key("m", _Cfg(dtype="bf16").load_key(), "hi", GREEDY)
    assert pairs == cache_key("m", {"dtype": "bf16"}, "hi", GREEDY)
    assert pairs != k1  # a BaseConfig also keys on its kind (PREFIX): llm and diffusion configs never collide
    assert cache_key("m", _Cfg(dtype="fp32"), "hi", GREEDY) != k1


def test_greedy_ignores_seed_and_temperature() -> None:
    assert cache_key("m", None, "hi", {**GREEDY, "seed": 1}) == cache_key("m", None, "hi", {**GREEDY, "seed": 2})


@pytest.mark.parametrize(
    ("sampling", "deterministic"),
    [
        (None, True),
        ({}, True),
        ({"do_sample": False}, True),
        ({"temperature": 0}, True),
        ({"num_beams": 4}, True),
        ({"do_sample": True}, False),
        ({"temperature": 0.7}, False),
        ({"do_sample": True, "seed": None}, False),
        ({"do_sample": True, "seed": True}, False),
        ({"do_sample": True, "seed": 0}, True),
        ({"temperature": 0.7, "seed": 123}, True),
    ],
)
def test_only_deterministic_requests_are_cacheable(sampling: dict | None, deterministic: bool) -> None:
    assert is_deterministic(sampling) is deterministic
    assert (cache_key("m", None, "hi", sampling) is not None) is deterministic


def test_seeded_sampling_keys_differ_by_seed() -> None:
    s1 = cache_key("m", None, "hi", {"do_sample": True, "seed": 1})
    s2 = cache_key("m", None, "hi", {"do_sample": True, "seed": 2})
    assert s1 is not None and s2 is not None and s1 != s2


def test_non_json_values_raise_config_error_naming_the_place() -> None:
    with pytest.raises(ConfigError, match=r"load_config\.dtype"):
        cache_key("m", {"dtype": object()}, "hi", GREEDY)
    with pytest.raises(ConfigError, match=r"sampling\.top_p"):
        cache_key("m", None, "hi", {"do_sample": True, "seed": 1, "top_p": float("nan")})
    with pytest.raises(ConfigError, match=r"sampling\.do_sample"):
        cache_key("m", None, "hi", {"do_sample": "yes"})
    with pytest.raises(ConfigError, match="model"):
        cache_key("", None, "hi", GREEDY)
