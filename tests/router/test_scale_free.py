"""Scale-free time knobs, failure-aware statistics and the validity verdict, every knob reaching the router."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.load.slo import SLO
from blaze_lab.router.bench import run_one, summarize_ledger
from blaze_lab.router.config import TIME_KNOBS, RouterExperimentConfig

STRATEGIES = ("random", "round_robin", "least_connections", "power_of_two_choices")
# The absolute defaults this project used to ship (tuned for a 50 ms service).
OLD_ABSOLUTE = {"attempt_timeout_s": 2.0, "slo_latency_s": 0.5, "breaker_open_s": 1.0, "health_interval_s": 0.5,
                "health_timeout_s": 0.25, "retry_backoff_s": 0.005, "retry_backoff_max_s": 0.5, "eject_s": 5.0}


def p99s(base: float, **kw: object) -> dict[str, dict[str, object]]:
    out = {}
    for s in STRATEGIES:
        cfg = RouterExperimentConfig(strategy=s, replicas=8, heterogeneity=2.0, base_latency_s=base,
                                     per_request_s=0.2 * base, load=0.8, n_requests=3000, seed=1, **kw)  # type: ignore[arg-type]
        out[s] = run_one(cfg)[0]
    return out


def test_strategies_rank_the_same_at_1s_as_at_50ms() -> None:
    fast, slow = p99s(0.05), p99s(1.0)
    rank = sorted(STRATEGIES, key=lambda s: fast[s]["latency_s_p99"])  # type: ignore[arg-type, return-value]
    assert rank == sorted(STRATEGIES, key=lambda s: slow[s]["latency_s_p99"])  # type: ignore[arg-type, return-value]
    for s in STRATEGIES:  # relative knobs: the 1 s run is the 50 ms run, 20 times slower
        assert slow[s]["latency_s_p99"] == pytest.approx(20 * fast[s]["latency_s_p99"], rel=1e-6)
        assert slow[s]["breaker_opens"] == fast[s]["breaker_opens"]
    assert fast["least_connections"]["latency_s_p99"] < 0.5 * fast["random"]["latency_s_p99"]  # a real ranking


def test_absolute_50ms_knobs_at_1s_are_flagged_invalid() -> None:
    rows = p99s(1.0, **OLD_ABSOLUTE)
    for s in STRATEGIES:
        assert not rows[s]["valid"] and "failures dominate" in str(rows[s]["validity_reason"])
        assert rows[s]["timeout_fraction"] > 0.3  # type: ignore[operator]


def test_relative_and_absolute_forms() -> None:
    cfg = RouterExperimentConfig.from_dict({"attempt_timeout_s": {"relative": 4}, "slo_latency_s": {"seconds": 2},
                                            "hedge_delay_s": "3x", "base_latency_s": 0.5})
    assert cfg.attempt_timeout_s == "4x" and cfg.slo_latency_s == 2.0
    rc = cfg.router_config(0.5)
    assert rc.attempt_timeout_s == 2.0 and rc.hedge_delay_s == 1.5
    assert RouterExperimentConfig().router_config(0.05).attempt_timeout_s == pytest.approx(2.0)  # 40x default
    with pytest.raises(ConfigError, match=r"router\.hedge_delay_s"):
        RouterExperimentConfig(hedge_delay_s="soon")
    with pytest.raises(ConfigError, match=r"router\.slo_latency_s"):
        RouterExperimentConfig(slo_latency_s="0x")
    flat = RouterExperimentConfig(attempt_timeout_s=2.0).flat()
    assert all(isinstance(flat[f"router.{k}"], str) for k in TIME_KNOBS)  # one column type across a sweep


def test_every_knob_reaches_the_router() -> None:
    cfg = RouterExperimentConfig(
        replicas=4, speeds=(1.0, 1.0, 3.0, 3.0), weights=(3.0, 3.0, 1.0, 1.0), ewma_alpha=0.05, adaptive_choices=2,
        max_inflight_per_replica=6, eject_consecutive_errors=4, breaker_half_open_max_calls=3,
        retry_budget_ratio=0.1, breaker_slow_call_s="4x", breaker_slow_call_rate_threshold=0.8,
        breaker_window_size=30, breaker_minimum_calls=15, max_ejection_fraction=0.25)
    rc = cfg.router_config(0.05)
    assert (rc.ewma_alpha, rc.adaptive_choices, rc.max_inflight_per_replica) == (0.05, 2, 6)
    assert rc.weights == (3.0, 3.0, 1.0, 1.0) and cfg.replica_speeds() == [1.0, 1.0, 3.0, 3.0]
    assert rc.health.eject_consecutive_errors == 4 and rc.breaker.half_open_max_calls == 3
    assert rc.retry_budget_ratio == 0.1 and rc.breaker.slow_call_s == pytest.approx(0.2)
    assert (rc.breaker.window_size, rc.breaker.minimum_calls, rc.breaker.slow_call_rate_threshold) == (30, 15, 0.8)
    assert rc.max_ejection_fraction == 0.25
    with pytest.raises(ConfigError, match=r"router\.speeds"):
        RouterExperimentConfig(replicas=3, speeds=(1.0, 2.0))
    with pytest.raises(ConfigError, match=r"breaker\.minimum_calls"):
        RouterExperimentConfig(breaker_window_size=5, breaker_minimum_calls=10)


def test_failure_aware_latency_counts_failures_at_the_timeout() -> None:
    n_ok, n_fail = 400, 100
    ledger = pd.DataFrame({
        "outcome": ["ok"] * n_ok + ["error"] * n_fail, "latency_s": [0.1] * n_ok + [0.01] * n_fail,
        "attempts": [1] * 500, "hedged": [False] * 500, "queue_wait_s": [0.0] * 500,
        "error_type": [""] * n_ok + ["CircuitOpenError", "RequestTimeout"] * (n_fail // 2), "replica": ["a"] * 500})
    transitions = pd.DataFrame({"kind": [], "to_state": []})
    row = summarize_ledger(ledger, transitions, 1.0, SLO(e2e_s=0.5), fail_at_s=2.0)
    assert row["latency_s_p99"] == pytest.approx(0.1)  # success-only: shedding looks fast
    assert row["latency_all_s_p99"] == pytest.approx(2.0) and row["latency_all_s_p50"] == pytest.approx(0.1)
    assert row["slo_miss_rate"] == pytest.approx(0.2) and row["failure_fraction"] == pytest.approx(0.2)
    assert not row["valid"] and "20.0% of requests failed (10.0% timed out)" in row["validity_reason"]
    small = summarize_ledger(ledger.iloc[::10], transitions, 1.0, SLO(e2e_s=0.5), fail_at_s=2.0)
    assert math.isnan(small["latency_all_s_p99"])  # 50 requests cannot support a p99
