"""EngineManager: restart with backoff, recovery time, on a virtual clock; blocking adapter."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.engines.base import EngineStatus
from blaze_lab.errors import ConfigError, EngineUnavailable
from blaze_lab.replicas.fake import FakeEngine
from blaze_lab.replicas.manager import BlockingEngineReplica, EngineManager


class FlakyStart(FakeEngine):
    """Fails its first ``bad`` restarts."""

    def __init__(self, name: str, clock: VirtualClock, bad: int) -> None:
        super().__init__(name, clock=clock, start_s=0.5)
        self.bad = bad

    async def start(self) -> None:
        if self.starts >= 1 and self.bad > 0:
            self.bad -= 1
            self._status = EngineStatus.FAILED
            raise RuntimeError("load failed")
        await super().start()


def test_restart_with_exponential_backoff_and_recovery_time() -> None:
    async def scenario() -> tuple[list[tuple[float, str]], list[float]]:
        clock = VirtualClock()
        eng = FlakyStart("r0", clock, bad=2)
        manager = EngineManager([eng], clock, check_interval_s=0.1, backoff_s=1.0, backoff_multiplier=2.0)
        start = asyncio.create_task(manager.start())
        await clock.run_until_idle(limit=0.5)
        await start
        await clock.run_until_idle(limit=0.55)  # the monitor's first pass at 0.5; next at 0.6
        clock.advance(0.05)  # t=0.55
        eng.crash()
        await clock.run_until_idle(limit=20.0)
        await manager.stop()
        return [(round(e["time_s"], 6), e["event"]) for e in manager.events], manager.recovery_times()

    events, recovery = asyncio.run(scenario())
    # detected at the 0.6 monitor tick; restarts after 1, 2, 4 s of backoff; the third succeeds after 0.5 s start.
    assert events[2:-1] == [
        (0.6, "failed"), (1.6, "restarting"), (1.6, "restart_failed"), (3.6, "restarting"),
        (3.6, "restart_failed"), (7.6, "restarting"), (8.1, "recovered"),
    ]
    assert events[-1][1] == "stopped"
    assert recovery == [pytest.approx(7.5)]


def test_fake_engine_crash_fails_in_flight() -> None:
    async def scenario() -> str:
        clock = VirtualClock()
        eng = FakeEngine("r0", clock=clock, base_s=1.0)
        await eng.start()
        task = asyncio.create_task(eng.submit(None))
        await clock.run_until_idle(limit=0.5)
        eng.crash()
        try:
            await task
        except EngineUnavailable as exc:
            return str(exc)
        return "answered"

    assert asyncio.run(scenario()) == "r0 crashed"


def test_manager_rejects_empty() -> None:
    with pytest.raises(ConfigError, match="empty replica set"):
        EngineManager([])


class Blocking:
    """Stands in for LLMEngine: blocking load/generate/close and a status."""

    def __init__(self) -> None:
        self.status = EngineStatus.INITIALIZING
        self.calls: list[Any] = []

    def load(self) -> None:
        self.status = EngineStatus.READY

    def generate(self, prompts: list[str], max_new_tokens: int | None) -> str:
        self.calls.append((prompts, max_new_tokens))
        return "text"

    def close(self) -> None:
        self.status = EngineStatus.STOPPED


def test_blocking_adapter() -> None:
    from blaze_lab.load.requests import Request

    async def scenario() -> tuple[Any, Blocking, bool]:
        eng = Blocking()
        rep = BlockingEngineReplica("llm0", eng)
        await rep.start()
        out = await rep.submit(Request(0, prompt_tokens=3, output_tokens=5))
        await rep.stop()
        return out, eng, await rep.health()

    out, eng, healthy = asyncio.run(scenario())
    assert out == "text" and eng.calls == [(["hello hello hello"], 5)] and not healthy
