"""The fault model of one replica: timed fault events and their current effect, shared by both modes.

A :class:`FaultEvent` switches one fault on or off on one replica at an absolute model time. Kinds:

* ``errors``   – each request fails with probability ``value`` (EngineError);
* ``latency``  – ``value`` seconds added to every request;
* ``slowdown`` – service time multiplied by ``value`` (gray failure: slow but "healthy");
* ``hang``     – requests never answer and health checks time out;
* ``crash``    – the replica dies (in-flight requests fail with EngineUnavailable); the off-event is the restart,
  after which it runs ``warmup_factor`` times slower for ``warmup_s`` seconds;
* ``flapping`` – health checks alternate fail/pass every ``value`` seconds while requests are still served.

:class:`FaultState` is the single dispatch from events to effects: the simulator's replicas and the live
:class:`~blaze_lab.replicas.fake.FakeEngine` both hold one and read it the same way (:meth:`FaultState.factor`,
:meth:`FaultState.fails`, :meth:`FaultState.health_ok`). Which replicas, what and when is data, written in the
spec grammar of :mod:`blaze_lab.router.faults`.

Example:
    >>> import random
    >>> st = FaultState()
    >>> st.apply(FaultEvent(1.0, 0, "slowdown", True, value=3.0))
    >>> st.factor(1.0), st.fails(random.Random(0)), st.health_ok(1.0)
    (3.0, False, True)
"""

from __future__ import annotations

import dataclasses
import math
import random

KINDS = ("errors", "latency", "slowdown", "hang", "crash", "flapping")


@dataclasses.dataclass(frozen=True)
class FaultEvent:
    """A fault switching on or off at an absolute model time."""

    time_s: float
    replica: int
    kind: str
    on: bool
    value: float = 0.0
    warmup_s: float = 0.0
    warmup_factor: float = 1.0


class FaultState:
    """The faults currently affecting one replica (mutated by :meth:`apply`; times in model seconds)."""

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

    def apply(self, e: FaultEvent, now: float | None = None) -> None:
        """Apply one event at model time ``now`` (default: the event's own time)."""
        at = e.time_s if now is None else now
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
                self.warm_up(at, e.warmup_s, e.warmup_factor)
        elif kind == "flapping":
            self.flap_period_s = e.value if e.on else 0.0
            self.flap_since = at

    def warm_up(self, now: float, seconds: float, factor: float) -> None:
        """After a restart: ``factor`` times slower until ``now + seconds``."""
        self.warmup_until = now + seconds
        self.warmup_factor = factor

    def warming(self, now: float) -> bool:
        return now < self.warmup_until

    def factor(self, now: float) -> float:
        """Service-time multiplier now (slowdown × warm-up after a restart)."""
        return self.slowdown * (self.warmup_factor if now < self.warmup_until else 1.0)

    def fails(self, rng: random.Random) -> bool:
        """Whether this request hits an injected error (one draw from the fault stream while errors are on)."""
        return bool(self.error_rate) and rng.random() < self.error_rate

    def health_ok(self, now: float) -> bool:
        """What an active health check sees now (flapping: down first, then up, each ``flap_period_s``)."""
        if self.crashed or self.hung:
            return False
        if self.flap_period_s:
            return int((now - self.flap_since) / self.flap_period_s) % 2 == 1
        return True


__all__ = ["KINDS", "FaultEvent", "FaultState"]
