"""Arrival processes and the closed loop."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError, Overloaded
from blaze_lab.load.arrivals import arrival_times, interarrival_gaps, run_closed_loop


@pytest.mark.parametrize(("kind", "cv"), [("poisson", 1.0), ("gamma", 3.0), ("gamma", 0.5), ("constant", 0.0)])
def test_gap_mean_and_cv(kind: str, cv: float) -> None:
    gaps = interarrival_gaps(kind, rate=50.0, n=200_000, cv=cv or 1.0, seed=1)
    assert gaps.mean() == pytest.approx(0.02, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, abs=0.05)


def test_seeded_and_increasing() -> None:
    a = arrival_times("gamma", 10.0, 1000, cv=2.0, seed=3)
    assert np.array_equal(a, arrival_times("gamma", 10.0, 1000, cv=2.0, seed=3))
    assert not np.array_equal(a, arrival_times("gamma", 10.0, 1000, cv=2.0, seed=4))
    assert np.all(np.diff(a) >= 0)


@pytest.mark.parametrize(("kwargs", "field"), [({"kind": "burst"}, "load.arrival"), ({"rate": 0.0}, "load.rate"),
                                               ({"cv": -1.0}, "load.burstiness_cv")])
def test_bad_arrivals(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"kind": "poisson", "rate": 1.0, "n": 3, **kwargs}
    with pytest.raises(ConfigError, match=field):
        interarrival_gaps(**args)  # type: ignore[arg-type]


def test_closed_loop_keeps_concurrency_and_returns_typed_errors() -> None:
    async def scenario() -> tuple[int, list[object], float]:
        clock = VirtualClock()
        running = 0
        peak = 0

        async def submit(i: int) -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await clock.sleep(1.0)
            running -= 1
            if i == 3:
                raise Overloaded("full")
            return i

        task = asyncio.create_task(run_closed_loop(submit, range(10), concurrency=3, clock=clock, think_s=0.5))
        await clock.run_until_idle()
        out = await task
        return peak, [r for _, r in out], clock.now()

    peak, results, end = asyncio.run(scenario())
    assert peak == 3 and len(results) == 10
    assert sum(isinstance(r, Overloaded) for r in results) == 1
    assert end == 6.0  # 4 rounds of (1 s service + 0.5 s think) for the busiest user
