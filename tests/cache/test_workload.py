from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from blaze_lab.cache.memory import MemoryTier
from blaze_lab.cache.tiered import CacheConfig, TieredCache
from blaze_lab.cache.workload import simulate_cache_workload, summarize_cache_workload, zipf_keys
from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError


def test_zipf_keys_are_reproducible_and_skewed() -> None:
    keys = zipf_keys(n_unique=100, n_requests=5_000, s=1.2, seed=3)
    assert keys == zipf_keys(n_unique=100, n_requests=5_000, s=1.2, seed=3)
    assert keys != zipf_keys(n_unique=100, n_requests=5_000, s=1.2, seed=4)
    counts = Counter(keys)
    assert set(counts) <= {f"k{i}" for i in range(100)}
    # Zipf(1.2) over 100 ranks: rank 0 holds ~27 % of requests, rank 1 ~ rank0 / 2**1.2.
    assert 0.22 < counts["k0"] / 5_000 < 0.32
    assert counts["k0"] > counts["k1"] > counts["k9"]


def test_zipf_s_zero_is_uniform() -> None:
    counts = Counter(zipf_keys(n_unique=4, n_requests=8_000, s=0, seed=0))
    assert all(1_800 < c < 2_200 for c in counts.values())


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_unique": 0, "n_requests": 1}, "workload.n_unique"),
        ({"n_unique": 2, "n_requests": -1}, "workload.n_requests"),
        ({"n_unique": 2, "n_requests": 1, "s": -1.0}, "workload.s"),
    ],
)
def test_zipf_bad_inputs_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        zipf_keys(**kwargs)
    assert info.value.field == field


def test_simulated_latency_per_tier_on_a_virtual_clock(tmp_path: Path) -> None:
    clock = VirtualClock()
    cache = TieredCache.from_config(
        CacheConfig(tiers=("memory", "disk"), max_bytes=200, disk_path=str(tmp_path / "r.sqlite")), clock=clock
    )

    def compute(key: str | None) -> dict:
        clock.sleep_sync(0.5)  # simulated generation
        return {"text": key}

    keys = ["a", "a", "b", "c", "d", "a"]  # max_bytes=200 keeps ~4 small entries in L1
    rows = simulate_cache_workload(cache, keys, compute, clock, tier_cost_s={"memory": 0.001, "disk": 0.01})
    assert list(rows.columns) == ["request", "key", "tier", "hit", "lookup_s", "compute_s", "latency_s"]
    assert list(rows["tier"]) == ["miss", "memory", "miss", "miss", "miss", "memory"]
    miss = rows.iloc[0]
    assert miss["lookup_s"] == pytest.approx(0.011) and miss["latency_s"] == pytest.approx(0.511)
    assert rows.iloc[1]["latency_s"] == pytest.approx(0.001)
    cache.tiers[0].delete("a")  # type: ignore[attr-defined]
    again = simulate_cache_workload(cache, ["a"], compute, clock, tier_cost_s={"memory": 0.001, "disk": 0.01})
    assert again.iloc[0]["tier"] == "disk" and again.iloc[0]["latency_s"] == pytest.approx(0.011)
    cache.close()


def test_unknown_tier_cost_names_the_tiers() -> None:
    cache = TieredCache([MemoryTier()])
    with pytest.raises(ConfigError, match="allowed: memory"):
        simulate_cache_workload(cache, ["a"], lambda k: k, VirtualClock(), tier_cost_s={"redis": 0.001})


def test_summary_per_configuration() -> None:
    clock = VirtualClock()
    keys = zipf_keys(n_unique=20, n_requests=400, s=1.0, seed=0)
    frames = []
    for budget in (60, 10_000):  # tiny L1 (thrashes) vs one that holds everything
        cache = TieredCache([MemoryTier(max_bytes=budget, clock=clock)], clock=clock)
        rows = simulate_cache_workload(cache, keys, lambda k: (clock.sleep_sync(0.1), k)[1], clock)
        frames.append(rows.assign(**{"cache.max_bytes": budget}))
    summary = summarize_cache_workload(pd.concat(frames), by="cache.max_bytes").set_index("cache.max_bytes")
    assert summary.loc[10_000, "hit_rate"] == pytest.approx(1 - len(set(keys)) / 400)
    assert summary.loc[60, "hit_rate"] < summary.loc[10_000, "hit_rate"]
    assert summary.loc[60, "latency_s_mean"] > summary.loc[10_000, "latency_s_mean"]
    assert summary.loc[10_000, "share_memory"] == pytest.approx(summary.loc[10_000, "hit_rate"])
