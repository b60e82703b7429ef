"""Router benchmark_group (notebook contract) and report figures."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.report.router_figures import across_seeds, router_sections, scenario_text, t_quantile
from blaze_lab.report.sections import section_function
from blaze_lab.router.bench import ERROR_CAUSES, benchmark_group


def test_benchmark_group_rows_and_status() -> None:
    runs = [
        {"run_id": "p2c", "config": {"n_requests": 800, "replicas": 3, "fault": "errors", "seed": 1}},
        {"run_id": "live", "config": {"mode": "live", "n_requests": 100, "replicas": 2, "time_scale": 0.02}},
    ]
    summary, raw = benchmark_group(runs, sweep="s", group="g")
    assert summary["run_id"].tolist() == ["p2c", "live"]
    assert summary["status"].tolist() == ["ok", "ok"]
    with pytest.raises(ConfigError, match=r"router\.strategy"):  # bad configs are refused before anything runs
        benchmark_group([*runs, {"run_id": "bad", "config": {"strategy": "fastest"}}])
    ok = summary.iloc[0]
    assert ok["engine"] == "router" and ok["sweep"] == "s" and ok["group"] == "g" and ok["router.fault"] == "errors"
    assert ok["n"] + sum(ok[f"errors_{c}"] for c in ERROR_CAUSES) + ok["errors_other"] == 800
    assert ok["latency_s_ci_low"] <= ok["latency_s_mean"] <= ok["latency_s_ci_high"]
    assert summary.iloc[1]["lost"] == 0
    requests = raw[raw["row_kind"] == "request"]
    assert len(requests) == 900 and set(requests["run_id"]) == {"p2c", "live"}
    assert (raw["row_kind"] == "transition").any()


def test_router_section_registered_and_figures() -> None:
    runs = [
        {"run_id": f"{s}-{k}", "config": {"strategy": s, "seed": k, "n_requests": 400, "replicas": 3, "fault": "crash"}}
        for s in ("random", "adaptive")
        for k in (0, 1, 2)
    ]
    summary, raw = benchmark_group(runs)
    agg = across_seeds(summary, "latency_s_p99")
    assert set(agg["strategy"]) == {"random", "adaptive"} and (agg["seeds"] == 3).all()
    assert (agg["ci_low"] <= agg["mean"]).all() and (agg["mean"] <= agg["ci_high"]).all()
    fn = section_function("router")
    assert fn is not None
    items = fn(summary, raw)
    assert len(items) == 6 and all(isinstance(item, go.Figure) for _, item in items[:5])
    assert "Scenario: mode=sim, replicas=3" in items[5][1] and "fault=crash" in items[5][1]
    notes = router_sections(summary.drop(columns=["router.strategy"]), raw)
    assert all(isinstance(item, str) and "Skipped" in item for _, item in notes[:2])


def test_any_exception_in_one_run_is_an_error_row_and_the_group_completes(monkeypatch: pytest.MonkeyPatch) -> None:
    from blaze_lab.router import bench

    real = bench.simulate

    def flaky(cfg: Any) -> Any:
        if cfg.seed == 2:
            raise ZeroDivisionError("a bug that is not a BlazeLabError")
        return real(cfg)

    monkeypatch.setattr(bench, "simulate", flaky)
    runs = [{"run_id": f"s{k}", "config": {"n_requests": 200, "replicas": 2, "seed": k}} for k in (3, 2, 1)]
    summary, raw = benchmark_group(runs)
    assert summary["run_id"].tolist() == ["s3", "s2", "s1"]
    assert summary["status"].tolist() == ["ok", "error", "ok"]
    assert summary.loc[1, "error_type"] == "ZeroDivisionError" and "not a BlazeLabError" in summary.loc[1, "error"]
    assert list(pd.unique(raw["run_id"])) == ["s3", "s1"]


def test_t_quantile_known_values_and_no_pooling_across_conditions() -> None:
    # Student-t 0.975 quantiles from published tables.
    for df, q in ((1, 12.7062), (2, 4.3027), (3, 3.1824), (4, 2.7764), (9, 2.2622), (29, 2.0452), (120, 1.9799)):
        assert abs(t_quantile(0.975, df) - q) < 1e-4
    assert abs(t_quantile(0.995, 5) - 4.0321) < 1e-4 and t_quantile(0.025, 4) == -t_quantile(0.975, 4)
    summary = pd.DataFrame({"status": "ok", "router.strategy": "random", "router.seed": [0, 1, 2, 0, 1, 2],
                            "router.load": [0.5] * 3 + [0.9] * 3, "latency_s_p99": [1.0, 2.0, 3.0, 10.0, 11.0, 12.0]})
    agg = across_seeds(summary, "latency_s_p99").set_index("scenario")
    assert list(agg.index) == ["load=0.5", "load=0.9"] and (agg["seeds"] == 3).all()
    low, high = agg.loc["load=0.5", ["ci_low", "ci_high"]]
    assert abs(low - (2 - 4.3027 / 3**0.5)) < 1e-3 and abs(high - (2 + 4.3027 / 3**0.5)) < 1e-3
    assert "Varies besides strategy: load" in scenario_text(summary)
