"""Deterministic discrete-event simulation of routing: the live router core on a virtual clock.

The simulator drives the *same* :class:`~blaze_lab.router.core.RouterCore` (strategies, breakers, health
trackers, retries, hedging, queue) that the live asyncio router drives; only the clock (a
:class:`~blaze_lab.clock.VirtualClock`) and the replicas (service-time models with faults) are swapped. A lean
heap of events replaces asyncio because a million requests must simulate in under a minute.

Replica model: a replica runs up to ``slots`` requests at once (further requests wait in its own FIFO). A
request starting while ``k`` requests run (itself included) takes
``(base_s + per_request_s·(k−1)) · speed · fault factor · noise + added latency`` — latency grows with
concurrency as in a batching engine. That law, its noise distributions and its calibration from measured engine
rows are :class:`~blaze_lab.replicas.service.ServiceModel`, the same object the live fake replicas sample; the
fault model is :class:`~blaze_lab.replicas.faults.FaultState`, likewise shared. With ``kv_cache_tokens`` a replica
keeps a :class:`~blaze_lab.replicas.prefix_cache.PrefixCacheModel` (lost when it crashes): a request starting
service reuses the KV blocks its prompt shares with the cache and prefills only the rest, and its time to first
token (router queue + replica queue + prefill part of its service) is recorded in the ledger's ``ttft_s``.

Example:
    >>> from blaze_lab.router.config import RouterExperimentConfig
    >>> res = simulate(RouterExperimentConfig(n_requests=2000, replicas=4, seed=1))
    >>> len(res.ledger), int((res.ledger["outcome"] == "ok").sum())
    (2000, 2000)
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.clock import VirtualClock
from blaze_lab.errors import Overloaded
from blaze_lab.load.requests import Request
from blaze_lab.replicas.faults import FaultEvent, FaultState
from blaze_lab.replicas.prefix_cache import PrefixCacheModel, prefill_of
from blaze_lab.replicas.service import ServiceModel, replica_rngs
from blaze_lab.router.config import RouterConfig, RouterExperimentConfig
from blaze_lab.router.core import Attempt, RouterCore, Ticket
from blaze_lab.router.experiment import (
    count_crashes,
    experiment_columns,
    experiment_faults,
    experiment_model,
    experiment_workload,
)

_DONE, _TIMEOUT, _FAIL, _RETRY, _HEDGE, _HEALTH, _FAULT, _WAKE = range(8)


class SimReplica:
    """A simulated replica: slots, a local FIFO, current faults."""

    __slots__ = (
        "active",
        "block_tokens",
        "cache",
        "cache_tokens",
        "epoch",
        "fault_rng",
        "faults",
        "hung",
        "index",
        "queue",
        "rng",
        "running",
        "slots",
        "speed",
    )

    def __init__(self, index: int, speed: float, slots: int, seed: int = 0, cache_tokens: int = 0,
                 block_tokens: int = 16) -> None:
        self.index = index
        # The same two streams a live FakeEngine with this seed and index draws from (same service times).
        self.rng, self.fault_rng = replica_rngs(seed, index)
        self.speed = speed
        self.slots = slots
        self.active = 0
        self.queue: deque[Attempt] = deque()
        # A dict, not a set: iteration must follow insertion order (a set of objects iterates in address order,
        # which would make a crash fail its requests in a different order on every run).
        self.running: dict[Attempt, None] = {}
        self.hung: list[Attempt] = []
        self.faults = FaultState()
        self.epoch = 0
        self.cache_tokens = cache_tokens
        self.block_tokens = block_tokens
        self.cache: PrefixCacheModel | None = None
        self.reset_cache()

    def reset_cache(self) -> None:
        """An empty KV prefix cache (at start and after a crash), or none without a capacity."""
        self.cache = PrefixCacheModel(self.cache_tokens, self.block_tokens) if self.cache_tokens else None


@dataclasses.dataclass
class SimResult:
    """What a simulation produced: the decision ledger, breaker/health transitions and per-replica load."""

    ledger: pd.DataFrame
    transitions: pd.DataFrame
    replicas: pd.DataFrame
    duration_s: float
    events: int
    max_waiting: int
    crashes: int = 0  # crash events the fault schedule injected


class Simulator:
    """Drive a RouterCore over simulated replicas (see the module docstring).

    Example:
        >>> from blaze_lab.load.requests import WorkloadConfig, workload_arrays
        >>> sim = Simulator(RouterConfig(), speeds=[1.0, 2.0], slots=4, model=ServiceModel(), seed=0)
        >>> res = sim.run(workload_arrays(WorkloadConfig(n_requests=100, rate=50.0)))
        >>> len(res.ledger)
        100
    """

    def __init__(
        self,
        config: RouterConfig,
        speeds: Sequence[float],
        slots: int,
        model: ServiceModel,
        faults: Sequence[FaultEvent] = (),
        seed: int = 0,
        drain_s: float = 600.0,
        cache_tokens: int = 0,
        block_tokens: int = 16,
    ) -> None:
        self.clock = VirtualClock()
        names = [f"r{i}" for i in range(len(speeds))]
        self.core = RouterCore(config, names, self.clock, seed=seed)
        self.reps = [SimReplica(i, s, slots, seed, cache_tokens, block_tokens) for i, s in enumerate(speeds)]
        self.model = model
        self.faults = list(faults)
        self.drain_s = drain_s
        self._timeout = config.attempt_timeout_s
        self._heap: list[tuple[float, int, int, Any, Any]] = []
        self._seq = 0
        self._wake_at = math.inf
        self.events = 0
        # Attempts per open request, and requests answered since the last event: when a request is answered (or
        # failed) its other attempts are cancelled and free their replica slots, as the live driver cancels them.
        self._attempts: dict[int, list[Attempt]] = {}
        self._answered: list[Ticket] = []
        self.core.on_done = self._answered.append
        self.cancelled = 0

    # -- scheduling ------------------------------------------------------------------------------------------
    def _push(self, t: float, kind: int, a: Any = None, b: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, a, b))

    def _flush(self, now: float) -> None:
        """Start the attempts and arm the timers the core asked for; keep a wake-up while requests wait."""
        core = self.core
        while core.outbox:
            outbox, core.outbox = core.outbox, []
            for a in outbox:
                if a.ticket.done:  # answered meanwhile (a hedge armed before the win)
                    core.finish(a, False, cancelled=True)
                    continue
                self._attempts.setdefault(a.ticket.request.id, []).append(a)
                self._dispatch(self.reps[a.replica.index], a, now)
        if core.timers:
            for t, kind, ticket in core.timers:
                self._push(t, _RETRY if kind == "retry" else _HEDGE, ticket)
            core.timers.clear()
        if core.waiting:
            wake = core.next_wake()
            if core.config.queue_timeout_s:
                wake = min(wake or math.inf, core.waiting[0].arrival_s + core.config.queue_timeout_s)
            if wake is not None and wake != math.inf and wake < self._wake_at:
                self._wake_at = wake
                self._push(wake, _WAKE)

    def _dispatch(self, rep: SimReplica, a: Attempt, now: float) -> None:
        if rep.faults.crashed:
            self._push(now, _FAIL, a, "EngineUnavailable")
        elif rep.active < rep.slots:
            self._begin(rep, a, now)
        else:
            rep.queue.append(a)
            if self._timeout:
                self._push(a.start_s + self._timeout, _TIMEOUT, a)

    def _begin(self, rep: SimReplica, a: Attempt, now: float) -> None:
        rep.active += 1
        f = rep.faults
        timeout = self._timeout
        if f.hung:
            rep.hung.append(a)
            if timeout:
                self._push(a.start_s + timeout, _TIMEOUT, a)
            return
        rep.running[a] = None
        request: Any = a.ticket.request  # a load.requests.Request: lengths and block hashes
        prefill, cached = prefill_of(rep.cache, request)
        first, service = self.model.sample_split(rep.active, rep.rng, rep.speed, f.factor(now), f.added_s, prefill,
                                                 request.output_tokens)
        end = now + service
        if timeout and end - a.start_s > timeout:
            self._push(a.start_s + timeout, _TIMEOUT, a)
        ok = not f.fails(rep.fault_rng)
        self._push(end, _DONE, a, (rep.epoch, ok, now + first, cached))

    def _free(self, a: Attempt, now: float) -> None:
        """Take a cancelled or timed-out attempt off its replica (its slot serves the next queued attempt)."""
        rep = self.reps[a.replica.index]
        if a in rep.running:
            del rep.running[a]
        elif a in rep.hung:
            rep.hung.remove(a)
        else:
            return  # still in the replica's queue: skipped when its turn comes (finished)
        rep.active -= 1
        self._release(rep, now)

    def _cancel_losers(self, now: float) -> None:
        core = self.core
        while self._answered:
            ticket = self._answered.pop()
            for a in self._attempts.pop(ticket.request.id, ()):
                if not a.finished:
                    core.finish(a, False, cancelled=True)
                    self.cancelled += 1
                    self._free(a, now)

    def _release(self, rep: SimReplica, now: float) -> None:
        queue = rep.queue
        while queue and rep.active < rep.slots:
            nxt = queue.popleft()
            if not nxt.finished:
                self._begin(rep, nxt, now)

    # -- main loop -------------------------------------------------------------------------------------------
    def run(self, columns: dict[str, np.ndarray]) -> SimResult:
        """Simulate the workload columns (see :func:`blaze_lab.load.requests.workload_arrays`)."""
        core, clock, reps = self.core, self.clock, self.reps
        heap = self._heap
        pop = heapq.heappop
        ids = columns["id"].tolist()
        times = columns["arrival_s"].tolist()
        prompts = columns["prompt_tokens"].tolist()
        outputs = columns["output_tokens"].tolist()
        sessions = columns["session"].tolist()
        blocks = columns["blocks"].tolist() if "blocks" in columns else None
        n = len(ids)
        interval = core.config.health.interval_s
        if interval > 0:
            for i in range(len(reps)):
                self._push(interval * (i + 1) / len(reps), _HEALTH, i)
        for e in self.faults:
            self._push(e.time_s, _FAULT, e)
        ledger = core.ledger
        horizon = (times[-1] if n else 0.0) + self.drain_s
        i = 0
        next_arrival = times[0] if n else math.inf
        events = 0
        now = 0.0
        while len(ledger) < n:
            if heap and heap[0][0] < next_arrival:
                now, _, kind, a, b = pop(heap)
                if now > horizon:
                    break
                clock.advance_to(now)
                self._handle(kind, a, b, now)
            else:
                now = next_arrival
                clock.advance_to(now)
                req = Request(ids[i], now, prompts[i], outputs[i], sessions[i], blocks[i] if blocks else ())
                i += 1
                next_arrival = times[i] if i < n else math.inf
                try:  # noqa: SIM105 - try/except is cheaper than contextlib.suppress in this hot loop
                    core.submit(req)
                except Overloaded:
                    pass  # already recorded in the ledger as "rejected"
            events += 1
            if self._answered:
                self._cancel_losers(now)
            if core.outbox or core.timers or core.waiting:
                self._flush(now)
        self.events = events
        self._fail_leftovers(now)
        first = times[0] if n else 0.0
        return SimResult(
            ledger=core.ledger.frame(),
            transitions=core.transitions(),
            replicas=core.replica_stats().assign(speed=[r.speed for r in reps]),
            duration_s=max(now - first, 0.0),
            events=events,
            max_waiting=core.max_waiting,
        )

    def _handle(self, kind: int, a: Any, b: Any, now: float) -> None:
        core = self.core
        if kind == _DONE:
            rep = self.reps[a.replica.index]
            epoch, ok, first_token_s, cached = b
            if epoch != rep.epoch or a not in rep.running:
                return  # cancelled or timed out (slot already freed), or the replica crashed meanwhile
            rep.active -= 1
            del rep.running[a]
            if ok and not a.finished and not a.ticket.done:
                a.ticket.first_token_s, a.ticket.cached_tokens = first_token_s, cached
            if not a.finished:
                core.finish(a, ok, "" if ok else "EngineError", "" if ok else "injected error")
            self._release(rep, now)
        elif kind == _TIMEOUT:
            if not a.finished:
                core.finish(a, False, "RequestTimeout", f"attempt exceeded {self._timeout}s")
                self._free(a, now)  # the live driver cancels a timed-out attempt at the replica too
        elif kind == _FAIL:
            core.finish(a, False, b, "replica down")
        elif kind == _RETRY:
            core.retry_due(a)
        elif kind == _HEDGE:
            core.hedge(a)
        elif kind == _HEALTH:
            rep = self.reps[a]
            core.health[a].record_check(rep.faults.health_ok(now))
            core.pump()
            # Always re-armed: the main loop ends once every request has a ledger row.
            self._push(now + core.config.health.interval_s, _HEALTH, a)
        elif kind == _FAULT:
            self._apply_fault(a, now)
            core.pump()
        elif kind == _WAKE:
            self._wake_at = math.inf
            core.tick()

    def _apply_fault(self, e: FaultEvent, now: float) -> None:
        rep = self.reps[e.replica]
        was_hung = rep.faults.hung
        rep.faults.apply(e)
        if e.kind == "crash" and e.on:
            rep.epoch += 1
            rep.reset_cache()  # a restarted engine starts with an empty KV cache
            lost = [*rep.running, *rep.queue, *rep.hung]
            rep.running.clear()
            rep.queue.clear()
            rep.hung.clear()
            rep.active = 0
            for a in lost:
                if not a.finished:
                    self.core.finish(a, False, "EngineUnavailable", "replica crashed")
        elif e.kind == "hang" and was_hung and not e.on:
            stuck, rep.hung = rep.hung, []
            for a in stuck:
                rep.active -= 1
                if not a.finished:
                    self.core.finish(a, False, "EngineError", "replica hung")
            self._release(rep, now)

    def _fail_leftovers(self, now: float) -> None:
        """Requests still open past the drain horizon end as RequestTimeout (none is silently lost)."""
        core = self.core
        open_tickets: dict[int, Ticket] = {}
        for rep in self.reps:
            for a in (*rep.running, *rep.queue, *rep.hung):
                if not a.ticket.done:
                    open_tickets[a.ticket.request.id] = a.ticket
        for t in core.waiting:
            open_tickets[t.request.id] = t
        for _, _, kind, a, _ in self._heap:
            if kind in (_RETRY, _HEDGE) and not a.done:
                open_tickets[a.request.id] = a
            elif kind in (_TIMEOUT, _FAIL, _DONE) and not a.ticket.done:
                open_tickets[a.ticket.request.id] = a.ticket
        core.waiting.clear()
        for rid in sorted(open_tickets):
            core._fail(open_tickets[rid], "RequestTimeout", "unfinished when the simulation ended", now)


def simulate(cfg: RouterExperimentConfig, model: ServiceModel | None = None) -> SimResult:
    """Run one experiment config in simulation (``model`` overrides the config's service model)."""
    model = model or experiment_model(cfg)
    columns, rate = experiment_columns(cfg, model)
    faults = experiment_faults(cfg, cfg.n_requests / rate, model)
    sim = Simulator(cfg.router_config(model.reference_s), cfg.replica_speeds(), cfg.replica_slots, model,
                    faults=faults, seed=cfg.seed, cache_tokens=cfg.kv_cache_tokens, block_tokens=cfg.block_tokens)
    res = sim.run(columns)
    res.crashes = count_crashes(faults)
    return res


__all__ = [
    "SimReplica",
    "SimResult",
    "Simulator",
    "count_crashes",
    "experiment_faults",
    "experiment_model",
    "experiment_workload",
    "simulate",
]
