"""Router core: retries with budget and backoff, hedging, bounded queue, ledger rows, bad inputs."""

from __future__ import annotations

import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError, Overloaded
from blaze_lab.router.config import BreakerConfig, HealthConfig, RouterConfig
from blaze_lab.router.core import Attempt, RouterCore
from blaze_lab.router.strategies import Request


def core(n: int = 3, **kw: object) -> tuple[RouterCore, VirtualClock]:
    clock = VirtualClock()
    kw.setdefault("strategy", "round_robin")
    kw.setdefault("health", HealthConfig(interval_s=0.0))
    return RouterCore(RouterConfig(**kw), [f"r{i}" for i in range(n)], clock, seed=0), clock  # type: ignore[arg-type]


def take(c: RouterCore) -> Attempt:
    assert len(c.outbox) == 1, c.outbox
    return c.outbox.pop()


def test_retry_goes_to_another_replica_after_backoff() -> None:
    c, clock = core(max_attempts=3, retry_backoff_s=0.1)
    t = c.submit(Request(0))
    a1 = take(c)
    clock.advance(0.05)
    c.finish(a1, ok=False, error="EngineError")
    assert not t.done and not c.outbox
    (when, kind, ticket), = c.timers
    assert kind == "retry" and ticket is t and 0.05 <= when <= 0.15  # full jitter within the first backoff
    c.timers.clear()
    clock.advance_to(when)
    c.retry_due(t)
    a2 = take(c)
    assert a2.replica.index != a1.replica.index and a2.number == 2
    c.finish(a2, ok=True)
    row = c.ledger.frame().iloc[0]
    assert (row["outcome"], row["attempts"], row["replica"]) == ("ok", 2, a2.replica.name)
    assert row["reason"].startswith("retry 2")


def test_attempts_exhausted_gives_typed_error() -> None:
    c, _ = core(max_attempts=2, retry_backoff_s=0.0)
    t = c.submit(Request(0))
    c.finish(take(c), ok=False, error="EngineUnavailable")
    c.finish(take(c), ok=False, error="RequestTimeout")  # zero backoff: retried immediately
    assert t.done and t.outcome == "error" and t.error == "RequestTimeout"


def test_retry_budget_limits_retries() -> None:
    c, _ = core(n=2, max_attempts=5, retry_backoff_s=0.0, retry_budget_min=2.0, retry_budget_ratio=0.0)
    retried = 0
    for i in range(5):
        t = c.submit(Request(i))
        while not t.done:
            a = take(c)
            retried += a.number > 1
            c.finish(a, ok=False, error="EngineError")
    assert retried == 2  # the budget had two tokens and earned none
    assert (c.ledger.frame()["outcome"] == "error").all()


def test_hedge_after_delay_first_answer_wins() -> None:
    c, clock = core(hedge_delay_s=0.2)
    t = c.submit(Request(0))
    first = take(c)
    (when, kind, _), = c.timers
    assert (when, kind) == (0.2, "hedge")
    c.timers.clear()
    clock.advance_to(0.2)
    c.hedge(t)
    second = take(c)
    assert second.hedge and second.replica is not first.replica
    clock.advance(0.01)
    c.finish(second, ok=True)
    assert t.done and t.hedged and t.replica == second.replica.name
    c.finish(first, ok=False, cancelled=True)  # the loser is cancelled by the driver
    assert all(r.outstanding == 0 for r in c.replicas)
    assert len(c.ledger) == 1


def test_hedge_not_sent_when_answered() -> None:
    c, _ = core(hedge_delay_s=0.2)
    t = c.submit(Request(0))
    c.finish(take(c), ok=True)
    c.hedge(t)
    assert not c.outbox


def test_bounded_queue_overloaded() -> None:
    c, _ = core(n=2, max_inflight_per_replica=1, queue_size=3)
    tickets = [c.submit(Request(i)) for i in range(5)]  # 2 running, 3 waiting
    with pytest.raises(Overloaded):
        c.submit(Request(5))
    assert len(c.outbox) == 2 and len(c.waiting) == 3
    first = c.outbox.pop(0)
    c.finish(first, ok=True)  # frees a slot -> the oldest waiting request is dispatched
    assert c.outbox[-1].ticket is tickets[2]
    rows = c.ledger.frame()
    assert rows.set_index("request_id").loc[5, "error_type"] == "Overloaded"
    assert rows.set_index("request_id").loc[5, "outcome"] == "rejected"


def test_queue_wait_and_timeout() -> None:
    c, clock = core(n=1, max_inflight_per_replica=1, queue_timeout_s=1.0)
    c.submit(Request(0))
    busy = take(c)
    waiting = c.submit(Request(1))
    late = c.submit(Request(2))
    clock.advance(0.5)
    c.finish(busy, ok=True)
    a = take(c)
    assert a.ticket is waiting
    clock.advance(0.6)
    c.tick()
    assert late.done and late.error == "RequestTimeout"
    c.finish(a, ok=True)
    df = c.ledger.frame().set_index("request_id")
    assert df.loc[1, "queue_wait_s"] == 0.5 and df.loc[1, "latency_s"] == pytest.approx(1.1)


def test_open_breakers_route_around_and_all_open_fails_typed() -> None:
    c, clock = core(n=2, breaker=BreakerConfig(failure_threshold=1, open_s=1.0), max_attempts=1)
    t0 = c.submit(Request(0))
    c.finish(take(c), ok=False, error="EngineError")  # r0 opens
    assert t0.error == "EngineError"
    for i in range(1, 4):
        c.submit(Request(i))
        a = take(c)
        assert a.replica.name == "r1"
        c.finish(a, ok=True)
    t = c.submit(Request(9))
    c.finish(take(c), ok=False, error="EngineError")  # r1 opens too
    t2 = c.submit(Request(10))
    assert t2.done and t2.error == "CircuitOpenError"
    clock.advance(1.0)  # both half-open: trials admitted again
    c.submit(Request(11))
    assert take(c).ticket.request.id == 11
    assert t.error == "EngineError"
    states = c.ledger.frame().set_index("request_id")
    assert states.loc[9, "open_breakers"] == 1


def test_health_unhealthy_replica_skipped() -> None:
    c, _ = core(n=2, health=HealthConfig(interval_s=0.0, unhealthy_threshold=1))
    c.health[0].record_check(False)
    for i in range(4):
        c.submit(Request(i))
        assert take(c).replica.name == "r1"


def test_empty_replica_set_and_bad_weights() -> None:
    with pytest.raises(ConfigError, match="empty replica set"):
        RouterCore(RouterConfig(), [], VirtualClock())
    with pytest.raises(ConfigError, match=r"router\.weights"):
        RouterCore(RouterConfig(weights=(1.0, 2.0)), ["a", "b", "c"], VirtualClock())
    with pytest.raises(ConfigError, match="unique"):
        RouterCore(RouterConfig(), ["a", "a"], VirtualClock())


def test_replica_back_from_open_is_unmeasured_again() -> None:
    c, clock = core(n=2, max_attempts=1, breaker=BreakerConfig(failure_threshold=1, open_s=1.0),
                    health=HealthConfig(interval_s=0.0, unhealthy_threshold=1, healthy_threshold=1))
    c.submit(Request(0))
    a = take(c)
    assert a.replica.name == "r0"
    clock.advance(0.5)
    c.finish(a, ok=False, error="EngineError")
    assert c.breakers[0].state == "open" and c.replicas[0].ewma_s == 0.5
    clock.advance(1.0)
    c.candidates()
    # Forgotten at half-open: latency-aware strategies would otherwise starve the trial calls.
    assert c.breakers[0].state == "half_open" and c.replicas[0].ewma_s == 0.0
    c.replicas[1].ewma_s = 0.3
    c.health[1].record_check(False)
    c.health[1].record_check(True)
    assert c.replicas[1].ewma_s == 0.0
