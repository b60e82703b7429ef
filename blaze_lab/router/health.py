"""Health: active checks (unhealthy after N failed checks, healthy after M passed) and passive ejection.

:class:`HealthTracker` is the sans-IO state machine for one replica: feed it check results and request outcomes,
read :attr:`HealthTracker.available`. The simulator calls it from its event loop; in live mode
:class:`HealthChecker` runs one asyncio task per replica that probes periodically on the injected clock.
Every change is a row ``{time_s, replica, from_state, to_state, reason}`` in :attr:`HealthTracker.transitions`.

Example:
    >>> from blaze_lab.clock import VirtualClock
    >>> from blaze_lab.router.config import HealthConfig
    >>> t = HealthTracker(HealthConfig(unhealthy_threshold=2, healthy_threshold=1), VirtualClock(), "r0")
    >>> t.record_check(False); t.available
    True
    >>> t.record_check(False); t.available
    False
    >>> t.record_check(True); t.available
    True
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from blaze_lab.clock import Clock
from blaze_lab.router.config import HealthConfig

HEALTHY, UNHEALTHY, EJECTED = "healthy", "unhealthy", "ejected"


class HealthTracker:
    """Per-replica health state from active checks and passive (request-outcome) ejection."""

    def __init__(
        self,
        config: HealthConfig,
        clock: Clock,
        replica: str = "",
        on_change: Callable[[HealthTracker], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.replica = replica
        self.on_change = on_change
        self.may_eject: Callable[[], bool] | None = None  # the router's ejection cap (None: always may)
        self.capped = 0  # passive ejections refused by the cap
        self.healthy = True
        self.ejected_until = -1.0
        self._fails = 0
        self._passes = 0
        self._errors = 0
        self.transitions: list[dict[str, Any]] = []

    @property
    def available(self) -> bool:
        """Healthy by active checks and not passively ejected right now."""
        return self.healthy and self.clock.now() >= self.ejected_until

    def returns_at(self) -> float | None:
        """When a passive ejection ends (None when not ejected)."""
        return self.ejected_until if self.clock.now() < self.ejected_until else None

    def record_check(self, ok: bool) -> None:
        """Feed one active check result."""
        cfg = self.config
        if ok:
            self._passes += 1
            self._fails = 0
            if not self.healthy and self._passes >= cfg.healthy_threshold:
                self._set(True, f"{self._passes} checks passed")
        else:
            self._fails += 1
            self._passes = 0
            if self.healthy and self._fails >= cfg.unhealthy_threshold:
                self._set(False, f"{self._fails} checks failed")

    def record_result(self, ok: bool) -> None:
        """Feed one request outcome (passive ejection after consecutive errors)."""
        if ok:
            self._errors = 0
            return
        self._errors += 1
        limit = self.config.eject_consecutive_errors
        if limit and self._errors >= limit and self.clock.now() >= self.ejected_until:
            self._errors = 0
            if self.may_eject is not None and not self.may_eject():
                self.capped += 1
                return
            now = self.clock.now()
            self.ejected_until = now + self.config.eject_s
            self._row(HEALTHY if self.healthy else UNHEALTHY, EJECTED, f"{limit} consecutive errors", now)
            if self.on_change is not None:
                self.on_change(self)

    def _set(self, healthy: bool, reason: str) -> None:
        self.healthy = healthy
        self._row(UNHEALTHY if healthy else HEALTHY, HEALTHY if healthy else UNHEALTHY, reason, self.clock.now())
        if self.on_change is not None:
            self.on_change(self)

    def _row(self, old: str, new: str, reason: str, t: float) -> None:
        self.transitions.append(
            {"time_s": t, "replica": self.replica, "from_state": old, "to_state": new, "reason": reason}
        )


Probe = Callable[[], Awaitable[bool]]


class HealthChecker:
    """Live driver: probes each replica every ``interval_s`` on the clock and feeds its tracker.

    A probe that raises, returns False or takes longer than ``timeout_s`` counts as a failed check.

    Example (inside a coroutine)::

        checker = HealthChecker(config, clock, trackers, probes)
        checker.start()
        ...
        await checker.stop()
    """

    def __init__(
        self, config: HealthConfig, clock: Clock, trackers: Sequence[HealthTracker], probes: Sequence[Probe]
    ) -> None:
        self.config = config
        self.clock = clock
        self.trackers = list(trackers)
        self.probes = list(probes)
        self._tasks: list[asyncio.Task[None]] = []
        self.checks = 0

    def start(self) -> None:
        if self.config.interval_s <= 0 or self._tasks:
            return
        pairs = zip(self.trackers, self.probes, strict=True)
        self._tasks = [asyncio.create_task(self._loop(tracker, probe)) for tracker, probe in pairs]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def check_once(self, tracker: HealthTracker, probe: Probe) -> bool:
        """Run one probe with the clock-based timeout and feed the result."""
        ok = await self._probe(probe)
        self.checks += 1
        tracker.record_check(ok)
        return ok

    async def _loop(self, tracker: HealthTracker, probe: Probe) -> None:
        while True:
            await self.clock.sleep(self.config.interval_s)
            await self.check_once(tracker, probe)

    async def _probe(self, probe: Probe) -> bool:
        # The probe runs inline and a clock-based killer cancels it at the timeout: an instant probe costs no
        # extra event-loop hops (which keeps virtual-clock tests exact).
        current = asyncio.current_task()
        assert current is not None
        timed_out = False

        async def killer() -> None:
            nonlocal timed_out
            await self.clock.sleep(self.config.timeout_s)
            timed_out = True
            current.cancel()

        kill = asyncio.ensure_future(killer())
        try:
            return bool(await probe())
        except asyncio.CancelledError:
            if not timed_out:
                raise
            current.uncancel()
            return False
        except Exception:  # a probe that raises is a failed check, whatever the error
            return False
        finally:
            kill.cancel()


__all__ = ["EJECTED", "HEALTHY", "UNHEALTHY", "HealthChecker", "HealthTracker", "Probe"]
