"""Fault scenarios on a time schedule, shared by simulated replicas and live fake replicas.

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
:class:`~blaze_lab.replicas.faults.FaultEvent` s; :class:`~blaze_lab.replicas.faults.FaultState` (one for both
modes) is the current effect on one replica.

Example:
    >>> events = schedule("crash", duration_s=10.0, replicas=4)
    >>> [(e.time_s, e.replica, e.kind, e.on) for e in events]
    [(5.0, 0, 'crash', True), (6.0, 0, 'crash', False)]
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

from blaze_lab.clock import Clock
from blaze_lab.errors import ConfigError
from blaze_lab.replicas.faults import KINDS, FaultEvent, FaultState


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


def apply_to_engine(engine: Any, e: FaultEvent) -> None:
    """Apply a fault event to a live replica: every live replica (:class:`~blaze_lab.replicas.fake.FakeEngine`,
    :class:`~blaze_lab.router.ray_replicas.RayReplica`) takes events through ``apply_fault``, which feeds the same
    :class:`~blaze_lab.replicas.faults.FaultState` the simulator's replicas use."""
    engine.apply_fault(e)


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
