"""A fake engine with a configurable, load-dependent service time and injectable faults (live-mode tests).

It follows the replica lifecycle the :class:`~blaze_lab.engines.manager.EngineManager` manages
(start/stop/health/submit) and the same service-time law as the simulator: a request starting while ``k``
requests run takes ``(base_s + per_request_s·(k−1)) · speed · slowdown · warm-up · noise + added_s`` model
seconds, slept on the injected clock after multiplying by ``time_scale`` (0.1 → ten times faster than modelled).

Faults are plain attributes (``error_rate``, ``added_s``, ``slowdown``, ``hung``, ``flap_period_s``) plus
:meth:`FakeEngine.crash`:
the engine goes FAILED and every in-flight request fails with EngineUnavailable until it is restarted.

Example:
    >>> import asyncio
    >>> from blaze_lab.clock import VirtualClock
    >>> async def demo():
    ...     clock = VirtualClock()
    ...     eng = FakeEngine("r0", clock=clock, base_s=0.01, cv=0.0)
    ...     await eng.start()
    ...     task = asyncio.create_task(eng.submit(None))
    ...     await clock.run_until_idle()
    ...     return (await task)["service_s"]
    >>> asyncio.run(demo())
    0.01
"""

from __future__ import annotations

import asyncio
import math
import random
from typing import Any

from blaze_lab.clock import Clock, RealClock
from blaze_lab.engines.base import EngineStatus
from blaze_lab.errors import EngineError, EngineUnavailable


class FakeEngine:
    """In-process replica that sleeps for its service time (see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        clock: Clock | None = None,
        base_s: float = 0.01,
        per_request_s: float = 0.0,
        speed: float = 1.0,
        cv: float = 0.0,
        slots: int = 4,
        time_scale: float = 1.0,
        start_s: float = 0.0,
        warmup_s: float = 0.0,
        warmup_factor: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.name = name
        self.clock = clock or RealClock()
        self.base_s = base_s
        self.per_request_s = per_request_s
        self.speed = speed
        self.cv = cv
        self.slots = slots
        self.time_scale = time_scale
        self.start_s = start_s
        self.warmup_s = warmup_s
        self.warmup_factor = warmup_factor
        self.rng = random.Random(seed)
        # Fault knobs (set directly or by blaze_lab.router.faults.apply_to_engine).
        self.error_rate = 0.0
        self.added_s = 0.0
        self.slowdown = 1.0
        self.hung = False
        self.flap_period_s = 0.0  # > 0: health checks alternate fail/pass every this many (real) seconds
        self.flap_since = 0.0
        self._status = EngineStatus.INITIALIZING
        self._active = 0
        self._slots: asyncio.Semaphore | None = None
        self._down: asyncio.Event | None = None
        self._warm_until = -math.inf
        self.starts = 0
        self.served = 0

    @property
    def status(self) -> EngineStatus:
        """READY, or DEGRADED while warming up after a restart or running a slowdown fault (still serving)."""
        if self._status is EngineStatus.READY and (self.slowdown > 1.0 or self.clock.now() < self._warm_until):
            return EngineStatus.DEGRADED
        return self._status

    async def start(self) -> None:
        """(Re)start: takes ``start_s`` model seconds, then runs ``warmup_factor`` times slower for ``warmup_s``."""
        self._status = EngineStatus.INITIALIZING
        if self.start_s:
            await self.clock.sleep(self.start_s * self.time_scale)
        self._slots = asyncio.Semaphore(self.slots)
        self._down = asyncio.Event()
        self._active = 0
        self.starts += 1
        if self.starts > 1 and self.warmup_s:
            self._warm_until = self.clock.now() + self.warmup_s * self.time_scale
        self._status = EngineStatus.READY

    async def stop(self) -> None:
        self._fail_in_flight()
        self._status = EngineStatus.STOPPED

    def crash(self) -> None:
        """Die now: FAILED, in-flight requests fail with EngineUnavailable."""
        self._fail_in_flight()
        self._status = EngineStatus.FAILED

    def _fail_in_flight(self) -> None:
        if self._down is not None:
            self._down.set()

    async def health(self) -> bool:
        """Passes when READY (or DEGRADED), not hung and not in a flapping "down" phase."""
        if self.hung:
            await asyncio.get_running_loop().create_future()  # never answers; the checker's timeout fails it
        if self.flap_period_s and int((self.clock.now() - self.flap_since) / self.flap_period_s) % 2 == 0:
            return False
        return self._status.accepts_requests

    async def submit(self, request: Any) -> dict[str, Any]:
        """Serve one request; raises EngineUnavailable when not READY or crashed meanwhile, EngineError on an
        injected error."""
        if not self._status.accepts_requests or self._slots is None or self._down is None:
            raise EngineUnavailable(f"{self.name} is {self._status.value}")
        down = self._down
        async with self._slots:
            self._active += 1
            try:
                service = self._service_s()
                waiter = asyncio.ensure_future(down.wait())
                # A hung engine never answers: wait on a future nobody resolves (only a crash/stop ends it).
                sleeper = (
                    asyncio.get_running_loop().create_future()
                    if self.hung
                    else asyncio.ensure_future(self.clock.sleep(service * self.time_scale))
                )
                try:
                    await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    sleeper.cancel()
                if down.is_set():
                    raise EngineUnavailable(f"{self.name} crashed")
                if self.error_rate and self.rng.random() < self.error_rate:
                    raise EngineError(f"{self.name}: injected error")
                self.served += 1
                return {"replica": self.name, "service_s": service}
            finally:
                self._active -= 1

    def _service_s(self) -> float:
        warm = self.warmup_factor if self.clock.now() < self._warm_until else 1.0
        mean = (self.base_s + self.per_request_s * (self._active - 1)) * self.speed * self.slowdown * warm
        if self.cv:
            sigma2 = math.log(1.0 + self.cv * self.cv)
            mean *= self.rng.lognormvariate(-sigma2 / 2.0, math.sqrt(sigma2))
        return mean + self.added_s


__all__ = ["FakeEngine"]
