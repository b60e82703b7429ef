"""A real LLM engine as a routable replica that can crash: what a live availability experiment runs.

:class:`LLMReplica` owns one :class:`~blaze_lab.engines.llm.engine.LLMEngine` with its *own*
:class:`~blaze_lab.cache.models.ModelCache`, so replicas in one process share nothing a crash could take down
together (as separate processes would not). It follows the replica lifecycle the
:class:`~blaze_lab.replicas.manager.EngineManager` manages and takes the fault events of
:mod:`blaze_lab.router.faults` like the fake replicas do:

* ``crash`` — the engine dies: its model is unloaded, status FAILED, every in-flight and queued request fails
  with EngineUnavailable (a generate already running in its thread finishes unseen, like work lost with a dead
  process). Until the crash's off-event a restart fails (the replica is held down); after it, the manager's
  restart builds a fresh engine and loads the model again (a real load: that is the recovery time measured).
* ``errors``, ``latency``, ``slowdown``, ``hang``, ``flapping`` — one
  :class:`~blaze_lab.replicas.faults.FaultState`, read as the fake replicas read it (a slowdown stretches the
  measured generate time, the extra is waited on the clock).

Requests run one at a time (one model, one forward at a time), each a greedy generate of ``new_tokens`` tokens from
a fixed 9-word prompt, in a worker thread so the event loop keeps routing meanwhile.

Example (inside a coroutine; loads a tiny random-weight model)::

    rep = LLMReplica("r0", LLMConfig(model="random:tiny-llama", device="cpu"), new_tokens=4)
    await rep.start()
    answer = await rep.submit(request)     # {"replica": "r0", "service_s": ..., "tokens": 4}
    rep.apply_fault(FaultEvent(0.0, 0, "crash", True))   # FAILED until the off-event and a restart
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from blaze_lab.cache.models import ModelCache
from blaze_lab.clock import Clock, RealClock
from blaze_lab.engines.base import EngineStatus
from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.errors import EngineError, EngineUnavailable
from blaze_lab.replicas.faults import FaultEvent, FaultState
from blaze_lab.replicas.service import replica_rngs

PROMPT = "the quick brown fox jumps over the lazy dog"


class LLMReplica:
    """A crashable replica around a real LLMEngine (see the module docstring)."""

    def __init__(
        self,
        name: str,
        config: LLMConfig,
        *,
        clock: Clock | None = None,
        new_tokens: int = 4,
        seed: int = 0,
        index: int = 0,
    ) -> None:
        self.name = name
        self.config = config
        self.clock = clock or RealClock()
        self.new_tokens = new_tokens
        self.faults = FaultState()
        self.fault_rng = replica_rngs(seed, index)[1]
        self.engine: Any = None
        self.held_down = False  # inside a crash fault's window: restarts fail
        self.crashed = False
        self.starts = 0
        self.served = 0
        self._lock: asyncio.Lock | None = None
        self._down: asyncio.Event | None = None
        self._starting = False

    @classmethod
    def from_model(
        cls, name: str, model: str, *, clock: Clock | None = None, new_tokens: int = 4, seed: int = 0, index: int = 0
    ) -> LLMReplica:
        """A replica of ``model`` (any LLM model spec, e.g. ``random:tiny-llama``) on the default device."""
        config = LLMConfig(model=model, device="auto", new_tokens=new_tokens, seed=seed)
        return cls(name, config, clock=clock, new_tokens=new_tokens, seed=seed, index=index)

    @property
    def status(self) -> EngineStatus:
        if self.crashed:
            return EngineStatus.FAILED
        if self._starting or self.engine is None:
            return EngineStatus.INITIALIZING
        status: EngineStatus = self.engine.status
        if status is EngineStatus.READY and self.faults.slowdown > 1.0:
            return EngineStatus.DEGRADED
        return status

    async def start(self) -> None:
        """Build a fresh engine and load its model (in a thread). Fails while a crash fault holds it down."""
        from blaze_lab.engines.llm.engine import LLMEngine
        from blaze_lab.replicas.manager import locked_load

        if self.held_down:
            self.crashed = True
            raise EngineUnavailable(f"{self.name} is still down (crash fault window)")
        self._starting = True
        try:
            engine = LLMEngine(self.config, model_cache=ModelCache(), clock=self.clock)
            await asyncio.to_thread(locked_load, engine)
        finally:
            self._starting = False
        self.engine = engine
        self._lock = asyncio.Lock()
        self._down = asyncio.Event()
        self.crashed = False
        self.faults.crashed = False
        self.starts += 1

    async def stop(self) -> None:
        self._fail_in_flight()
        if self.engine is not None and self.engine.status is not EngineStatus.STOPPED:
            self.engine.close()

    def crash(self) -> None:
        """Die now: the model is unloaded, status FAILED, in-flight and queued requests fail."""
        self._fail_in_flight()
        self.crashed = True
        self.faults.crashed = True
        if self.engine is not None:
            self.engine.close()

    def apply_fault(self, event: FaultEvent) -> None:
        """Apply a fault event now (a crash holds the replica down until its off-event; see the module docstring)."""
        if event.kind == "crash":
            self.held_down = event.on
            if event.on:
                self.crash()
            return
        self.faults.apply(event, self.clock.now())

    def _fail_in_flight(self) -> None:
        if self._down is not None:
            self._down.set()

    async def health(self) -> bool:
        if self.faults.hung:
            await asyncio.get_running_loop().create_future()  # never answers; the checker's timeout fails it
        if not self.faults.health_ok(self.clock.now()):
            return False
        return self.status.accepts_requests

    async def submit(self, request: Any) -> dict[str, Any]:
        """Generate ``new_tokens`` tokens; EngineUnavailable when down or crashed meanwhile, EngineError on an
        injected error."""
        if not self.status.accepts_requests or self._lock is None or self._down is None:
            raise EngineUnavailable(f"{self.name} is {self.status.value}")
        down, lock, engine = self._down, self._lock, self.engine
        waiter = asyncio.ensure_future(down.wait())
        try:
            acquire = asyncio.ensure_future(lock.acquire())
            try:
                await asyncio.wait({waiter, acquire}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                _abandon(acquire, lock)
                raise
            if not acquire.done() or down.is_set():
                _abandon(acquire, lock)
                raise EngineUnavailable(f"{self.name} crashed")
            f = self.faults
            failed = f.fails(self.fault_rng)  # drawn at service start, as the other replicas do
            t0 = time.perf_counter()
            if f.hung:
                work: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                lock.release()
            else:
                work = asyncio.ensure_future(asyncio.to_thread(engine.generate, [PROMPT], self.new_tokens))
                # The lock is held until the generate thread ends, even if this call is cancelled meanwhile (a
                # hedge loser, a timeout): the model runs one forward at a time.
                work.add_done_callback(lambda done: _release(lock, done))
            await asyncio.wait({waiter, work}, return_when=asyncio.FIRST_COMPLETED)
            if down.is_set():
                raise EngineUnavailable(f"{self.name} crashed")
            result = work.result()
            service = time.perf_counter() - t0
            extra = service * (f.factor(self.clock.now()) - 1.0) + f.added_s
            if extra > 0:
                sleeper = asyncio.ensure_future(self.clock.sleep(extra))
                await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
                sleeper.cancel()
                if down.is_set():
                    raise EngineUnavailable(f"{self.name} crashed")
            if failed:
                raise EngineError(f"{self.name}: injected error")
            self.served += 1
            return {"replica": self.name, "service_s": service + max(extra, 0.0),
                    "tokens": len(result.token_ids[0]) if result.token_ids else 0}
        finally:
            waiter.cancel()


def _release(lock: asyncio.Lock, done: asyncio.Future[Any]) -> None:
    """The generate thread ended: free the model for the next request; its outcome was read, or nobody waits for
    it any more (a crash or a cancelled caller), so mark any exception retrieved."""
    lock.release()
    if not done.cancelled():
        done.exception()


def _abandon(acquire: asyncio.Future[Any], lock: asyncio.Lock) -> None:
    """Give up waiting for the lock: if the acquire won meanwhile (or wins while being cancelled), release it."""
    acquire.cancel()
    acquire.add_done_callback(lambda f: lock.release() if not f.cancelled() and f.exception() is None else None)


__all__ = ["PROMPT", "LLMReplica"]
