"""The live router: an asyncio driver around the sans-IO :class:`~blaze_lab.router.core.RouterCore`.

``await router.submit(request)`` returns the replica's answer or raises a typed
:class:`~blaze_lab.errors.EngineError` (``Overloaded`` when the bounded queue is full, ``CircuitOpenError`` /
``EngineUnavailable`` when no replica can take it, ``RequestTimeout``, or the replica's own error after the
retries). Attempts run as tasks; retry backoff and hedge delays sleep on the injected clock; active health checks
run through :class:`~blaze_lab.router.health.HealthChecker`. The decision ledger is ``router.ledger()``.

Example:
    >>> import asyncio
    >>> from blaze_lab.clock import RealClock
    >>> from blaze_lab.replicas.fake import FakeEngine
    >>> from blaze_lab.router.config import RouterConfig
    >>> from blaze_lab.router.strategies import Request
    >>> async def demo():
    ...     engines = [FakeEngine(f"r{i}", base_s=0.001) for i in range(2)]
    ...     for e in engines:
    ...         await e.start()
    ...     async with Router(RouterConfig(strategy="round_robin"), engines, RealClock()) as router:
    ...         answers = await asyncio.gather(*(router.submit(Request(i)) for i in range(4)))
    ...     return [a["replica"] for a in answers]
    >>> asyncio.run(demo())
    ['r0', 'r1', 'r0', 'r1']
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from blaze_lab.clock import Clock, RealClock
from blaze_lab.engines.base import Replica
from blaze_lab.errors import BlazeLabError, EngineError, RequestTimeout
from blaze_lab.router.config import RouterConfig
from blaze_lab.router.core import ERROR_TYPES, Attempt, RouterCore, Ticket
from blaze_lab.router.health import HealthChecker


class Router:
    """Route requests over live replicas (see the module docstring)."""

    def __init__(
        self, config: RouterConfig, replicas: Sequence[Replica], clock: Clock | None = None, seed: int = 0
    ) -> None:
        self.clock = clock or RealClock()
        self.config = config
        self.replicas = list(replicas)
        self.core = RouterCore(config, [r.name for r in self.replicas], self.clock, seed=seed)
        self.core.on_done = self._resolve
        self.checker = HealthChecker(config.health, self.clock, self.core.health, [r.health for r in self.replicas])
        self._attempts: dict[int, list[Attempt]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._kick = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.checker.start()
        self._ticker = asyncio.create_task(self._tick_loop())

    async def stop(self) -> None:
        """Stop checks, timers and attempts; every request still open fails with EngineUnavailable ("router
        stopped") so no caller waits forever and every request has its ledger row."""
        await self.checker.stop()
        pending = [t for t in (self._ticker, *self._tasks) if t is not None]
        for t in pending:
            t.cancel()
        # Stopping: outcomes of cancelled work do not matter (each attempt already reported to the core).
        await asyncio.gather(*pending, return_exceptions=True)
        self._ticker = None
        self.core.abort_open("EngineUnavailable", "router stopped")

    async def __aenter__(self) -> Router:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- requests --------------------------------------------------------------------------------------------
    async def submit(self, request: Any) -> Any:
        """Route one request; returns the answer or raises a typed EngineError."""
        ticket = self.core.submit(request)  # raises Overloaded when the queue is full
        if not ticket.done:
            ticket.waiter = asyncio.get_running_loop().create_future()
        self._flush()
        if not ticket.done:
            await ticket.waiter
        return self._outcome(ticket)

    @staticmethod
    def _outcome(ticket: Ticket) -> Any:
        if ticket.outcome == "ok":
            return ticket.result
        raise ERROR_TYPES.get(ticket.error, EngineError)(ticket.error_message or ticket.error)

    def _resolve(self, ticket: Ticket) -> None:
        waiter = ticket.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        attempts = self._attempts.pop(ticket.request.id, [])
        for a in attempts:  # hedge losers and attempts raced by a retry: cancel, the answer is known
            if not a.finished and a.handle is not None:
                a.handle.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _flush(self) -> None:
        core = self.core
        while core.outbox:
            outbox, core.outbox = core.outbox, []
            for a in outbox:
                if a.ticket.done:  # resolved meanwhile
                    core.finish(a, False, cancelled=True)
                    continue
                self._attempts.setdefault(a.ticket.request.id, []).append(a)
                task = asyncio.create_task(self._run_attempt(a))
                a.handle = task
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        if core.timers:
            for t, kind, ticket in core.timers:
                self._spawn(self._timer(t, kind, ticket))
            core.timers.clear()
        if core.waiting:
            self._kick.set()

    async def _timer(self, at: float, kind: str, ticket: Ticket) -> None:
        delay = at - self.clock.now()
        if delay > 0:
            await self.clock.sleep(delay)
        if kind == "retry":
            self.core.retry_due(ticket)
        else:
            self.core.hedge(ticket)
        self._flush()

    async def _run_attempt(self, a: Attempt) -> None:
        replica = self.replicas[a.replica.index]
        timeout = self.config.attempt_timeout_s
        try:
            if timeout:
                result = await self._with_timeout(replica.submit(a.ticket.request), timeout)
            else:
                result = await replica.submit(a.ticket.request)
        except asyncio.CancelledError:
            self.core.finish(a, False, cancelled=True)
            self._flush()
            raise
        except BlazeLabError as exc:
            self.core.finish(a, False, type(exc).__name__, str(exc))
        except Exception as exc:  # an engine bug is a failed attempt (typed for the caller), not a router crash
            self.core.finish(a, False, "EngineError", f"{type(exc).__name__}: {exc}")
        else:
            if not a.ticket.done:
                a.ticket.result = result
                a.ticket.take_answer(result, a.start_s)
            self.core.finish(a, True)
        self._flush()

    async def _with_timeout(self, coro: Any, timeout: float) -> Any:
        work = asyncio.ensure_future(coro)
        timer = asyncio.ensure_future(self.clock.sleep(timeout))
        try:
            done, _ = await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            work.cancel()
            raise
        finally:
            timer.cancel()
        if work not in done:
            work.cancel()
            raise RequestTimeout(f"attempt exceeded {timeout}s")
        return work.result()

    async def _tick_loop(self) -> None:
        """While requests wait: wake when a breaker re-opens for trials, an ejection ends or a queue timeout is
        due (and at least every 50 ms), then let the core dispatch or expire them."""
        core = self.core
        while True:
            await self._kick.wait()
            self._kick.clear()
            while core.waiting:
                now = self.clock.now()
                wake = min(core.next_wake() or math.inf, now + 0.05)
                if core.config.queue_timeout_s:
                    wake = min(wake, core.waiting[0].arrival_s + core.config.queue_timeout_s)
                await self.clock.sleep(max(0.0, wake - now))
                core.tick()
                self._flush()

    # -- results ---------------------------------------------------------------------------------------------
    def ledger(self) -> pd.DataFrame:
        return self.core.ledger.frame()

    def transitions(self) -> pd.DataFrame:
        return self.core.transitions()


__all__ = ["Router"]
