"""Time, injected.

Nothing in blaze_lab reads the system clock directly: breakers, health checks, batcher deadlines, the router, the
load generator and the measurement loop take a :class:`Clock`. Production code uses :class:`RealClock`; tests and
the simulator use :class:`VirtualClock`, whose time moves only when told to, so no test sleeps to wait for a
timeout and simulations are deterministic.

Example:
    >>> clock = VirtualClock()
    >>> clock.now()
    0.0
    >>> clock.advance(2.5)
    >>> clock.now()
    2.5
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A source of monotonic time (seconds) plus a way to wait on it."""

    def now(self) -> float:
        """Monotonic seconds; only differences are meaningful."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch (for timestamps in manifests and ledgers)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    def sleep_sync(self, seconds: float) -> None:
        """Blocking wait (used by synchronous loops such as backoff in the engine manager)."""
        ...


class RealClock:
    """The process clock: ``time.perf_counter`` for intervals, ``time.time`` for timestamps."""

    def now(self) -> float:
        return time.perf_counter()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def sleep_sync(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class VirtualClock:
    """A clock that moves only when :meth:`advance` / :meth:`advance_to` is called.

    ``await clock.sleep(s)`` parks the coroutine until virtual time reaches ``now + s``; advancing the clock wakes
    every sleeper whose deadline has passed, in deadline order. ``sleep_sync`` simply advances time (a synchronous
    caller has nobody else to advance it).
    """

    def __init__(self, start: float = 0.0, epoch: float = 1_700_000_000.0) -> None:
        self._t = float(start)
        self._epoch = epoch
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._t

    def wall(self) -> float:
        return self._epoch + self._t

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._t + seconds, next(self._seq), fut))
        await fut

    def sleep_sync(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def next_deadline(self) -> float | None:
        """Earliest deadline of a pending ``sleep``, or None."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (must be >= 0) and wake due sleepers."""
        if seconds < 0:
            raise ValueError("VirtualClock cannot go backwards")
        self.advance_to(self._t + seconds)

    def advance_to(self, t: float) -> None:
        """Move time forward to ``t`` and wake due sleepers."""
        if t < self._t:
            raise ValueError("VirtualClock cannot go backwards")
        while self._sleepers and self._sleepers[0][0] <= t:
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._t = max(self._t, deadline)
            if not fut.done():
                fut.set_result(None)
        self._t = t

    async def run_until_idle(self, limit: float = float("inf")) -> None:
        """Advance from sleeper to sleeper, letting woken tasks run, until none is pending or ``limit`` is hit."""
        while True:
            for _ in range(3):  # let woken coroutines run and possibly schedule new sleeps
                await asyncio.sleep(0)
            deadline = self.next_deadline()
            if deadline is None or deadline > limit:
                return
            self.advance_to(deadline)


__all__ = ["Clock", "RealClock", "VirtualClock"]
