"""KV prefix cache model and prefix index: block reuse, LRU within capacity, longest match, and the index kept in
step with evictions over a shared-prefix workload."""

from __future__ import annotations

import numpy as np
import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.load.prefix import PrefixWorkloadConfig, block_hashes, prefix_workload
from blaze_lab.replicas.prefix_cache import PrefixCacheModel
from blaze_lab.router.prefix_index import PrefixIndex


def test_hits_shorten_prefill_by_whole_blocks_and_leave_one_token() -> None:
    cache = PrefixCacheModel(capacity_tokens=1024, block_tokens=16)
    cache.serve([1, 2, 3, 4], prompt_tokens=70)
    assert cache.serve([1, 2, 5], prompt_tokens=40).prefill_tokens == 40 - 32
    assert cache.serve([1, 2, 3, 4], prompt_tokens=64).prefill_tokens == 1  # fully cached: one token still runs
    assert cache.hit_rate() == pytest.approx((32 + 63) / (70 + 40 + 64))


def test_capacity_is_respected_and_lru_evicts_the_least_recent_prefix() -> None:
    cache = PrefixCacheModel(capacity_tokens=4 * 16, block_tokens=16)
    cache.serve([1, 2], 32)
    cache.serve([3, 4], 32)
    cache.serve([1, 2], 32)  # prefix A used again: B is now least recent
    out = cache.serve([5, 6], 32)
    assert sorted(out.evicted) == [3, 4] and cache.used_tokens == 64
    assert cache.match([1, 2]) == 2 and cache.match([3, 4]) == 0


def test_a_zero_capacity_cache_never_hits() -> None:
    cache = PrefixCacheModel(capacity_tokens=0)
    cache.serve([1, 2], 40)
    assert cache.serve([1, 2], 40).prefill_tokens == 40


@pytest.mark.parametrize(("kwargs", "field"), [({"capacity_tokens": -1}, "capacity_tokens"),
                                                ({"capacity_tokens": 64, "block_tokens": 0}, "block_tokens")])
def test_bad_sizes_are_named(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"prefix_cache\.{field}"):
        PrefixCacheModel(**kwargs)


def test_longest_match_stops_at_the_first_missing_block_per_replica() -> None:
    index = PrefixIndex()
    index.record("a", [1, 2, 3])
    index.record("b", [1, 3])  # b lacks block 2: its block 3 cannot be reused for this prompt
    assert index.longest_match([1, 2, 3]) == {"a": 3, "b": 1}
    assert index.longest_match([9, 1]) == {} and index.best([9]) == (None, 0)
    index.drop_replica("a")
    assert index.best([1, 2, 3]) == ("b", 1) and len(index) == 2


def _simulate(policy: str, n_replicas: int = 4, seed: int = 0) -> tuple[float, PrefixIndex, list[PrefixCacheModel]]:
    cfg = PrefixWorkloadConfig(n_requests=400, n_groups=12, prefix_mean=256, prefix_dist="fixed", suffix_mean=32,
                               zipf_s=1.0, block_tokens=16, seed=seed)
    caches = [PrefixCacheModel(capacity_tokens=4 * 300, block_tokens=16) for _ in range(n_replicas)]
    index = PrefixIndex()
    rng = np.random.default_rng(seed)
    for req in prefix_workload(cfg):
        hashes = block_hashes(req.token_ids, 16)
        best, blocks = index.best(hashes)
        affine = policy == "affinity" and isinstance(best, int) and blocks > 0
        r = best if affine and isinstance(best, int) else int(rng.integers(n_replicas))
        out = caches[r].serve(hashes, req.prompt_tokens)
        index.record(r, hashes)
        index.forget(r, out.evicted)
    hit = sum(c.hit_tokens for c in caches) / sum(c.prompt_tokens for c in caches)
    return hit, index, caches


def test_index_stays_in_step_with_the_caches_and_affinity_raises_hit_rate() -> None:
    affinity, index, caches = _simulate("affinity")
    random_hit, _, _ = _simulate("random")
    for r, cache in enumerate(caches):  # every indexed block is really held, and vice versa
        held = {h for h, holders in index._holders.items() if r in holders}
        assert held == set(cache._blocks)
    assert affinity > random_hit + 0.1  # 12 prefixes of 16 blocks on 4 replicas of ~75 blocks each
