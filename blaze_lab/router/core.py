"""The sans-IO router core: every routing decision, with no I/O and no event loop.

:class:`RouterCore` owns the replica views, the per-replica breakers and health trackers, the strategy, the
bounded wait queue, the retry budget and the decision ledger. Drivers feed it events and start the attempts it
emits:

* ``submit(request)`` → a :class:`Ticket` (or :class:`~blaze_lab.errors.Overloaded` when the queue is full);
* ``finish(attempt, ok, error)`` when an attempt answers (or fails, or is cancelled);
* ``retry_due(ticket)`` / ``hedge(ticket)`` when a timer the core asked for fires;
* ``tick()`` now and then (queue timeouts, breaker re-open times).

New attempts to start appear in :attr:`RouterCore.outbox`; timers to arm in :attr:`RouterCore.timers` as
``(time, kind, ticket)``. The live asyncio :class:`~blaze_lab.router.router.Router` and the discrete-event
:mod:`~blaze_lab.router.simulate` both drive this same object, so strategies, breakers, health logic and the
decision code are shared exactly.

Example:
    >>> from blaze_lab.clock import VirtualClock
    >>> from blaze_lab.router.config import RouterConfig
    >>> from blaze_lab.router.strategies import Request
    >>> core = RouterCore(RouterConfig(strategy="round_robin"), ["a", "b"], VirtualClock(), seed=0)
    >>> ticket = core.submit(Request(0))
    >>> attempt = core.outbox.pop()
    >>> attempt.replica.name
    'a'
    >>> core.finish(attempt, ok=True)
    >>> ticket.outcome, core.ledger.frame()["replica"].tolist()
    ('ok', ['a'])
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Sequence

import pandas as pd

from blaze_lab.clock import Clock
from blaze_lab.errors import CircuitOpenError, ConfigError, EngineUnavailable, Overloaded, RequestTimeout
from blaze_lab.router.breaker import CLOSED, HALF_OPEN, OPEN, REFUSED, CircuitBreaker
from blaze_lab.router.config import RouterConfig
from blaze_lab.router.health import HealthTracker
from blaze_lab.router.strategies import ReplicaState, RequestLike, make_strategy
from blaze_lab.router.tickets import LEDGER_COLUMNS, Attempt, Ledger, Ticket

ERROR_TYPES = {cls.__name__: cls for cls in (Overloaded, CircuitOpenError, EngineUnavailable, RequestTimeout)}


class RouterCore:
    """Routing decisions for a fixed replica set (see the module docstring for the driver protocol)."""

    def __init__(self, config: RouterConfig, names: Sequence[str], clock: Clock, seed: int = 0) -> None:
        config.check_replicas(len(names))
        if len(set(names)) != len(names):
            raise ConfigError("router.replicas", list(names), reason="replica names must be unique")
        self.config = config
        self.clock = clock
        self.rng = random.Random(seed)
        self.replicas = [ReplicaState(i, name, config.weight_of(i)) for i, name in enumerate(names)]
        self._by_name = {r.name: r for r in self.replicas}
        self.breakers = [
            CircuitBreaker(config.breaker, clock, name, on_transition=self._on_breaker) for name in names
        ]
        self.health = [HealthTracker(config.health, clock, name, on_change=self._on_health) for name in names]
        # Ejection cap: breakers and passive ejection may take at most this many replicas out at once.
        self.max_ejected = max(1, math.floor(config.max_ejection_fraction * len(names) + 1e-9))
        if self.max_ejected < len(names):
            for b in self.breakers:
                b.may_open = self._may_eject
            for h in self.health:
                h.may_eject = self._may_eject
        self.strategy = make_strategy(config, self.replicas)
        self.waiting: deque[Ticket] = deque()
        self.ledger = Ledger()
        self.outbox: list[Attempt] = []
        self.timers: list[tuple[float, str, Ticket]] = []
        self.retry_tokens = config.retry_budget_min
        self._token_cap = max(config.retry_budget_min, 10.0)
        self._limit = config.max_inflight_per_replica or math.inf
        self._alpha = config.ewma_alpha
        self._candidates: list[ReplicaState] = list(self.replicas)
        self._up = len(self.replicas)
        self._dirty = False
        self._wake_at = math.inf
        self._not_closed = 0
        self.max_waiting = 0
        self.rejected = 0
        self.open: dict[int, Ticket] = {}  # request id -> ticket without a ledger row yet
        self.on_done: Callable[[Ticket], None] | None = None  # the live driver resolves its futures here

    # -- candidate set ---------------------------------------------------------------------------------------
    def _on_breaker(self, breaker: CircuitBreaker, old: str, new: str) -> None:
        self._dirty = True
        self._not_closed += (old == CLOSED) - (new == CLOSED)
        if new == HALF_OPEN:
            self._forget(breaker.replica)

    def ejected(self) -> int:
        """Replicas out of rotation by their breaker (open or half-open) or by passive ejection right now."""
        now = self.clock.now()
        return sum(not b.closed or h.ejected_until > now for b, h in zip(self.breakers, self.health, strict=True))

    def _may_eject(self) -> bool:
        return self.ejected() < self.max_ejected

    def _on_health(self, tracker: HealthTracker) -> None:
        self._dirty = True
        if tracker.healthy and tracker.transitions and tracker.transitions[-1]["to_state"] == "healthy":
            self._forget(tracker.replica)

    def _forget(self, name: str) -> None:
        """A replica coming back is unmeasured again: its latency EWMA (inflated by the failures that took it out)
        would otherwise keep latency-aware strategies away from it forever, since only traffic refreshes it."""
        replica = self._by_name[name]
        replica.ewma_s = 0.0
        self.strategy.reset(replica)  # a prefix index forgets what a possibly restarted replica held

    def candidates(self) -> list[ReplicaState]:
        """Replicas that may take a call now (healthy, breaker admitting, below the concurrency limit)."""
        if self._dirty or self.clock.now() >= self._wake_at:
            self._rebuild()
        return self._candidates

    def _rebuild(self) -> None:
        self._dirty = False
        wake = math.inf
        cands: list[ReplicaState] = []
        up = 0
        limit = self._limit
        for r, b, h in zip(self.replicas, self.breakers, self.health, strict=True):
            state = b.state if b.config.enabled else CLOSED
            ok = h.available
            back = h.returns_at()
            if back is not None:
                wake = min(wake, back)
            if state == OPEN:
                wake = min(wake, b.reopens_at() or math.inf)
                ok = False
            elif state != CLOSED and not b.trial_free():
                ok = False
            up += ok
            r.eligible = ok and r.outstanding < limit
            if r.eligible:
                cands.append(r)
        self._candidates = cands
        self._up = up
        self._wake_at = wake

    def next_wake(self) -> float | None:
        """When the candidate set may change by itself (a breaker re-opens for trials, an ejection ends)."""
        self.candidates()
        return None if self._wake_at == math.inf else self._wake_at

    # -- events ----------------------------------------------------------------------------------------------
    def submit(self, request: RequestLike) -> Ticket:
        """Admit a request: dispatch it now, queue it, or raise Overloaded (queue full) / a no-replica error."""
        now = self.clock.now()
        ticket = Ticket(request, now)
        self.open[request.id] = ticket
        if not self.waiting and self._dispatch(ticket, now, hedge=False):
            return ticket
        if self._up == 0:
            self._fail(ticket, self._no_replica_error(), "no replica available", now)
            return ticket
        if len(self.waiting) >= self.config.queue_size:
            self.rejected += 1
            self._fail(ticket, "Overloaded", f"queue full ({self.config.queue_size} waiting)", now)
            raise Overloaded(f"router queue full ({self.config.queue_size} waiting)")
        self.waiting.append(ticket)
        if len(self.waiting) > self.max_waiting:
            self.max_waiting = len(self.waiting)
        return ticket

    def finish(self, attempt: Attempt, ok: bool, error: str = "", message: str = "", cancelled: bool = False) -> None:
        """An attempt ended: success, failure with an error type name, or cancelled (e.g. hedge loser)."""
        if attempt.finished:
            return
        attempt.finished = True
        now = self.clock.now()
        r = attempt.replica
        r.outstanding -= 1
        self.strategy.released(r, attempt.ticket.request)
        if r.outstanding + 1 >= self._limit:
            self._dirty = True
        ticket = attempt.ticket
        ticket.in_flight -= 1
        breaker = self.breakers[r.index]
        if not breaker.closed:
            self._dirty = True  # a half-open trial slot frees up
        if cancelled:
            breaker.release(attempt.token)
        else:
            latency = now - attempt.start_s
            breaker.record(attempt.token, ok, latency)
            self.health[r.index].record_result(ok)
            if ok:
                r.completed += 1
                r.observe(latency, self._alpha)
            else:
                r.failed += 1
                # A failing replica must not look fast to latency-aware strategies (fast errors attract traffic).
                r.observe(max(latency, 2.0 * r.ewma_s), self._alpha)
        if not ticket.done and not cancelled:
            if ok:
                ticket.replica, ticket.outcome = r.name, "ok"
                self._close(ticket, now)
            elif ticket.in_flight == 0:
                self._after_failure(ticket, error or "EngineError", message, now)
        self.pump()

    def retry_due(self, ticket: Ticket) -> None:
        """A retry's backoff elapsed: dispatch it (ahead of new arrivals)."""
        if ticket.done:
            return
        now = self.clock.now()
        if not self._dispatch(ticket, now, hedge=False):
            if self._up == 0:
                self._fail(ticket, self._no_replica_error(), "no replica available for retry", now)
            else:
                self.waiting.appendleft(ticket)

    def hedge(self, ticket: Ticket) -> None:
        """The hedge delay elapsed with the first attempt still running: try a second replica."""
        if ticket.done or ticket.in_flight != 1 or ticket.attempts >= self.config.max_attempts:
            return
        if self.retry_tokens < 1.0:
            return
        now = self.clock.now()
        before = self.retry_tokens
        self.retry_tokens -= 1.0
        if self._dispatch(ticket, now, hedge=True):
            ticket.hedged = True
        else:
            self.retry_tokens = before

    def tick(self) -> None:
        """Expire queued requests past ``queue_timeout_s`` and dispatch what became possible."""
        timeout = self.config.queue_timeout_s
        if timeout and self.waiting:
            now = self.clock.now()
            keep: deque[Ticket] = deque()
            for t in self.waiting:
                if now - t.arrival_s >= timeout:
                    self._fail(t, "RequestTimeout", f"waited {now - t.arrival_s:.3f}s in queue", now)
                else:
                    keep.append(t)
            self.waiting = keep
        self.pump()

    def pump(self) -> None:
        """Dispatch waiting requests while a replica can take them."""
        waiting = self.waiting
        if not waiting:
            return
        now = self.clock.now()
        while waiting:
            if not self._dispatch(waiting[0], now, hedge=False):
                break
            waiting.popleft()
        if waiting and self._up == 0:
            error = self._no_replica_error()
            while waiting:
                self._fail(waiting.popleft(), error, "no replica available", now)

    # -- internals -------------------------------------------------------------------------------------------
    def _dispatch(self, ticket: Ticket, now: float, hedge: bool) -> bool:
        cands = self.candidates()
        if not cands:
            return False
        if ticket.tried:
            fresh = [r for r in cands if r.index not in ticket.tried]
            if fresh:
                cands = fresh
            elif hedge:
                return False
        for _ in range(len(cands) + 1):
            replica, reason = self.strategy.choose(cands, ticket.request, self.rng)
            breaker = self.breakers[replica.index]
            token = breaker.acquire()
            if token != REFUSED:
                break
            # A half-open breaker ran out of trial slots: drop it from the candidates and choose again.
            self._dirty = True
            cands = [r for r in cands if r is not replica]
            if not cands:
                return False
        else:  # pragma: no cover - the loop always breaks or returns
            return False
        if not breaker.closed:
            self._dirty = True  # a trial slot was used
        replica.outstanding += 1
        replica.dispatched += 1
        self.strategy.routed(replica, ticket.request)
        if replica.outstanding >= self._limit:
            self._dirty = True
        if ticket.attempts == 0:
            ticket.dispatched_s = now
        ticket.attempts += 1
        ticket.in_flight += 1
        ticket.tried.append(replica.index)
        ticket.replica = replica.name
        if hedge:
            reason = "hedge: " + reason
        elif ticket.attempts > 1:
            reason = f"retry {ticket.attempts}: {reason}"
        ticket.reason = reason
        ticket.breaker_state = CLOSED if breaker.closed else breaker.state
        ticket.open_breakers = self._not_closed
        if ticket.attempts == 1:
            # Every new request earns a fraction of a retry token (retry budget, as in Finagle/Envoy).
            self.retry_tokens = min(self._token_cap, self.retry_tokens + self.config.retry_budget_ratio)
            if self.config.hedge_delay_s > 0:
                self.timers.append((now + self.config.hedge_delay_s, "hedge", ticket))
        self.outbox.append(Attempt(ticket, replica, token, now, ticket.attempts, hedge))
        return True

    def _after_failure(self, ticket: Ticket, error: str, message: str, now: float) -> None:
        cfg = self.config
        if ticket.attempts < cfg.max_attempts and self.retry_tokens >= 1.0:
            self.retry_tokens -= 1.0
            # Exponential backoff with full jitter (seeded, so simulations stay deterministic).
            cap = min(cfg.retry_backoff_max_s, cfg.retry_backoff_s * 2 ** (ticket.attempts - 1))
            delay = self.rng.random() * cap
            if delay <= 0:
                self.retry_due(ticket)
            else:
                self.timers.append((now + delay, "retry", ticket))
            return
        self._fail(ticket, error, message, now)

    def _fail(self, ticket: Ticket, error: str, message: str, now: float) -> None:
        ticket.outcome = "rejected" if error == "Overloaded" else "error"
        ticket.error = error
        ticket.error_message = message
        if ticket.attempts == 0:
            ticket.dispatched_s = now
        self._close(ticket, now)

    def abort_open(self, error: str, message: str) -> int:
        """End every request still open (queued, in flight, awaiting a retry) with ``error``: a stopping driver
        must answer its callers and leave a ledger row for each. Returns how many were aborted."""
        now = self.clock.now()
        self.waiting.clear()
        tickets = [self.open[rid] for rid in sorted(self.open)]
        for t in tickets:
            self._fail(t, error, message, now)
        return len(tickets)

    def _close(self, ticket: Ticket, now: float) -> None:
        self.open.pop(ticket.request.id, None)
        ticket.done = True
        ticket.finish_s = now
        self.ledger.add(ticket)
        if self.on_done is not None:
            self.on_done(ticket)

    def _no_replica_error(self) -> str:
        return "CircuitOpenError" if any(b.state != CLOSED for b in self.breakers) else "EngineUnavailable"

    # -- reporting -------------------------------------------------------------------------------------------
    def transitions(self) -> pd.DataFrame:
        """Breaker and health transitions as one frame (``kind`` = breaker | health), ordered by time."""
        rows = [{"kind": "breaker", **row} for b in self.breakers for row in b.transitions]
        rows += [{"kind": "health", **row} for h in self.health for row in h.transitions]
        cols = ["kind", "time_s", "replica", "from_state", "to_state", "reason"]
        df = pd.DataFrame(rows, columns=cols)
        return df.sort_values(["time_s", "kind", "replica"], kind="stable").reset_index(drop=True)

    def replica_stats(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"replica": r.name, "dispatched": r.dispatched, "completed": r.completed, "failed": r.failed,
                 "ewma_s": r.ewma_s, "ejections_capped": b.capped + h.capped}
                for r, b, h in zip(self.replicas, self.breakers, self.health, strict=True)
            ]
        )


__all__ = ["ERROR_TYPES", "LEDGER_COLUMNS", "Attempt", "Ledger", "RouterCore", "Ticket"]
