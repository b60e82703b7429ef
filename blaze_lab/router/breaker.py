"""Circuit breaker: closed → open → half-open → closed, one small class per state.

* **Closed** admits every call; it opens on ``failure_threshold`` consecutive failures, or when the failure rate
  (or slow-call rate) over the last ``window_size`` calls reaches its threshold after ``minimum_calls``.
* **Open** refuses calls for the open duration: ``open_s × backoff_multiplier^k`` (capped at ``max_open_s``),
  where k counts re-opens after failed trials since the last close. The switch to half-open happens at exactly
  ``opened_at + duration``, whenever the breaker is next looked at.
* **Half-open** admits at most ``half_open_max_calls`` concurrent trial calls; ``success_threshold`` successes
  close it, any failure re-opens it.

Each admitted call gets a *generation* token; a result carrying the token of an earlier state (a call that was
in flight when the breaker changed state) is ignored, so one burst of failures cannot open the breaker twice.
Every transition is appended to :attr:`CircuitBreaker.transitions` as a row
``{time_s, replica, from_state, to_state, reason}``.

Example:
    >>> from blaze_lab.clock import VirtualClock
    >>> from blaze_lab.router.config import BreakerConfig
    >>> clock = VirtualClock()
    >>> b = CircuitBreaker(BreakerConfig(failure_threshold=2, open_s=1.0, success_threshold=1), clock, "r0")
    >>> for _ in range(2):
    ...     b.record(b.acquire(), ok=False)
    >>> b.state, b.acquire()
    ('open', -1)
    >>> clock.advance(1.0)
    >>> b.state
    'half_open'
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from blaze_lab.clock import Clock
from blaze_lab.router.config import BreakerConfig

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
REFUSED = -1


class _State:
    name = ""

    def acquire(self, b: CircuitBreaker) -> bool:
        raise NotImplementedError

    def on_result(self, b: CircuitBreaker, ok: bool, slow: bool) -> None:
        raise NotImplementedError


class ClosedState(_State):
    """Counts consecutive failures and a sliding window of (failed, slow) outcomes."""

    name = CLOSED
    __slots__ = ("consecutive", "failures", "slow", "window")

    def __init__(self, config: BreakerConfig) -> None:
        self.consecutive = 0
        self.window: deque[tuple[bool, bool]] = deque(maxlen=config.window_size)
        self.failures = 0
        self.slow = 0

    def acquire(self, b: CircuitBreaker) -> bool:
        return True

    def on_result(self, b: CircuitBreaker, ok: bool, slow: bool) -> None:
        cfg = b.config
        window = self.window
        if len(window) == window.maxlen:
            old_failed, old_slow = window[0]
            self.failures -= old_failed
            self.slow -= old_slow
        window.append((not ok, slow))
        self.failures += not ok
        self.slow += slow
        self.consecutive = 0 if ok else self.consecutive + 1
        reason = ""
        if cfg.failure_threshold and self.consecutive >= cfg.failure_threshold:
            reason = f"{self.consecutive} consecutive failures"
        else:
            n = len(window)
            if n >= cfg.minimum_calls:
                if self.failures / n >= cfg.failure_rate_threshold:
                    reason = f"failure rate {self.failures}/{n}"
                elif cfg.slow_call_s and self.slow / n >= cfg.slow_call_rate_threshold:
                    reason = f"slow-call rate {self.slow}/{n}"
        if not reason:
            return
        if b.may_open is not None and not b.may_open():
            # The ejection cap is reached: stay closed and start counting afresh (Envoy's max_ejection_percent).
            b.capped += 1
            b.move(ClosedState(cfg), f"{reason}; not opened: ejection cap", record=False)
            return
        b.trip(reason)


class OpenState(_State):
    """Refuses every call until ``until`` (checked by the breaker before delegating here)."""

    name = OPEN
    __slots__ = ("until",)

    def __init__(self, until: float) -> None:
        self.until = until

    def acquire(self, b: CircuitBreaker) -> bool:
        return False

    def on_result(self, b: CircuitBreaker, ok: bool, slow: bool) -> None:
        """Results while open come from calls of an earlier generation and never reach here."""


class HalfOpenState(_State):
    """Admits a limited number of concurrent trials; closes after enough successes."""

    name = HALF_OPEN
    __slots__ = ("in_flight", "successes")

    def __init__(self) -> None:
        self.in_flight = 0
        self.successes = 0

    def acquire(self, b: CircuitBreaker) -> bool:
        if self.in_flight >= b.config.half_open_max_calls:
            return False
        self.in_flight += 1
        return True

    def on_result(self, b: CircuitBreaker, ok: bool, slow: bool) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        if not ok or slow:
            b.backoff_level += 1
            b.trip("trial failed" if not ok else "trial slow")
            return
        self.successes += 1
        if self.successes >= b.config.success_threshold:
            b.backoff_level = 0
            b.move(ClosedState(b.config), f"{self.successes} successful trials")


class CircuitBreaker:
    """Per-replica breaker on an injected clock (see the module docstring)."""

    def __init__(
        self,
        config: BreakerConfig,
        clock: Clock,
        replica: str = "",
        on_transition: Callable[[CircuitBreaker, str, str], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.replica = replica
        self.on_transition = on_transition
        self.may_open: Callable[[], bool] | None = None  # the router's ejection cap (None: always may)
        self.capped = 0  # openings refused by the cap
        self.generation = 0
        self.backoff_level = 0
        self.transitions: list[dict[str, Any]] = []
        self._state: _State = ClosedState(config)
        self.closed = True  # fast path flag: closed breakers are the common case

    # -- queries ---------------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """Current state name, applying an elapsed open period first."""
        self._expire()
        return self._state.name

    def trial_free(self) -> bool:
        """False only for a half-open breaker whose trial slots are all in use."""
        st = self._state
        return not isinstance(st, HalfOpenState) or st.in_flight < self.config.half_open_max_calls

    def reopens_at(self) -> float | None:
        """When an open breaker turns half-open (None unless open)."""
        st = self._state
        return st.until if isinstance(st, OpenState) else None

    def open_duration(self) -> float:
        cfg = self.config
        return min(cfg.max_open_s, cfg.open_s * cfg.backoff_multiplier**self.backoff_level)

    # -- calls -----------------------------------------------------------------------------------------------
    def acquire(self) -> int:
        """Ask to make a call: the generation token to pass to :meth:`record`, or ``REFUSED`` (-1)."""
        if self.closed or not self.config.enabled:
            return self.generation
        self._expire()
        return self.generation if self._state.acquire(self) else REFUSED

    def record(self, token: int, ok: bool, latency_s: float = 0.0) -> None:
        """Report the outcome of a call admitted with ``token`` (stale tokens are ignored)."""
        if token != self.generation or token == REFUSED or not self.config.enabled:
            return
        slow_s = self.config.slow_call_s
        self._state.on_result(self, ok, bool(slow_s) and latency_s > slow_s)

    def release(self, token: int) -> None:
        """Give back a trial slot of a call that was admitted but never made (no outcome to report)."""
        st = self._state
        if token == self.generation and isinstance(st, HalfOpenState):
            st.in_flight = max(0, st.in_flight - 1)

    # -- transitions (called by the states) ------------------------------------------------------------------
    def trip(self, reason: str) -> None:
        self.move(OpenState(self.clock.now() + self.open_duration()), reason)

    def move(self, new: _State, reason: str, at: float | None = None, record: bool = True) -> None:
        old = self._state.name
        self._state = new
        self.closed = new.name == CLOSED
        self.generation += 1
        if not record:
            return
        self.transitions.append(
            {
                "time_s": self.clock.now() if at is None else at,
                "replica": self.replica,
                "from_state": old,
                "to_state": new.name,
                "reason": reason,
            }
        )
        if self.on_transition is not None:
            self.on_transition(self, old, new.name)

    def _expire(self) -> None:
        st = self._state
        if isinstance(st, OpenState) and self.clock.now() >= st.until:
            self.move(HalfOpenState(), "open period elapsed", at=st.until)


__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "REFUSED", "CircuitBreaker", "ClosedState", "HalfOpenState", "OpenState"]
