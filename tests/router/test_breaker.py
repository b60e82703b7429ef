"""Circuit breaker: exact transition times on a virtual clock (no sleeps)."""

from __future__ import annotations

import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError
from blaze_lab.router.breaker import CLOSED, HALF_OPEN, OPEN, REFUSED, CircuitBreaker
from blaze_lab.router.config import BreakerConfig


def make(**kw: object) -> tuple[CircuitBreaker, VirtualClock]:
    clock = VirtualClock()
    return CircuitBreaker(BreakerConfig(**kw), clock, "r0"), clock  # type: ignore[arg-type]


def fail(b: CircuitBreaker, n: int = 1) -> None:
    for _ in range(n):
        b.record(b.acquire(), ok=False)


def succeed(b: CircuitBreaker, n: int = 1) -> None:
    for _ in range(n):
        b.record(b.acquire(), ok=True, latency_s=0.01)


def states(b: CircuitBreaker) -> list[tuple[float, str, str]]:
    return [(row["time_s"], row["from_state"], row["to_state"]) for row in b.transitions]


def test_full_cycle_exact_times() -> None:
    b, clock = make(failure_threshold=3, open_s=2.0, backoff_multiplier=1.0, success_threshold=2)
    clock.advance(1.0)
    fail(b, 2)
    assert b.state == CLOSED
    clock.advance(0.5)
    fail(b)  # third consecutive failure at t=1.5
    assert b.state == OPEN
    assert b.acquire() == REFUSED
    clock.advance(1.75)
    assert b.state == OPEN
    clock.advance(0.5)  # looked at late (t=3.75): the transition is still stamped at exactly t=3.5
    assert b.state == HALF_OPEN
    succeed(b)
    assert b.state == HALF_OPEN
    clock.advance(0.25)
    succeed(b)
    assert states(b) == [(1.5, CLOSED, OPEN), (3.5, OPEN, HALF_OPEN), (4.0, HALF_OPEN, CLOSED)]
    assert b.transitions[-1]["reason"] == "2 successful trials"


def test_success_resets_consecutive_count() -> None:
    b, _ = make(failure_threshold=3, minimum_calls=20, failure_rate_threshold=1.0)
    for _ in range(5):
        fail(b, 2)
        succeed(b)
    assert b.state == CLOSED and b.transitions == []


def test_failure_rate_window_opens() -> None:
    b, clock = make(failure_threshold=0, window_size=10, minimum_calls=10, failure_rate_threshold=0.5)
    for _ in range(4):
        succeed(b)
        fail(b)
    assert b.state == CLOSED  # 8 calls < minimum_calls
    clock.advance(2.0)
    succeed(b)
    fail(b)  # 10 calls, 5 failures -> 50%
    assert states(b) == [(2.0, CLOSED, OPEN)]
    assert b.transitions[0]["reason"] == "failure rate 5/10"


def test_slow_call_rate_opens() -> None:
    b, _ = make(failure_threshold=0, window_size=4, minimum_calls=4, slow_call_s=0.1, slow_call_rate_threshold=0.75)
    for latency in (0.2, 0.05, 0.3, 0.4):
        b.record(b.acquire(), ok=True, latency_s=latency)
    assert b.state == OPEN
    assert b.transitions[0]["reason"] == "slow-call rate 3/4"


def test_half_open_limits_trials_and_failed_trial_backs_off() -> None:
    b, clock = make(failure_threshold=1, open_s=1.0, backoff_multiplier=2.0, max_open_s=3.0,
                    half_open_max_calls=2, success_threshold=3)
    fail(b)  # open at 0 until 1
    clock.advance(1.0)
    t1, t2 = b.acquire(), b.acquire()
    assert REFUSED not in (t1, t2)
    assert b.acquire() == REFUSED  # only two concurrent trials
    b.record(t1, ok=False)  # trial failed at t=1 -> open for 2 s
    assert b.state == OPEN and b.reopens_at() == 3.0
    clock.advance_to(3.0)
    fail(b)  # trial fails again -> 4 s capped at 3 s
    assert b.reopens_at() == 6.0
    clock.advance_to(6.0)
    succeed(b, 3)
    assert b.state == CLOSED
    fail(b)  # backoff level reset by closing: 1 s again
    assert b.reopens_at() == 7.0
    assert [r["to_state"] for r in b.transitions] == [OPEN, HALF_OPEN, OPEN, HALF_OPEN, OPEN, HALF_OPEN, CLOSED, OPEN]


def test_stale_results_ignored() -> None:
    b, clock = make(failure_threshold=2, open_s=1.0)
    tokens = [b.acquire() for _ in range(5)]  # five calls in flight while closed
    b.record(tokens[0], ok=False)
    b.record(tokens[1], ok=False)  # opens
    for t in tokens[2:]:
        b.record(t, ok=False)  # results of the same burst: must not re-open or count
    assert len(b.transitions) == 1
    clock.advance(1.0)
    assert b.state == HALF_OPEN


def test_release_returns_trial_slot() -> None:
    b, clock = make(failure_threshold=1, open_s=1.0)
    fail(b)
    clock.advance(1.0)
    token = b.acquire()
    assert b.acquire() == REFUSED
    b.release(token)
    assert b.acquire() != REFUSED


def test_disabled_breaker_always_admits() -> None:
    b, _ = make(enabled=False, failure_threshold=1)
    fail(b, 10)
    assert b.acquire() != REFUSED and b.transitions == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("success_threshold", 0), ("failure_rate_threshold", 0.0), ("open_s", 0.0), ("half_open_max_calls", 0),
     ("backoff_multiplier", 0.5), ("window_size", 0)],
)
def test_bad_breaker_config(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"breaker.{field}"):
        BreakerConfig(**{field: value})  # type: ignore[arg-type]
