"""Router replicas as Ray actors on a real local cluster: same ledger columns as in-process, actor death restarts."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

from blaze_lab.engines.base import Replica
from blaze_lab.errors import EngineError
from blaze_lab.replicas.manager import EngineManager
from blaze_lab.router.config import HealthConfig, RouterConfig, RouterExperimentConfig
from blaze_lab.router.live import run_live
from blaze_lab.router.ray_replicas import RayReplica, ray_fake_replica
from blaze_lab.router.router import Router
from blaze_lab.router.strategies import Request

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_driver(ray_cluster: Any) -> Iterator[Any]:
    """One driver connection for the module (each ray.init costs seconds here); disconnected at its end."""
    import ray

    ray.init(address=ray_cluster.address, logging_level="WARNING", log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_live_experiment_over_actors_has_the_in_process_ledger_columns(ray_driver: Any) -> None:
    cfg = RouterExperimentConfig(mode="live", replicas=2, n_requests=60, time_scale=0.2, seed=1)
    local = run_live(cfg)
    made: list[RayReplica] = []

    def factory(name: str, **kwargs: Any) -> RayReplica:
        made.append(ray_fake_replica(name, **kwargs))
        return made[-1]

    remote = run_live(cfg, replica_factory=factory)
    try:
        assert isinstance(made[0], Replica)
        assert list(remote.ledger.columns) == list(local.ledger.columns)
        assert list(remote.transitions.columns) == list(local.transitions.columns)
        assert list(remote.manager_events.columns) == list(local.manager_events.columns)
        assert len(remote.ledger) == 60 and remote.lost == 0 and remote.answered == 60
        assert set(remote.ledger["replica"]) == {"r0", "r1"}
        infos = [asyncio.run(r.info()) for r in made]
        # The engines really ran in the actors' processes, and served every answered request between them.
        assert all(info["pid"] != os.getpid() for info in infos)
        assert sum(info["served"] for info in infos) == int((remote.ledger["outcome"] == "ok").sum())
    finally:
        for r in made:
            r.close()


def test_dead_actor_fails_typed_and_the_manager_replaces_it(ray_driver: Any) -> None:
    ray = ray_driver

    async def scenario() -> tuple[list[str], int, str, list[str]]:
        replicas = [ray_fake_replica(f"r{i}", base_s=0.005) for i in range(2)]
        manager = EngineManager(replicas, check_interval_s=0.05, backoff_s=0.05)
        await manager.start()
        cfg = RouterConfig(strategy="round_robin", max_attempts=1, health=HealthConfig(interval_s=0.0))
        outcomes = []
        async with Router(cfg, replicas) as router:
            ray.kill(replicas[0].actor)  # the process hosting r0 dies (as when its node is lost)
            for i in range(4):
                try:
                    await router.submit(Request(i))
                    outcomes.append("ok")
                except EngineError as exc:
                    outcomes.append(type(exc).__name__)
            for _ in range(200):  # the monitor saw FAILED and restarted r0 in a fresh actor
                if replicas[0].actors_created == 2 and replicas[0].status.accepts_requests:
                    break
                await asyncio.sleep(0.05)
            answer = await replicas[0].submit(Request(99))
        await manager.stop()
        events = manager.events_frame()
        for r in replicas:
            r.close()
        return outcomes, replicas[0].actors_created, answer["replica"], list(events["event"])

    outcomes, created, answered_by, events = asyncio.run(scenario())
    assert "EngineUnavailable" in outcomes and "ok" in outcomes
    assert created == 2 and answered_by == "r0"
    assert "failed" in events and "recovered" in events


def test_fault_knobs_reach_the_actor_and_errors_keep_their_type(ray_driver: Any) -> None:
    async def scenario() -> tuple[str, str, bool, bool]:
        replica = ray_fake_replica("r0", base_s=0.001)
        try:
            await replica.start()
            replica.error_rate = 1.0  # what the live fault injector does to an in-process FakeEngine
            with pytest.raises(EngineError) as info:
                await replica.submit(Request(0))
            replica.error_rate = 0.0
            replica.hung = True
            try:
                healthy = await asyncio.wait_for(replica.health(), timeout=1.0)
            except TimeoutError:
                healthy = False  # a hung engine never answers its health check
            replica.hung = False
            recovered = await replica.health()
            return type(info.value).__name__, str(info.value), healthy, recovered
        finally:
            replica.close()

    name, message, healthy, recovered = asyncio.run(scenario())
    assert (name, message) == ("EngineError", "r0: injected error")  # not wrapped in a RayTaskError
    assert not healthy and recovered


def test_live_crash_fault_over_actors_restarts_the_replica(ray_driver: Any) -> None:
    cfg = RouterExperimentConfig(mode="live", replicas=2, n_requests=300, fault="crash", time_scale=0.2, seed=3)
    made: list[RayReplica] = []

    def factory(name: str, **kwargs: Any) -> RayReplica:
        made.append(ray_fake_replica(name, **kwargs))
        return made[-1]

    try:
        res = run_live(cfg, replica_factory=factory)
    finally:
        for r in made:
            r.close()
    assert res.lost == 0 and res.answered + res.typed_errors == 300
    events = res.manager_events
    r0 = events[events["replica"] == "r0"]
    assert {"failed", "restarting", "recovered"} <= set(r0["event"])  # crashed in its actor, restarted there
    assert r0.loc[r0["event"] == "recovered", "recovery_s"].iloc[0] > 0
