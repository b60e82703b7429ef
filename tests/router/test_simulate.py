"""Simulation: determinism, strategy comparison on heterogeneous replicas, faults, calibration."""

from __future__ import annotations

import pandas as pd
import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.replicas.service import ServiceModel
from blaze_lab.router.bench import run_one
from blaze_lab.router.config import RouterExperimentConfig
from blaze_lab.router.simulate import simulate


def test_same_seed_byte_identical_ledger(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = RouterExperimentConfig(strategy="adaptive", replicas=6, heterogeneity=1.0, n_requests=3000,
                                 fault="mixed", seed=5, hedge_delay_s=0.3)
    paths = []
    for i in range(2):
        res = simulate(cfg)
        path = tmp_path / f"ledger{i}.parquet"
        res.ledger.to_parquet(path)
        paths.append(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    other = simulate(cfg.replace(seed=6)).ledger
    assert not other.equals(pd.read_parquet(paths[0]))


def p99(strategy: str, seed: int) -> float:
    cfg = RouterExperimentConfig(strategy=strategy, replicas=10, heterogeneity=3.0, load=0.75,
                                 n_requests=6000, seed=seed)
    ledger = simulate(cfg).ledger
    return float(ledger.loc[ledger["outcome"] == "ok", "latency_s"].quantile(0.99))


def test_p2c_and_adaptive_beat_random_and_round_robin_on_p99() -> None:
    for seed in (1, 2):
        scores = {s: p99(s, seed) for s in ("random", "round_robin", "power_of_two_choices", "adaptive")}
        worst_smart = max(scores["power_of_two_choices"], scores["adaptive"])
        best_naive = min(scores["random"], scores["round_robin"])
        assert worst_smart < 0.5 * best_naive, scores


@pytest.mark.parametrize("fault", ["crash", "errors", "slow", "latency", "hang", "flapping", "mixed"])
def test_faults_every_request_accounted(fault: str) -> None:
    cfg = RouterExperimentConfig(replicas=4, n_requests=2000, fault=fault, seed=3, attempt_timeout_s=1.0)
    res = simulate(cfg)
    ledger = res.ledger
    assert len(ledger) == 2000 and ledger["request_id"].is_unique
    assert set(ledger["outcome"]) <= {"ok", "error", "rejected"}
    assert (ledger.loc[ledger["outcome"] != "ok", "error_type"] != "").all()


def test_crash_opens_breaker_and_traffic_returns() -> None:
    cfg = RouterExperimentConfig(replicas=4, n_requests=8000, fault="crash", seed=1, health_interval_s=0.1)
    res = simulate(cfg)
    tr = res.transitions
    r0 = tr[tr["replica"] == "r0"]
    assert "open" in set(r0["to_state"]) or "unhealthy" in set(r0["to_state"])
    ledger = res.ledger
    end = ledger["arrival_s"].max()
    late = ledger[ledger["arrival_s"] > 0.8 * end]
    assert (late["replica"] == "r0").sum() > 0.1 * len(late)
    assert (ledger["outcome"] == "ok").mean() > 0.99  # retries absorb the crash


def test_service_model_fit_from_summary_rows() -> None:
    df = pd.DataFrame({"llm.batch_size": [1, 2, 4, 8], "latency_s_mean": [0.2, 0.25, 0.35, 0.55],
                       "latency_s_cv": [0.1, 0.1, 0.2, 0.2]})
    m = ServiceModel.fit(df)
    assert m.base_s == pytest.approx(0.2) and m.per_request_s == pytest.approx(0.05) and m.cv == pytest.approx(0.15)
    with pytest.raises(ConfigError, match="calibration"):
        ServiceModel.fit(pd.DataFrame({"x": [1]}))


def test_calibrated_model_drives_simulation() -> None:
    m = ServiceModel(base_s=0.2, per_request_s=0.05, cv=0.0)
    cfg = RouterExperimentConfig(replicas=2, n_requests=50, load=0.01, seed=0)
    ledger = simulate(cfg, model=m).ledger
    assert ledger["latency_s"].min() == pytest.approx(0.2)  # a lone request takes base_s


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"strategy": "nope"}, "router.strategy"), ({"replicas": 0}, "router.replicas"),
     ({"fault": "meteor"}, "router.fault"), ({"breaker_success_threshold": 0}, "breaker.success_threshold"),
     ({"mode": "cloud"}, "router.mode"), ({"load": -1.0}, "router.load")],
)
def test_bad_experiment_config(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        RouterExperimentConfig(**kwargs)  # type: ignore[arg-type]


def test_experiment_config_from_dict_unknown_key() -> None:
    with pytest.raises(ConfigError, match=r"router\.strategyy"):
        RouterExperimentConfig.from_dict({"strategyy": "random"})


def test_experiment_calibrated_from_measured_engine_rows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = pd.DataFrame({"status": ["ok", "ok", "ok", "error"], "llm.batch_size": [1, 4, 8, 16],
                         "latency_s_mean": [0.3, 0.45, 0.65, float("nan")], "latency_s_cv": [0.0, 0.0, 0.0, None]})
    path = tmp_path / "llm_summary.parquet"
    rows.to_parquet(path)
    cfg = RouterExperimentConfig(replicas=2, n_requests=40, load=0.01, calibration=str(path))
    ledger = simulate(cfg).ledger
    assert ledger["latency_s"].min() == pytest.approx(0.3)  # fitted base latency, no noise (cv 0)
    with pytest.raises(ConfigError, match="file not found"):
        simulate(cfg.replace(calibration=str(tmp_path / "missing.parquet")))


GRAY = ({"replicas": [2, 5], "kind": "slowdown", "factor": 3, "window": [0.3, 0.7]},)


def test_breaker_ignores_slow_successes_without_a_slow_call_rule() -> None:
    row, _ = run_one(RouterExperimentConfig(strategy="least_connections", faults=GRAY, load=0.8, n_requests=4000))
    assert row["breaker_opens"] == 0 and row["errors_CircuitOpenError"] == 0


def test_ejection_cap_stops_the_slow_call_cascade() -> None:
    cfg = RouterExperimentConfig(strategy="least_connections", faults=GRAY, load=0.8, n_requests=4000,
                                 arrival="gamma", burstiness_cv=2**0.5, breaker_slow_call_s="4x",
                                 max_ejection_fraction=1.0)
    free, _ = run_one(cfg)
    capped, _ = run_one(cfg.replace(max_ejection_fraction=0.25))
    # The cascade: healthy replicas absorbing the displaced load queue up, look "slow" and open too.
    assert free["max_breakers_not_closed"] == 8 and free["errors_CircuitOpenError"] > 0
    assert capped["max_breakers_not_closed"] <= 2 and capped["ejections_capped"] > 0
    assert capped["errors_CircuitOpenError"] < free["errors_CircuitOpenError"]


def test_simulator_cancels_hedge_losers_like_live_mode() -> None:
    cfg = RouterExperimentConfig(strategy="round_robin", replicas=2, speeds=(1.0, 20.0), replica_slots=1,
                                 per_request_s=0.0, service_cv=0.0, load=0.05, n_requests=200,
                                 hedge_delay_s="2x", health_interval_s=0.0, retry_budget_ratio=1.0, seed=2)
    from blaze_lab.load.requests import workload_arrays
    from blaze_lab.router.simulate import Simulator, experiment_model, experiment_workload

    model = experiment_model(cfg)
    sim = Simulator(cfg.router_config(model.reference_s), cfg.replica_speeds(), 1, model, seed=2)
    ledger = sim.run(workload_arrays(experiment_workload(cfg, model)[0])).ledger
    # Every attempt sent to the 20x slow replica loses to its hedge and is cancelled there, freeing its slot.
    assert ledger["hedged"].sum() > 90 and sim.cancelled == ledger["hedged"].sum()
    assert all(rep.active == 0 and not rep.running for rep in sim.reps)
