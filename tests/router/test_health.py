"""Health: N/M thresholds, passive ejection, and the async checker on a virtual clock."""

from __future__ import annotations

import asyncio

from blaze_lab.clock import VirtualClock
from blaze_lab.router.config import HealthConfig
from blaze_lab.router.health import EJECTED, HEALTHY, UNHEALTHY, HealthChecker, HealthTracker


def test_unhealthy_after_n_healthy_after_m() -> None:
    clock = VirtualClock()
    t = HealthTracker(HealthConfig(unhealthy_threshold=3, healthy_threshold=2), clock, "r0")
    for ok in (False, False, True, False, False):  # a pass in between resets the count
        t.record_check(ok)
        clock.advance(1.0)
    assert t.available
    t.record_check(False)  # third consecutive failure at t=5
    assert not t.available
    clock.advance(1.0)
    t.record_check(True)
    assert not t.available
    clock.advance(1.0)
    t.record_check(True)  # second consecutive pass at t=7
    assert t.available
    assert [(r["time_s"], r["from_state"], r["to_state"]) for r in t.transitions] == [
        (5.0, HEALTHY, UNHEALTHY),
        (7.0, UNHEALTHY, HEALTHY),
    ]


def test_passive_ejection_and_return() -> None:
    clock = VirtualClock()
    t = HealthTracker(HealthConfig(eject_consecutive_errors=3, eject_s=2.0), clock, "r0")
    t.record_result(False)
    t.record_result(False)
    t.record_result(True)  # resets
    for _ in range(3):
        t.record_result(False)
    assert not t.available and t.returns_at() == 2.0
    clock.advance(1.999)
    assert not t.available
    clock.advance(0.001)
    assert t.available and t.returns_at() is None
    assert t.transitions[0]["to_state"] == EJECTED


def test_checker_probes_periodically_and_times_out() -> None:
    async def scenario() -> list[tuple[float, str]]:
        clock = VirtualClock()
        cfg = HealthConfig(interval_s=1.0, timeout_s=0.5, unhealthy_threshold=2, healthy_threshold=1)
        tracker = HealthTracker(cfg, clock, "r0")
        state = {"hang": False}

        async def probe() -> bool:
            if state["hang"]:
                await clock.sleep(10.0)  # slower than the timeout
            return True

        checker = HealthChecker(cfg, clock, [tracker], [probe])
        checker.start()
        await clock.run_until_idle(limit=2.0)  # checks at 1, 2 pass
        state["hang"] = True
        await clock.run_until_idle(limit=4.6)  # probe at 3.0 times out at 3.5; next probe starts at 4.5
        await clock.run_until_idle(limit=5.0)
        state["hang"] = False
        await clock.run_until_idle(limit=6.1)
        await checker.stop()
        return [(row["time_s"], row["to_state"]) for row in tracker.transitions]

    # probe starts at 3.0 times out at 3.5; next starts 4.5, times out at 5.0 -> unhealthy at 5.0;
    # next probe at 6.0 passes -> healthy at 6.0.
    assert asyncio.run(scenario()) == [(5.0, UNHEALTHY), (6.0, HEALTHY)]
