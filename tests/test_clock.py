import asyncio

import pytest

from blaze_lab.clock import Clock, RealClock, VirtualClock


def test_virtual_clock_advances_only_when_told() -> None:
    clock = VirtualClock()
    assert clock.now() == 0.0
    clock.advance(1.5)
    assert clock.now() == 1.5
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_virtual_sleepers_wake_in_deadline_order() -> None:
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, s: float) -> None:
        await clock.sleep(s)
        woke.append((name, clock.now()))

    async def main() -> None:
        tasks = [asyncio.create_task(sleeper("b", 2.0)), asyncio.create_task(sleeper("a", 1.0))]
        await clock.run_until_idle()
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert woke == [("a", 1.0), ("b", 2.0)]


def test_both_clocks_satisfy_protocol() -> None:
    assert isinstance(RealClock(), Clock)
    assert isinstance(VirtualClock(), Clock)
    real = RealClock()
    assert real.now() <= real.now()
