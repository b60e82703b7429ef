"""Fault injection on a time schedule, shared by simulated replicas and the live fake engine.

A :class:`Fault` targets one replica for a window of the run, given as fractions of the run's expected duration
so one scenario fits any load level. Kinds:

* ``errors``   – each request fails with probability ``value`` (EngineError);
* ``latency``  – ``value`` seconds added to every request;
* ``slowdown`` – service time multiplied by ``value`` (gray failure: slow but "healthy");
* ``hang``     – requests never answer and health checks time out;
* ``crash``    – the replica dies at ``start`` (in-flight requests fail with EngineUnavailable) and comes back
  at ``end`` (the restart), then runs ``warmup_factor`` times slower for ``warmup_s`` seconds;
* ``flapping`` – health checks alternate pass/fail every ``value`` seconds while requests are still served.

:data:`SCENARIOS` names fault lists; :func:`schedule` turns one into absolute, time-ordered
:class:`FaultEvent` s; :class:`FaultState` is the current effect on one replica.

Example:
    >>> events = schedule("crash", duration_s=10.0, replicas=4)
    >>> [(e.time_s, e.replica, e.kind, e.on) for e in events]
    [(5.0, 0, 'crash', True), (6.0, 0, 'crash', False)]
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from blaze_lab.clock import Clock
from blaze_lab.errors import ConfigError

KINDS = ("errors", "latency", "slowdown", "hang", "crash", "flapping")


@dataclasses.dataclass(frozen=True)
class Fault:
    """One fault on one replica between ``start`` and ``end`` (fractions of the run duration)."""

    replica: int
    kind: str
    start: float
    end: float
    value: float = 0.0
    warmup_s: float = 0.0
    warmup_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError("fault.kind", self.kind, allowed=KINDS)
        if not 0.0 <= self.start <= self.end:
            raise ConfigError("fault.start", self.start, reason="need 0 <= start <= end")
        if self.replica < 0:
            raise ConfigError("fault.replica", self.replica, reason="must be >= 0")


SCENARIOS: dict[str, tuple[Fault, ...]] = {
    "none": (),
    "crash": (Fault(0, "crash", 0.5, 0.6, warmup_s=0.5, warmup_factor=2.0),),
    "errors": (Fault(0, "errors", 0.25, 0.75, value=0.5),),
    "slow": (Fault(0, "slowdown", 0.25, 0.75, value=5.0),),
    "latency": (Fault(0, "latency", 0.25, 0.75, value=0.2),),
    "hang": (Fault(0, "hang", 0.4, 0.6),),
    "flapping": (Fault(0, "flapping", 0.2, 0.8, value=0.5),),
    "mixed": (
        Fault(0, "crash", 0.3, 0.4, warmup_s=0.5, warmup_factor=2.0),
        Fault(1, "slowdown", 0.2, 0.8, value=4.0),
        Fault(2, "errors", 0.5, 0.7, value=0.3),
    ),
}


@dataclasses.dataclass(frozen=True)
class FaultEvent:
    """A fault switching on or off at an absolute time."""

    time_s: float
    replica: int
    kind: str
    on: bool
    value: float = 0.0
    warmup_s: float = 0.0
    warmup_factor: float = 1.0


def schedule(scenario: str, duration_s: float, replicas: int) -> list[FaultEvent]:
    """Absolute fault events of a named scenario (faults on replicas that do not exist are dropped)."""
    if scenario not in SCENARIOS:
        raise ConfigError("router.fault", scenario, allowed=sorted(SCENARIOS))
    events: list[FaultEvent] = []
    for f in SCENARIOS[scenario]:
        if f.replica >= replicas:
            continue
        for on, frac in ((True, f.start), (False, f.end)):
            events.append(FaultEvent(frac * duration_s, f.replica, f.kind, on, f.value, f.warmup_s, f.warmup_factor))
    events.sort(key=lambda e: (e.time_s, e.replica, not e.on))
    return events


class FaultState:
    """The faults currently affecting one replica (mutated by :meth:`apply`)."""

    __slots__ = ("added_s", "crashed", "error_rate", "flap_period_s", "flap_since", "hung", "slowdown",
                 "warmup_factor", "warmup_until")

    def __init__(self) -> None:
        self.error_rate = 0.0
        self.added_s = 0.0
        self.slowdown = 1.0
        self.hung = False
        self.crashed = False
        self.flap_period_s = 0.0
        self.flap_since = 0.0
        self.warmup_until = -math.inf
        self.warmup_factor = 1.0

    def apply(self, e: FaultEvent) -> None:
        kind = e.kind
        if kind == "errors":
            self.error_rate = e.value if e.on else 0.0
        elif kind == "latency":
            self.added_s = e.value if e.on else 0.0
        elif kind == "slowdown":
            self.slowdown = e.value if e.on else 1.0
        elif kind == "hang":
            self.hung = e.on
        elif kind == "crash":
            self.crashed = e.on
            if not e.on:
                self.warmup_until = e.time_s + e.warmup_s
                self.warmup_factor = e.warmup_factor
        elif kind == "flapping":
            self.flap_period_s = e.value if e.on else 0.0
            self.flap_since = e.time_s

    def factor(self, now: float) -> float:
        """Service-time multiplier now (slowdown × warm-up after a restart)."""
        return self.slowdown * (self.warmup_factor if now < self.warmup_until else 1.0)

    def health_ok(self, now: float) -> bool:
        """What an active health check sees now."""
        if self.crashed or self.hung:
            return False
        if self.flap_period_s:
            return int((now - self.flap_since) / self.flap_period_s) % 2 == 1
        return True


def apply_to_engine(engine: Any, e: FaultEvent) -> None:
    """Apply a fault event to a live :class:`~blaze_lab.engines.fake.FakeEngine` (duck-typed knobs).

    A crash only kills the engine: bringing it back is the EngineManager's job (its restart and warm-up are
    what live mode measures), so the ``crash`` off-event is ignored here.
    """
    kind = e.kind
    if kind == "errors":
        engine.error_rate = e.value if e.on else 0.0
    elif kind == "latency":
        engine.added_s = e.value if e.on else 0.0
    elif kind == "slowdown":
        engine.slowdown = e.value if e.on else 1.0
    elif kind == "hang":
        engine.hung = e.on
    elif kind == "crash" and e.on:
        engine.crash()
    elif kind == "flapping":
        # Same phase law as FaultState.health_ok: down first, then up, every value seconds (model time).
        engine.flap_period_s = e.value * engine.time_scale if e.on else 0.0
        engine.flap_since = engine.clock.now()


async def inject(engines: Sequence[Any], events: Sequence[FaultEvent], clock: Clock, time_scale: float = 1.0) -> None:
    """Apply ``events`` to live engines at their times (model seconds × ``time_scale`` from now)."""
    start = clock.now()
    for e in sorted(events, key=lambda e: e.time_s):
        delay = start + e.time_s * time_scale - clock.now()
        if delay > 0:
            await clock.sleep(delay)
        apply_to_engine(engines[e.replica], e)
    await asyncio.sleep(0)


__all__ = ["KINDS", "SCENARIOS", "Fault", "FaultEvent", "FaultState", "apply_to_engine", "inject", "schedule"]
