"""Fault schedules, the simulated fault state and live injection into fake engines."""

from __future__ import annotations

import asyncio

import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.engines.base import EngineStatus
from blaze_lab.errors import ConfigError, EngineError
from blaze_lab.replicas.fake import FakeEngine
from blaze_lab.router.faults import SCENARIOS, Fault, FaultEvent, FaultState, inject, schedule


def test_schedule_is_absolute_and_drops_missing_replicas() -> None:
    events = schedule("mixed", duration_s=100.0, replicas=2)
    assert [(e.time_s, e.replica, e.kind, e.on) for e in events] == [
        (20.0, 1, "slowdown", True), (30.0, 0, "crash", True), (40.0, 0, "crash", False), (80.0, 1, "slowdown", False)
    ]
    assert schedule("none", 10.0, 4) == []
    with pytest.raises(ConfigError, match=r"router\.fault"):
        schedule("meteor", 1.0, 1)
    with pytest.raises(ConfigError, match=r"fault\.kind"):
        Fault(0, "fire", 0.1, 0.2)
    assert "crash" in SCENARIOS


def test_fault_state_effects() -> None:
    st = FaultState()
    st.apply(FaultEvent(1.0, 0, "slowdown", True, value=3.0))
    st.apply(FaultEvent(1.0, 0, "flapping", True, value=0.5))
    assert st.factor(1.0) == 3.0
    assert [st.health_ok(t) for t in (1.0, 1.25, 1.5, 1.75, 2.0)] == [False, False, True, True, False]
    st.apply(FaultEvent(2.0, 0, "crash", True))
    assert st.crashed and not st.health_ok(2.0)
    st.apply(FaultEvent(3.0, 0, "crash", False, warmup_s=1.0, warmup_factor=2.0))
    st.apply(FaultEvent(3.0, 0, "slowdown", False))
    assert st.factor(3.5) == 2.0 and st.factor(4.0) == 1.0


def test_inject_into_fake_engine_on_schedule() -> None:
    async def scenario() -> tuple[list[bool], EngineStatus, str]:
        clock = VirtualClock()
        eng = FakeEngine("r0", clock=clock, base_s=0.01, time_scale=1.0)
        await eng.start()
        events = [FaultEvent(1.0, 0, "flapping", True, value=0.5), FaultEvent(3.0, 0, "flapping", False),
                  FaultEvent(3.0, 0, "errors", True, value=1.0), FaultEvent(4.0, 0, "crash", True)]
        task = asyncio.create_task(inject([eng], events, clock))
        seen = []
        for t in (1.1, 1.6, 2.1, 3.1):
            await clock.run_until_idle(limit=t)
            clock.advance_to(t)
            seen.append(await eng.health())
        request = asyncio.create_task(eng.submit(None))
        await clock.run_until_idle(limit=3.5)
        try:
            await request
            error = ""
        except EngineError as exc:
            error = str(exc)
        await clock.run_until_idle(limit=5.0)
        await task
        return seen, eng.status, error

    seen, status, error = asyncio.run(scenario())
    assert seen == [False, True, False, True]
    assert "injected error" in error
    assert status is EngineStatus.FAILED
