"""Router saturation schedule (simulated) and the replica-scaling helper: tiny fleets, a few hundred requests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.load.requests import WorkloadConfig, workload_arrays
from blaze_lab.router.bench import benchmark_group
from blaze_lab.router.config import RouterExperimentConfig
from blaze_lab.router.saturation import run_saturation, schedule_steps
from blaze_lab.router.scaling import replica_scaling

TINY = {"replicas": 2, "n_requests": 100, "schedule": "saturation", "saturation_steps": 4,
        "saturation_step_s": "60x"}


def test_schedule_reaches_and_stops_over_saturation() -> None:
    cfg = RouterExperimentConfig.from_dict(TINY)
    steps = schedule_steps(cfg)
    assert steps["step_kind"].tolist() == ["synchronous", "throughput", "rate", "rate", "rate", "rate"]
    rates = steps[steps["step_kind"] == "rate"]
    r_max = float(steps.iloc[1]["requests_per_s"])
    assert rates["offered_rps"].iloc[-1] == pytest.approx(1.5 * r_max)  # past the max-throughput probe
    top = rates.iloc[-1]
    assert top["oversaturated"] and top["requests_sent"] < top["requests_planned"]
    assert "in flight grew" in top["oversaturation_reason"] and top["stopped_at_s"] > 0
    assert not rates.iloc[0]["oversaturated"] and rates.iloc[0]["requests_sent"] == rates.iloc[0]["requests_planned"]
    # the synchronous probe really ran one at a time: latency = a lone request's service time
    assert steps.iloc[0]["latency_s_p50"] == pytest.approx(0.05, rel=0.2)


def test_schedule_is_deterministic_for_a_seed() -> None:
    cfg = RouterExperimentConfig.from_dict(TINY)
    a, b = schedule_steps(cfg).drop(columns="_row"), schedule_steps(cfg).drop(columns="_row")
    pd.testing.assert_frame_equal(a, b)
    other = schedule_steps(cfg.replace(seed=1)).drop(columns="_row")
    assert not np.allclose(a["latency_s_mean"], other["latency_s_mean"])


def test_a_stopped_step_is_the_prefix_of_the_full_step() -> None:
    """Re-simulating with the first k arrivals is what stopping arrivals at k means: the workload's streams are
    drawn in order, so k requests are the first k of n."""
    full = workload_arrays(WorkloadConfig(n_requests=500, rate=40.0, seed=3))
    head = workload_arrays(WorkloadConfig(n_requests=120, rate=40.0, seed=3))
    for name, column in head.items():
        np.testing.assert_array_equal(column, full[name][:120])


def test_summary_and_raw_through_the_router_kind() -> None:
    summary, raw = benchmark_group([{"run_id": "s", "config": {**TINY, "scaling_baseline": True}}])
    row = summary.iloc[0]
    assert row["status"] == "ok", row.get("error")
    for col in ("max_rate_slo_rps", "max_rate_slo_ci_low", "max_rate_slo_ci_high", "knee_rps", "sync_rps",
                "max_throughput_rps", "baseline_max_rate_slo_rps", "scaling_efficiency", "knee_scaling_efficiency"):
        assert col in summary.columns, col
    assert row["oversaturated_steps"] >= 1 and row["sync_rps"] < row["knee_rps"] <= 1.5 * row["max_throughput_rps"]
    assert row["max_rate_slo_ci_low"] <= row["max_rate_slo_rps"] <= row["max_rate_slo_ci_high"]
    assert 0.5 < row["scaling_efficiency"] < 1.5  # two identical replicas: about twice one
    assert set(raw["row_kind"]) == {"saturation_step"} and raw["knee"].sum() == 1
    assert {"step_offered_rps", "step_requests_per_s", "step_latency_s_p50", "oversaturated"} <= set(raw.columns)


def test_one_replica_baseline_is_itself() -> None:
    summary, _ = run_saturation(RouterExperimentConfig.from_dict({**TINY, "replicas": 1, "scaling_baseline": True}))
    assert summary["scaling_efficiency"] == pytest.approx(1.0)


@pytest.mark.parametrize(("changes", "field"), [
    ({"mode": "live"}, "schedule"),
    ({"schedule": "ramp"}, "schedule"),
    ({"saturation_steps": -1}, "saturation_steps"),
    ({"saturation_overshoot": 0}, "saturation_overshoot"),
    ({"slo_target": 1.5}, "slo_target"),
    ({"saturation_step_s": "fast"}, "saturation_step_s"),
    ({"scaling_baseline": True, "schedule": "fixed"}, "scaling_baseline"),
    ({"scaling_baseline": True, "fault": "crash"}, "scaling_baseline"),
])
def test_bad_schedule_fields_are_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=f"router\\.{field}"):
        RouterExperimentConfig.from_dict({**TINY, **changes})


def _rows(rates: dict[int, list[float]], baseline: bool = False) -> pd.DataFrame:
    rows = []
    for n, values in rates.items():
        for seed, v in enumerate(values):
            row = {"router.replicas": n, "router.seed": seed, "router.strategy": "round_robin", "status": "ok",
                   "max_rate_slo_rps": v, "knee_rps": 0.8 * v, "max_rate_slo_censored": False}
            if baseline:
                row.update(baseline_max_rate_slo_rps=rates[1][seed], baseline_knee_rps=0.8 * rates[1][seed])
            rows.append(row)
    return pd.DataFrame(rows)


def test_replica_scaling_pairs_by_seed() -> None:
    one = [10.0, 12.0, 8.0, 11.0]
    rates = {1: one, 4: [4 * v * 0.9 for v in one], 16: [16 * v * 0.5 for v in one]}
    out = replica_scaling(_rows(rates)).set_index("replicas")
    assert out.loc[4, "scaling_efficiency"] == pytest.approx(0.9)
    # every seed scaled by exactly 0.9: the paired interval has no width to show
    assert out.loc[4, "scaling_efficiency_ci_low"] == pytest.approx(0.9)
    assert out.loc[16, "scaling_efficiency"] == pytest.approx(0.5)
    assert out.loc[16, "max_rate_slo_rps_mean_ci_low"] < out.loc[16, "max_rate_slo_rps_mean"]
    assert out.loc[16, "linear_rps"] == pytest.approx(16 * np.mean(one))
    with_base = replica_scaling(_rows(rates, baseline=True)).set_index("replicas")
    assert with_base.loc[16, "scaling_efficiency"] == pytest.approx(0.5)


def test_replica_scaling_interval_covers_noisy_efficiency() -> None:
    rng = np.random.default_rng(0)
    one = list(rng.normal(10.0, 1.0, 5))
    rates = {1: one, 8: [8 * v * rng.normal(0.8, 0.03) for v in one]}
    out = replica_scaling(_rows(rates)).set_index("replicas")
    assert out.loc[8, "scaling_efficiency_ci_low"] < 0.8 < out.loc[8, "scaling_efficiency_ci_high"]
    assert out.loc[1, "seeds"] == 5 and math.isclose(out.loc[1, "scaling_efficiency"], 1.0)


def test_replica_scaling_needs_saturation_columns() -> None:
    with pytest.raises(ConfigError, match="replica_scaling"):
        replica_scaling(pd.DataFrame({"router.replicas": [1], "router.seed": [0]}))
