"""A live fake replica: the simulator's service model and fault model, slept on an injected clock.

It follows the replica lifecycle the :class:`~blaze_lab.replicas.manager.EngineManager` manages
(start/stop/health/submit). Service times come from the same :class:`~blaze_lab.replicas.service.ServiceModel`
the simulator uses, drawn from the same per-replica stream (:func:`~blaze_lab.replicas.service.replica_rngs`), so
a fake replica and a simulated one with the same seed serve the same sequence of service times. They are model
seconds, slept on the clock after multiplying by ``time_scale`` (0.1 → ten times faster than modelled).

Faults are one :class:`~blaze_lab.replicas.faults.FaultState` fed by :meth:`FakeEngine.apply_fault` (the same
dispatch as the simulator's replicas); ``error_rate``, ``added_s``, ``slowdown`` and ``hung`` are also settable
attributes. :meth:`FakeEngine.crash`: the engine goes FAILED and every in-flight request fails with
EngineUnavailable until it is restarted.

With ``cache_tokens`` the engine keeps a :class:`~blaze_lab.replicas.prefix_cache.PrefixCacheModel` (emptied on every
(re)start): a request carrying ``blocks`` reuses the KV blocks its prompt shares with it and prefills only the rest,
through the same :func:`~blaze_lab.replicas.prefix_cache.prefill_of` and
:meth:`~blaze_lab.replicas.service.ServiceModel.sample_split` the simulator calls. The answer reports
``first_token_after_s`` (real seconds from the call to the first token) and ``cached_tokens``.

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
from typing import Any

from blaze_lab.clock import Clock, RealClock
from blaze_lab.engines.base import EngineStatus
from blaze_lab.errors import EngineError, EngineUnavailable
from blaze_lab.replicas.faults import FaultEvent, FaultState
from blaze_lab.replicas.prefix_cache import PrefixCacheModel, prefill_of
from blaze_lab.replicas.service import ServiceModel, replica_rngs


def _knob(name: str) -> property:
    """An attribute that reads and writes the engine's FaultState (one fault model, two ways to set it)."""

    def get(self: FakeEngine) -> Any:
        return getattr(self.faults, name)

    def set_(self: FakeEngine, value: Any) -> None:
        setattr(self.faults, name, value)

    return property(get, set_)


class FakeEngine:
    """In-process replica that sleeps for its service time (see the module docstring).

    ``model`` overrides ``base_s`` / ``per_request_s`` / ``cv``; ``seed`` and ``index`` pick the replica's random
    streams (:func:`~blaze_lab.replicas.service.replica_rngs`).
    """

    error_rate = _knob("error_rate")
    added_s = _knob("added_s")
    slowdown = _knob("slowdown")
    hung = _knob("hung")

    def __init__(
        self,
        name: str,
        *,
        clock: Clock | None = None,
        base_s: float = 0.01,
        per_request_s: float = 0.0,
        speed: float = 1.0,
        cv: float = 0.0,
        model: ServiceModel | None = None,
        slots: int = 4,
        time_scale: float = 1.0,
        start_s: float = 0.0,
        warmup_s: float = 0.0,
        warmup_factor: float = 1.0,
        seed: int = 0,
        index: int = 0,
        cache_tokens: int = 0,
        block_tokens: int = 16,
    ) -> None:
        self.name = name
        self.clock = clock or RealClock()
        self.model = model or ServiceModel(base_s=base_s, per_request_s=per_request_s, cv=cv)
        self.speed = speed
        self.slots = slots
        self.time_scale = time_scale
        self.start_s = start_s
        self.warmup_s = warmup_s
        self.warmup_factor = warmup_factor
        self.rng, self.fault_rng = replica_rngs(seed, index)
        self.faults = FaultState()
        self.cache_tokens = cache_tokens
        self.block_tokens = block_tokens
        self.cache: PrefixCacheModel | None = None
        self._status = EngineStatus.INITIALIZING
        self._active = 0
        self._slots: asyncio.Semaphore | None = None
        self._down: asyncio.Event | None = None
        self.starts = 0
        self.served = 0
        self.held_down = False  # inside a crash fault's window: restarts fail

    def model_now(self) -> float:
        """The clock in model seconds (fault windows, warm-up and flap phases are model times)."""
        return self.clock.now() / self.time_scale

    @property
    def status(self) -> EngineStatus:
        """READY, or DEGRADED while warming up after a restart or running a slowdown fault (still serving)."""
        if self._status is EngineStatus.READY and (self.faults.slowdown > 1.0 or self.faults.warming(self.model_now())):
            return EngineStatus.DEGRADED
        return self._status

    async def start(self) -> None:
        """(Re)start: takes ``start_s`` model seconds, then runs ``warmup_factor`` times slower for ``warmup_s``."""
        self._status = EngineStatus.INITIALIZING
        if self.start_s:
            await self.clock.sleep(self.start_s * self.time_scale)
        if self.held_down:
            self._status = EngineStatus.FAILED
            raise EngineUnavailable(f"{self.name} is still down (crash fault window)")
        self._slots = asyncio.Semaphore(self.slots)
        self._down = asyncio.Event()
        self._active = 0
        # A (re)started engine has an empty KV cache, as a simulated replica after a crash.
        self.cache = PrefixCacheModel(self.cache_tokens, self.block_tokens) if self.cache_tokens else None
        self.starts += 1
        if self.starts > 1 and self.warmup_s:
            self.faults.warm_up(self.model_now(), self.warmup_s, self.warmup_factor)
        self.faults.crashed = False
        self._status = EngineStatus.READY

    async def stop(self) -> None:
        self._fail_in_flight()
        self._status = EngineStatus.STOPPED

    def crash(self) -> None:
        """Die now: FAILED, in-flight requests fail with EngineUnavailable."""
        self._fail_in_flight()
        self.faults.crashed = True
        self._status = EngineStatus.FAILED

    def apply_fault(self, event: FaultEvent) -> None:
        """Apply a fault event now. A crash kills the engine and keeps it down until the crash off-event (a restart
        before then fails, as in the simulator, where the replica is down for the whole window); bringing it back
        after that is the EngineManager's job (its detection, backoff and restart are what live mode adds)."""
        if event.kind == "crash":
            self.held_down = event.on
            if event.on:
                self.crash()
            return
        self.faults.apply(event, self.model_now())

    def _fail_in_flight(self) -> None:
        if self._down is not None:
            self._down.set()

    async def health(self) -> bool:
        """Passes when READY (or DEGRADED), not hung and not in a flapping "down" phase."""
        if self.faults.hung:
            await asyncio.get_running_loop().create_future()  # never answers; the checker's timeout fails it
        if not self.faults.health_ok(self.model_now()):
            return False
        return self._status.accepts_requests

    async def submit(self, request: Any) -> dict[str, Any]:
        """Serve one request; raises EngineUnavailable when not READY or crashed meanwhile, EngineError on an
        injected error."""
        if not self._status.accepts_requests or self._slots is None or self._down is None:
            raise EngineUnavailable(f"{self.name} is {self._status.value}")
        down = self._down
        called = self.clock.now()
        async with self._slots:
            self._active += 1
            try:
                f = self.faults
                prefill, cached = prefill_of(self.cache, request)
                first, service = self.model.sample_split(self._active, self.rng, self.speed, f.factor(self.model_now()),
                                                         f.added_s, prefill, getattr(request, "output_tokens", 0))
                first_after = self.clock.now() - called + first * self.time_scale
                failed = f.fails(self.fault_rng)  # drawn at service start, as the simulator does
                waiter = asyncio.ensure_future(down.wait())
                # A hung engine never answers: wait on a future nobody resolves (only a crash/stop ends it).
                sleeper = (
                    asyncio.get_running_loop().create_future()
                    if f.hung
                    else asyncio.ensure_future(self.clock.sleep(service * self.time_scale))
                )
                try:
                    await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    sleeper.cancel()
                if down.is_set():
                    raise EngineUnavailable(f"{self.name} crashed")
                if failed:
                    raise EngineError(f"{self.name}: injected error")
                self.served += 1
                return {"replica": self.name, "service_s": service, "first_token_after_s": first_after,
                        "cached_tokens": cached}
            finally:
                self._active -= 1


__all__ = ["FakeEngine"]
