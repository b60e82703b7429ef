"""Regression tests: each failed before its fix (hashing, stop, manager, retries column, ties, k-choices,
breaker window, default attempt timeout)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pandas as pd
import pytest

from blaze_lab.cache.models import ModelCache
from blaze_lab.clock import VirtualClock
from blaze_lab.engines.base import CachedModelEngine, EngineStatus
from blaze_lab.errors import ConfigError, RequestTimeout
from blaze_lab.load.slo import SLO
from blaze_lab.replicas.fake import FakeEngine
from blaze_lab.replicas.manager import BlockingEngineReplica, EngineManager
from blaze_lab.router.bench import summarize_ledger
from blaze_lab.router.config import BreakerConfig, HealthConfig, RouterConfig
from blaze_lab.router.core import RouterCore
from blaze_lab.router.router import Router
from blaze_lab.router.strategies import ReplicaState, Request, make_strategy


def test_consistent_hash_retry_goes_to_another_replica() -> None:
    clock = VirtualClock()
    core = RouterCore(RouterConfig(strategy="consistent_hash", retry_backoff_s=0.0,
                                   health=HealthConfig(interval_s=0.0)), ["a", "b", "c", "d"], clock)
    core.submit(Request(0, session=11))
    first = core.outbox.pop()
    core.finish(first, ok=False, error="EngineError")
    second = core.outbox.pop()
    assert second.replica is not first.replica and second.number == 2


def test_consistent_hash_walks_only_the_offered_candidates() -> None:
    reps = [ReplicaState(i, f"r{i}") for i in range(4)]
    s = make_strategy(RouterConfig(strategy="consistent_hash"), reps)
    home, _ = s.choose(reps, Request(0, session=5), random.Random(0))
    others = [r for r in reps if r is not home]
    assert s.choose(others, Request(0, session=5), random.Random(0))[0] in others


def test_router_stop_answers_every_open_request() -> None:
    async def scenario() -> tuple[str, pd.DataFrame]:
        clock = VirtualClock()
        eng = FakeEngine("r0", clock=clock, base_s=10.0, slots=1)
        await eng.start()
        router = Router(RouterConfig(max_inflight_per_replica=1, health=HealthConfig(interval_s=0.0)), [eng], clock)
        await router.start()
        tasks = [asyncio.create_task(router.submit(Request(i))) for i in range(3)]  # 1 running, 2 queued
        await clock.run_until_idle(limit=1.0)
        await router.stop()
        errors = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=5)
        return ",".join(type(e).__name__ for e in errors), router.ledger()

    kinds, ledger = asyncio.run(scenario())
    assert kinds == "EngineUnavailable,EngineUnavailable,EngineUnavailable"
    assert sorted(ledger["request_id"]) == [0, 1, 2] and set(ledger["error_type"]) == {"EngineUnavailable"}


def test_manager_does_not_restart_a_replica_that_gave_up() -> None:
    class NeverStarts(FakeEngine):
        async def start(self) -> None:
            if self.starts >= 1:
                self._status = EngineStatus.FAILED
                raise RuntimeError("load failed")
            await super().start()

    async def scenario() -> tuple[int, list[str]]:
        clock = VirtualClock()
        eng = NeverStarts("r0", clock=clock)
        manager = EngineManager([eng], clock, check_interval_s=0.1, backoff_s=0.1, max_restarts=2)
        await manager.start()
        eng.crash()
        await clock.run_until_idle(limit=30.0)
        await manager.stop()
        return manager.restarts["r0"], [e["event"] for e in manager.events]

    restarts, events = asyncio.run(scenario())
    assert restarts == 2 and events.count("gave_up") == 1 and events.count("failed") == 1


class _FlakyLoad(CachedModelEngine):
    """A cached-model engine whose first load fails (the failure is memoised per load key)."""

    def __init__(self) -> None:
        self.config = type("Cfg", (), {"load_key": lambda self: ("m",)})()
        self.model_cache = ModelCache()
        self.loads = 0
        self._init_lifecycle()

    def _load_uncached(self, config: Any) -> tuple[Any, int]:
        self.loads += 1
        if self.loads == 1:
            raise RuntimeError("disk hiccup")
        return object(), 1


def test_restart_retries_a_load_that_failed_before() -> None:
    async def scenario() -> tuple[EngineStatus, int]:
        engine = _FlakyLoad()
        replica = BlockingEngineReplica("r0", engine)
        with pytest.raises(RuntimeError):
            await replica.start()
        await replica.stop()
        await replica.start()  # what the manager's restart does
        return replica.status, engine.loads

    status, loads = asyncio.run(scenario())
    assert status is EngineStatus.READY and loads == 2


def test_retries_column_does_not_count_hedges() -> None:
    ledger = pd.DataFrame({"outcome": ["ok", "ok", "ok"], "attempts": [2, 1, 3], "hedged": [True, False, True],
                           "latency_s": [0.1, 0.1, 0.1], "queue_wait_s": [0.0] * 3, "error_type": [""] * 3,
                           "replica": ["a", "b", "a"], "arrival_s": [0.0, 0.1, 0.2], "finish_s": [0.1, 0.2, 0.3]})
    transitions = pd.DataFrame({"kind": [], "to_state": []})
    row = summarize_ledger(ledger, transitions, 1.0, SLO(e2e_s=1.0))
    assert row["retries"] == 1 and row["hedged"] == 2


def test_least_connections_ties_are_uniform() -> None:
    reps = [ReplicaState(i, f"r{i}") for i in range(8)]
    for r in reps[2:]:
        r.outstanding = 5
    s = make_strategy(RouterConfig(strategy="least_connections"), reps)
    rng = random.Random(0)
    counts = Counter(s.choose(reps, Request(i), rng)[0].index for i in range(4000))
    assert set(counts) == {0, 1} and abs(counts[0] - counts[1]) < 250  # was 7:1 (88/12)


def test_k_choices_sample_without_replacement() -> None:
    reps = [ReplicaState(i, f"r{i}") for i in range(3)]
    reps[0].ewma_s, reps[1].ewma_s, reps[2].ewma_s = 0.1, 0.2, 0.5
    s = make_strategy(RouterConfig(strategy="adaptive", adaptive_choices=2, adaptive_explore=0.0), reps)
    rng = random.Random(0)
    picks = Counter(s.choose(reps, Request(i), rng)[0].index for i in range(900))
    # Two distinct candidates: the slowest always loses its comparison (drawn twice, it used to win ~1/9).
    assert picks[2] == 0 and picks[0] > picks[1] > 0


def test_minimum_calls_above_window_rejected() -> None:
    with pytest.raises(ConfigError, match=r"breaker\.minimum_calls"):
        BreakerConfig(window_size=10, minimum_calls=20)


def test_default_attempt_timeout_frees_a_hung_replica() -> None:
    assert RouterConfig().attempt_timeout_s > 0

    async def scenario() -> str:
        clock = VirtualClock()
        eng = FakeEngine("r0", clock=clock)
        await eng.start()
        eng.hung = True
        router = Router(RouterConfig(max_attempts=1, health=HealthConfig(interval_s=0.0)), [eng], clock)
        await router.start()
        task = asyncio.create_task(router.submit(Request(0)))
        await clock.run_until_idle(limit=100.0)
        try:
            await asyncio.wait_for(task, timeout=5)
        except RequestTimeout as exc:
            return str(exc)
        finally:
            await router.stop()
        return "answered"

    assert "exceeded 30.0s" in asyncio.run(scenario())
