"""Prefix KV reuse on a real (tiny, random-weight) transformers model: same tokens, fewer prefilled tokens."""

from __future__ import annotations

from typing import Any

import pytest

from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.engines.llm.loading import load_llm
from blaze_lab.engines.llm.prefix_kv import PrefixKVCache
from blaze_lab.errors import ConfigError


@pytest.fixture(scope="module")
def loaded() -> Any:
    return load_llm(LLMConfig(model="random:tiny-llama", device="cpu"))


def test_reuse_generates_the_same_tokens_and_counts_hits(loaded: Any) -> None:
    kv = PrefixKVCache(loaded)
    prefix = list(range(5, 37))
    a, b = [*prefix, 50, 51, 52], [*prefix, 60, 61]
    first = kv.generate(a, prefix_tokens=32, new_tokens=6)
    assert not first.prefix_hit and first.reused_tokens == 32
    second = kv.generate(b, prefix_tokens=32, new_tokens=6)
    assert second.prefix_hit and kv.stats() == {"prefixes": 1, "hits": 1, "misses": 1}
    for prompt, out in ((a, first), (b, second)):
        base = kv.generate(prompt, prefix_tokens=32, new_tokens=6, reuse=False)
        assert base.reused_tokens == 0
        assert out.token_ids == base.token_ids and len(out.token_ids) == 6
        assert out.timings.ttft_s > 0 and out.timings.output_tokens == 6


def test_the_stored_prefix_is_not_mutated_by_generate(loaded: Any) -> None:
    kv = PrefixKVCache(loaded)
    prefix = list(range(100, 120))
    kv.generate([*prefix, 1, 2], prefix_tokens=20, new_tokens=4)
    assert kv.prefill(prefix).get_seq_length() == 20  # generate worked on a copy


def test_lru_keeps_at_most_max_prefixes(loaded: Any) -> None:
    kv = PrefixKVCache(loaded, max_prefixes=2)
    for start in (10, 20, 30):
        kv.prefill(list(range(start, start + 8)))
    assert len(kv) == 2
    kv.prefill(list(range(10, 18)))  # evicted: computed again
    assert kv.stats()["misses"] == 4


@pytest.mark.parametrize("prefix_tokens", [-1, 4])
def test_prefix_must_leave_a_suffix_token(loaded: Any, prefix_tokens: int) -> None:
    with pytest.raises(ConfigError, match=r"prefix_kv\.prefix_tokens"):
        PrefixKVCache(loaded).generate([1, 2, 3, 4], prefix_tokens=prefix_tokens, new_tokens=2)


def test_bad_capacity_is_named(loaded: Any) -> None:
    with pytest.raises(ConfigError, match=r"prefix_kv\.max_prefixes"):
        PrefixKVCache(loaded, max_prefixes=0)


def test_automatic_reuse_finds_the_shared_run_and_matches_full_prefill(loaded: Any) -> None:
    kv = PrefixKVCache(loaded, max_prefixes=4)
    shared = list(range(200, 240))
    first = kv.generate_auto([*shared, 1, 2, 3], new_tokens=5, min_reuse_tokens=8)
    assert first.reused_tokens == 0 and not first.prefix_hit
    second = kv.generate_auto([*shared, 7, 8], new_tokens=5, min_reuse_tokens=8)
    assert second.prefix_hit and second.reused_tokens == 40
    base = kv.generate([*shared, 7, 8], prefix_tokens=0, new_tokens=5, reuse=False)
    assert second.token_ids[: len(base.token_ids)] == base.token_ids[: len(second.token_ids)]
    assert len(kv) == 2 and kv.longest_stored([*shared, 7, 8, 9]) == (tuple([*shared, 7, 8]), 42)
    unrelated = kv.generate_auto([600, 601, 602, 603], new_tokens=2, min_reuse_tokens=8)
    assert unrelated.reused_tokens == 0 and kv.stats()["misses"] == 2
