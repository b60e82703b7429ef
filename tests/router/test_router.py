"""Live router over fake engines: crash mid-run with restart, backpressure under 10,000 submissions."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest

from blaze_lab.clock import RealClock, VirtualClock
from blaze_lab.errors import BlazeLabError, EngineError, Overloaded
from blaze_lab.replicas.fake import FakeEngine
from blaze_lab.router.config import HealthConfig, RouterConfig, RouterExperimentConfig
from blaze_lab.router.live import run_live
from blaze_lab.router.router import Router
from blaze_lab.router.simulate import experiment_workload
from blaze_lab.router.strategies import Request


def test_live_crash_breaker_opens_manager_restarts_traffic_returns() -> None:
    # The live asyncio code on a virtual clock: deterministic, no real waiting, exact times.
    cfg = RouterExperimentConfig(mode="live", replicas=4, n_requests=1500, fault="crash", time_scale=0.1, seed=3)
    res = run_live(cfg, clock=VirtualClock())
    assert res.lost == 0 and res.answered + res.typed_errors == 1500
    assert len(res.ledger) == 1500 and res.ledger["request_id"].is_unique
    r0 = res.transitions[res.transitions["replica"] == "r0"]
    breaker = list(r0.loc[r0["kind"] == "breaker", "to_state"])
    assert breaker[0] == "open" and breaker[-1] == "closed"  # trials fail while the crash window lasts
    events = res.manager_events
    recovered = events[(events["replica"] == "r0") & (events["event"] == "recovered")]
    assert len(recovered) == 1
    window = 0.1 * cfg.n_requests / experiment_workload(cfg)[1]  # the preset keeps r0 down for 10% of the run
    assert window < recovered["recovery_s"].iloc[0] < window + 0.35  # + detection, backoff (<= 0.2) and start
    warmed = events[(events["replica"] == "r0") & (events["event"] == "status")]
    assert "degraded -> ready" in set(warmed["detail"])  # restarted engine warms up DEGRADED, then READY
    crash_t = events.loc[(events["replica"] == "r0") & (events["event"] == "failed"), "time_s"].iloc[0]
    planned = 0.5 * cfg.n_requests / experiment_workload(cfg)[1]  # the preset crashes r0 at 50% of the run
    assert planned <= crash_t <= planned + 0.05 + 1e-9  # detected by the manager's next 0.05 s check
    closed_t = r0.loc[r0["to_state"] == "closed", "time_s"].iloc[0]
    ledger = res.ledger
    back = ledger[(ledger["arrival_s"] > closed_t) & (ledger["outcome"] == "ok")]
    assert (back["replica"] == "r0").mean() > 0.1  # traffic returned to the restarted replica


def test_ten_thousand_concurrent_submissions_bounded_queue() -> None:
    async def scenario() -> tuple[int, int, int, int, int]:
        engines = [FakeEngine(f"r{i}", base_s=0.002, slots=2) for i in range(4)]
        for e in engines:
            await e.start()
        cfg = RouterConfig(strategy="least_connections", queue_size=200, max_inflight_per_replica=2,
                           health=HealthConfig(interval_s=0.0))
        router = Router(cfg, engines, RealClock())
        await router.start()
        tracemalloc.start()
        ok = overloaded = other = 0

        async def one(i: int) -> None:
            nonlocal ok, overloaded, other
            try:
                await router.submit(Request(i))
                ok += 1
            except Overloaded:
                overloaded += 1
            except BlazeLabError:
                other += 1

        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(10_000))), timeout=60)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        await router.stop()
        return ok, overloaded, other, router.core.max_waiting, peak

    ok, overloaded, other, max_waiting, peak = asyncio.run(scenario())
    assert ok + overloaded + other == 10_000
    assert overloaded > 9000 and ok >= 208 and other == 0
    assert max_waiting == 200  # the queue never grew past its bound
    assert peak < 200 * 1024 * 1024


def test_errors_reach_caller_typed_and_retried() -> None:
    async def scenario() -> tuple[list[str], int]:
        clock = VirtualClock()
        engines = [FakeEngine(f"r{i}", clock=clock, base_s=0.001) for i in range(2)]
        for e in engines:
            await e.start()
        engines[0].error_rate = 1.0
        engines[1].error_rate = 1.0
        cfg = RouterConfig(strategy="round_robin", max_attempts=2, retry_backoff_s=0.0,
                           health=HealthConfig(interval_s=0.0))
        kinds = []
        async with Router(cfg, engines, clock) as router:
            for i in range(3):
                task = asyncio.create_task(router.submit(Request(i)))
                await settle(clock, limit=1.0)
                with pytest.raises(EngineError) as info:
                    await task
                kinds.append(type(info.value).__name__)
            attempts = int(router.ledger()["attempts"].sum())
        return kinds, attempts

    kinds, attempts = asyncio.run(scenario())
    assert kinds == ["EngineError"] * 3 and attempts == 6


async def settle(clock: VirtualClock, limit: float) -> None:
    """Advance to each next deadline once the loop has no ready work left (an attempt under a timeout takes a few
    more event-loop hops to register its sleep than ``run_until_idle``'s three yields)."""
    while True:
        for _ in range(20):
            await asyncio.sleep(0)
        deadline = clock.next_deadline()
        if deadline is None or deadline > limit:
            return
        clock.advance_to(deadline)


def test_hedge_live_on_virtual_clock() -> None:
    async def scenario() -> tuple[str, bool, float]:
        clock = VirtualClock()
        slow = FakeEngine("slow", clock=clock, base_s=1.0)
        fast = FakeEngine("fast", clock=clock, base_s=0.1)
        for e in (slow, fast):
            await e.start()
        cfg = RouterConfig(strategy="round_robin", hedge_delay_s=0.2, health=HealthConfig(interval_s=0.0))
        router = Router(cfg, [slow, fast], clock)
        task = asyncio.create_task(router.submit(Request(0)))
        await settle(clock, limit=5.0)
        answer = await task
        row = router.ledger().iloc[0]
        await router.stop()
        return answer["replica"], bool(row["hedged"]), float(row["latency_s"])

    replica, hedged, latency = asyncio.run(scenario())
    assert (replica, hedged) == ("fast", True)
    assert latency == pytest.approx(0.3)  # hedge sent at 0.2, fast replica answers 0.1 later


def test_live_router_over_tiny_llm_engines() -> None:
    from blaze_lab.engines.llm import LLMEngine
    from blaze_lab.engines.llm.config import LLMConfig
    from blaze_lab.load.requests import Request as LoadRequest
    from blaze_lab.replicas.manager import BlockingEngineReplica, EngineManager

    async def scenario() -> tuple[list[int], list[str]]:
        cfg = LLMConfig(model="random:tiny-llama", device="cpu", new_tokens=2)
        replicas = [BlockingEngineReplica(f"llm{i}", LLMEngine(cfg)) for i in range(2)]
        manager = EngineManager(replicas)
        await manager.start()
        router_cfg = RouterConfig(strategy="power_of_two_choices", health=HealthConfig(interval_s=0.05))
        async with Router(router_cfg, replicas) as router:
            results = await asyncio.gather(
                *(router.submit(LoadRequest(i, prompt_tokens=4, output_tokens=2)) for i in range(6))
            )
            ledger = router.ledger()
        await manager.stop()
        return [len(r.token_ids[0]) for r in results], ledger["outcome"].tolist()

    lengths, outcomes = asyncio.run(scenario())
    assert lengths == [2] * 6 and outcomes == ["ok"] * 6


def test_parity_live_on_virtual_clock_equals_simulation() -> None:
    from blaze_lab.router.parity import parity

    base = RouterExperimentConfig(mode="live", replicas=3, n_requests=500, fault="crash", time_scale=0.02)
    runs, per_seed = parity(base, ["random", "least_connections", "adaptive"], seeds=[1])
    # Same model, same seed: the same p99, up to event ordering around health checks (docs/benchmarks.md).
    diff = runs["rel_diff_virtual"].abs()
    assert (diff < 0.05).all() and (diff < 1e-9).sum() >= 2, runs
    assert per_seed["spearman_virtual"].notna().all() and runs["live_lost"].eq(0).all()
    assert set(per_seed.columns) >= {"spearman", "same_best", "p99_rel_diff_mean"}
