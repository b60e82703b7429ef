"""Strategies: pure decisions over replica views with a seeded RNG."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.router.config import STRATEGY_NAMES, RouterConfig
from blaze_lab.router.strategies import STRATEGIES, ReplicaState, Request, make_strategy


def replicas(n: int, weights: list[float] | None = None) -> list[ReplicaState]:
    return [ReplicaState(i, f"r{i}", (weights or [1.0] * n)[i]) for i in range(n)]


def picks(name: str, reps: list[ReplicaState], n: int, seed: int = 0, **cfg: object) -> list[int]:
    s = make_strategy(RouterConfig(strategy=name, **cfg), reps)  # type: ignore[arg-type]
    rng = random.Random(seed)
    return [s.choose(reps, Request(i, session=i), rng)[0].index for i in range(n)]


def test_registry_matches_config_names() -> None:
    assert tuple(STRATEGIES) == STRATEGY_NAMES


def test_round_robin_cycles() -> None:
    assert picks("round_robin", replicas(3), 7) == [0, 1, 2, 0, 1, 2, 0]


def test_weighted_round_robin_smooth_proportions() -> None:
    reps = replicas(3, [5.0, 1.0, 1.0])
    seq = picks("weighted_round_robin", reps, 7)
    assert seq == [0, 0, 1, 0, 2, 0, 0]  # nginx smooth WRR: the heavy replica is interleaved, not bursty
    assert Counter(picks("weighted_round_robin", reps, 700)) == {0: 500, 1: 100, 2: 100}


def test_zero_weight_gets_nothing() -> None:
    assert 1 not in picks("weighted_round_robin", replicas(3, [1.0, 0.0, 1.0]), 50)


def test_random_is_seeded_and_uniform() -> None:
    a = picks("random", replicas(4), 4000, seed=7)
    assert a == picks("random", replicas(4), 4000, seed=7)
    assert all(900 < c < 1100 for c in Counter(a).values())


def test_least_connections_picks_minimum_with_random_ties() -> None:
    reps = replicas(4)
    for r, out in zip(reps, [3, 1, 1, 5], strict=True):
        r.outstanding = out
    chosen = set(picks("least_connections", reps, 200))
    assert chosen == {1, 2}


def test_p2c_never_picks_the_worse_of_two() -> None:
    reps = replicas(5)
    for r in reps:
        r.outstanding = r.index
    seq = picks("power_of_two_choices", reps, 2000)
    assert 4 not in seq  # the most loaded replica always loses its comparison
    counts = Counter(seq)
    assert counts[0] > counts[1] > counts[2] > counts[3]


def test_p2c_single_candidate() -> None:
    assert picks("power_of_two_choices", replicas(1), 3) == [0, 0, 0]


def test_consistent_hash_affinity_and_minimal_remap() -> None:
    reps = replicas(8)
    s = make_strategy(RouterConfig(strategy="consistent_hash"), reps)
    rng = random.Random(0)
    home = {k: s.choose(reps, Request(0, session=k), rng)[0].index for k in range(500)}
    again = {k: s.choose(reps, Request(1, session=k), rng)[0].index for k in range(500)}
    assert home == again  # same session -> same replica
    assert len(set(home.values())) == 8
    reps[3].eligible = False  # replica 3 leaves: only its keys move
    live = [r for r in reps if r.eligible]
    moved = {k for k in range(500) if s.choose(live, Request(2, session=k), rng)[0].index != home[k]}
    assert moved == {k for k, v in home.items() if v == 3}


def test_consistent_hash_bounded_load_spills_hot_key() -> None:
    reps = replicas(4)
    s = make_strategy(RouterConfig(strategy="consistent_hash", bounded_load_c=1.25), reps)
    rng = random.Random(0)
    placed = []
    for i in range(40):  # one hot session, requests stay outstanding
        r, why = s.choose(reps, Request(i, session=42), rng)
        r.outstanding += 1
        placed.append((r.index, why))
    loads = [r.outstanding for r in reps]
    total = sum(loads)
    assert max(loads) <= -(-1.25 * total // 4) + 1  # ceil(c * mean) bound (+1 for the request being placed)
    assert placed[0][1] == "hash home"
    assert any(why.startswith("hash spill") for _, why in placed)
    unbounded = make_strategy(RouterConfig(strategy="consistent_hash"), replicas(4))
    assert len({unbounded.choose(reps, Request(i, session=42), rng)[0].index for i in range(40)}) == 1


def test_adaptive_prefers_low_expected_latency() -> None:
    reps = replicas(3)
    reps[0].ewma_s, reps[1].ewma_s, reps[2].ewma_s = 0.1, 0.02, 0.05
    reps[1].outstanding = 4  # 0.02 * 5 = 0.10 > 0.05 * 1
    seq = picks("adaptive", reps, 500, adaptive_explore=0.0)
    assert set(seq) == {2}
    explored = picks("adaptive", reps, 2000, adaptive_explore=0.2)
    assert 0 in explored and 1 in explored


def test_adaptive_unmeasured_replica_gets_mean_prior() -> None:
    reps = replicas(3)
    reps[0].ewma_s, reps[1].ewma_s = 0.2, 0.4  # replica 2 unmeasured: prior 0.3
    reps[0].outstanding = 1  # 0.4 expected
    assert set(picks("adaptive", reps, 100, adaptive_explore=0.0)) == {2}


def test_adaptive_sampled_choices() -> None:
    reps = replicas(100)
    for r in reps:
        r.ewma_s = 0.01 * (r.index + 1)
    seq = picks("adaptive", reps, 500, adaptive_explore=0.0, adaptive_choices=2)
    assert len(set(seq)) > 10  # sampled, not a full scan


def test_ewma_update() -> None:
    r = ReplicaState(0, "r0")
    r.observe(1.0, 0.5)
    r.observe(0.0, 0.5)
    assert r.ewma_s == 0.5


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"strategy": "fastest"}, "router.strategy"), ({"weights": (1.0, -1.0)}, "router.weights"),
     ({"weights": (0.0, 0.0)}, "router.weights"), ({"bounded_load_c": 0.5}, "router.bounded_load_c"),
     ({"max_attempts": 0}, "router.max_attempts"), ({"queue_size": -1}, "router.queue_size")],
)
def test_bad_router_config(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field) as info:
        RouterConfig(**kwargs)  # type: ignore[arg-type]
    if field == "router.strategy":
        assert "power_of_two_choices" in str(info.value)  # names the allowed values
