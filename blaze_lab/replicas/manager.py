"""Engine lifecycle management: start replicas, watch them, restart failed ones with backoff, time recovery.

The manager depends only on the small :class:`~blaze_lab.engines.base.Replica` protocol (name, status, async
start/stop/health/submit), so it manages fake engines, blocking engines such as ``LLMEngine`` wrapped by
:class:`BlockingEngineReplica`, and remote actors alike. A replica seen FAILED is restarted after ``backoff_s``
(multiplied by ``backoff_multiplier`` after every failed restart, capped); the time from detection to READY again is its
*recovery time*. A replica whose ``max_restarts`` all failed has *given up*: it stays FAILED and is not restarted
again (an operator's decision, not a loop). Every lifecycle event is a row in :attr:`EngineManager.events`.

Example (inside a coroutine)::

    manager = EngineManager([FakeEngine("r0"), FakeEngine("r1")], clock=RealClock())
    await manager.start()          # starts every replica and the monitor
    ...
    await manager.stop()
    manager.events_frame()         # time_s, replica, event, status, detail, recovery_s
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from blaze_lab.clock import Clock, RealClock
from blaze_lab.engines.base import EngineStatus, Replica
from blaze_lab.errors import ConfigError, EngineUnavailable


class EngineManager:
    """Starts replicas and restarts failed ones with exponential backoff (see the module docstring)."""

    def __init__(
        self,
        replicas: Sequence[Replica],
        clock: Clock | None = None,
        *,
        check_interval_s: float = 0.05,
        backoff_s: float = 0.1,
        backoff_multiplier: float = 2.0,
        max_backoff_s: float = 10.0,
        max_restarts: int = 10,
    ) -> None:
        if not replicas:
            raise ConfigError("manager.replicas", [], reason="empty replica set; need at least 1")
        for name, value in (("check_interval_s", check_interval_s), ("backoff_s", backoff_s)):
            if not value > 0:
                raise ConfigError(f"manager.{name}", value, reason="must be > 0")
        if backoff_multiplier < 1:
            raise ConfigError("manager.backoff_multiplier", backoff_multiplier, reason="must be >= 1")
        self.replicas = list(replicas)
        self.clock = clock or RealClock()
        self.check_interval_s = check_interval_s
        self.backoff_s = backoff_s
        self.backoff_multiplier = backoff_multiplier
        self.max_backoff_s = max_backoff_s
        self.max_restarts = max_restarts
        self.events: list[dict[str, Any]] = []
        self.restarts = {r.name: 0 for r in self.replicas}
        self._recovering: dict[str, asyncio.Task[None]] = {}
        self.given_up: set[str] = set()
        self._monitor: asyncio.Task[None] | None = None
        self._last_status: dict[str, EngineStatus] = {}
        self.on_event: Callable[[dict[str, Any]], None] | None = None

    def _event(self, replica: Replica, event: str, detail: str = "", recovery_s: float = math.nan) -> None:
        row = {
            "time_s": self.clock.now(),
            "replica": replica.name,
            "event": event,
            "status": replica.status.value,
            "detail": detail,
            "recovery_s": recovery_s,
        }
        self.events.append(row)
        if self.on_event is not None:
            self.on_event(row)

    async def start(self) -> None:
        """Start every replica concurrently, then the monitor."""
        await asyncio.gather(*(self._start_one(r) for r in self.replicas))
        self._monitor = asyncio.create_task(self._watch())

    async def _start_one(self, replica: Replica) -> None:
        self._event(replica, "starting")
        await replica.start()
        self._event(replica, "started")

    async def stop(self) -> None:
        """Stop the monitor, pending recoveries and every replica."""
        tasks = [t for t in (self._monitor, *self._recovering.values()) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._recovering.clear()
        self._monitor = None
        for r in self.replicas:
            await r.stop()
            self._event(r, "stopped")

    def check(self) -> None:
        """One monitoring pass: record status changes; schedule recovery of every FAILED replica."""
        for r in self.replicas:
            last = self._last_status.get(r.name)
            # Failures and recoveries have their own events ("failed", "recovered"); this logs the rest
            # (e.g. READY <-> DEGRADED during warm-up or a gray failure).
            recovering = r.name in self._recovering
            if last is not None and r.status is not last and EngineStatus.FAILED not in (last, r.status) \
                    and not recovering:
                self._event(r, "status", f"{last.value} -> {r.status.value}")
            if not recovering:
                self._last_status[r.name] = r.status
            if r.name in self.given_up and r.status.accepts_requests:
                self.given_up.discard(r.name)  # brought back by hand: watched again
            if r.status is EngineStatus.FAILED and r.name not in self._recovering and r.name not in self.given_up:
                self._event(r, "failed", "detected by monitor")
                self._recovering[r.name] = asyncio.create_task(self._recover(r))

    async def _watch(self) -> None:
        while True:
            self.check()
            await self.clock.sleep(self.check_interval_s)

    async def _recover(self, replica: Replica) -> None:
        detected = self.clock.now()
        delay = self.backoff_s
        try:
            for attempt in range(1, self.max_restarts + 1):
                await self.clock.sleep(delay)
                self.restarts[replica.name] += 1
                self._event(replica, "restarting", f"attempt {attempt} after {delay:.3f}s backoff")
                try:
                    await replica.stop()
                    await replica.start()
                except Exception as exc:  # a failed restart is an outcome to record and back off from
                    self._event(replica, "restart_failed", f"{type(exc).__name__}: {exc}")
                if replica.status.accepts_requests:
                    self._last_status[replica.name] = replica.status
                    self._event(replica, "recovered", f"attempt {attempt}", self.clock.now() - detected)
                    return
                delay = min(self.max_backoff_s, delay * self.backoff_multiplier)
            self.given_up.add(replica.name)
            self._event(replica, "gave_up", f"{self.max_restarts} restarts failed")
        finally:
            self._recovering.pop(replica.name, None)

    def events_frame(self) -> pd.DataFrame:
        cols = ["time_s", "replica", "event", "status", "detail", "recovery_s"]
        return pd.DataFrame(self.events, columns=cols)

    def recovery_times(self) -> list[float]:
        return [e["recovery_s"] for e in self.events if e["event"] == "recovered"]


# Model loads are serialized process-wide: concurrent first imports of transformers' lazy modules from several
# threads can fail ("cannot import name AutoModelForCausalLM"), and the model cache is shared.
_LOAD_LOCK = threading.Lock()


def locked_load(engine: Any) -> None:
    """``engine.load()`` under the process-wide model-load lock."""
    with _LOAD_LOCK:
        engine.load()


class BlockingEngineReplica:
    """Adapter: a blocking engine (``LLMEngine``: ``load()``, ``generate(prompts, max_new_tokens)``, ``status``)
    as an async replica; calls run in a worker thread, one at a time (one model, one forward at a time).

    Requests may carry ``prompt`` (text); otherwise a prompt of about ``prompt_tokens`` words is synthesized.
    ``output_tokens`` (when > 0) becomes ``max_new_tokens``.
    """

    def __init__(self, name: str, engine: Any, factory: Callable[[], Any] | None = None) -> None:
        self.name = name
        self.engine = engine
        self.factory = factory  # builds a fresh engine on restart (None: reuse and reload the same one)
        self._lock = asyncio.Lock()

    @property
    def status(self) -> EngineStatus:
        return self.engine.status

    async def start(self) -> None:
        if self.factory is not None and self.engine.status in (EngineStatus.FAILED, EngineStatus.STOPPED):
            self.engine = self.factory()
        forget = getattr(self.engine, "forget_failures", None)
        if forget is not None:
            forget()  # a restart retries the load; a cached failure would make every restart fail without trying
        await asyncio.to_thread(locked_load, self.engine)

    async def stop(self) -> None:
        if self.engine.status is not EngineStatus.STOPPED:
            await asyncio.to_thread(self.engine.close)

    async def health(self) -> bool:
        return bool(self.engine.status.accepts_requests)

    async def submit(self, request: Any) -> Any:
        if not self.engine.status.accepts_requests:
            raise EngineUnavailable(f"{self.name} is {self.engine.status.value}")
        prompt = getattr(request, "prompt", None) or " ".join(["hello"] * max(1, getattr(request, "prompt_tokens", 4)))
        max_new = getattr(request, "output_tokens", 0) or None
        async with self._lock:
            return await asyncio.to_thread(self.engine.generate, [prompt], max_new)


__all__ = ["BlockingEngineReplica", "EngineManager", "locked_load"]
