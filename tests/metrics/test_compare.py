import math

import numpy as np
import pandas as pd
import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.metrics.compare import (
    NO_DIFFERENCE,
    best_configs,
    compare,
    ratio_of_means_ci,
    replication_ci,
    replication_columns,
    speed_direction,
)
from blaze_lab.metrics.recorder import summarize_frame


def raw_frame(
    rng: np.random.Generator, factors: dict[str, float], rounds: int, cv: float = 0.05, replications: int = 1
) -> pd.DataFrame:
    """Interleaved calls: every round runs each config once; a shared per-round factor hits all of them."""
    rows = []
    for rep in range(replications):
        rep_factor = rng.lognormal(0, 0.03)
        for r in range(rounds):
            shared = rng.lognormal(0, 0.05) * rep_factor
            for run, f in factors.items():
                t = f * shared * rng.lognormal(0, cv)
                rows.append(
                    {
                        "run_id": run,
                        "llm.dtype": run.split("-")[0],
                        "llm.batch_size": 1,
                        "status": "ok",
                        "replication": rep,
                        "round": r,
                        "latency_s": t,
                        "output_tokens_total": 64,
                        "tokens_per_s": 64 / t,
                    }
                )
    return pd.DataFrame(rows)


def test_paired_raw_matches_the_vectorized_core_and_finds_a_real_difference() -> None:
    raw = raw_frame(np.random.default_rng(0), {"fp32-a": 1.0, "fp16-b": 0.8}, rounds=10)
    out = compare(raw, "fp32-a", "latency_s").set_index("run_id")
    b = raw[raw.run_id == "fp16-b"].sort_values("round")["latency_s"].to_numpy()
    a = raw[raw.run_id == "fp32-a"].sort_values("round")["latency_s"].to_numpy()
    r, lo, hi = ratio_of_means_ci(b, a, paired=True)
    row = out.loc["fp16-b"]
    assert row["method"] == "paired" and row["n_pairs"] == 10 and row["df"] == 9
    assert row["ratio"] == pytest.approx(float(r)) and row["ratio_ci_low"] == pytest.approx(float(lo))
    assert row["ratio_ci_high"] == pytest.approx(float(hi))
    assert row["verdict"] == "faster" and row["direction"] == "lower" and bool(row["better"])
    assert out.loc["fp32-a", "verdict"] == "baseline"
    # Warm-up calls recorded in the raw frame are not measurements.
    cold = pd.DataFrame([{"run_id": "fp16-b", "round": -1, "warmup": True, "latency_s": 50.0, "status": "ok"}])
    with_warmup = pd.concat([raw.assign(warmup=False), cold], ignore_index=True)
    again = compare(with_warmup, "fp32-a", "latency_s").set_index("run_id")
    assert again.loc["fp16-b", "ratio"] == pytest.approx(row["ratio"])
    tps = compare(raw, "fp32-a", "tokens_per_s").set_index("run_id")
    assert tps.loc["fp16-b", "verdict"] == "faster" and tps.loc["fp16-b", "direction"] == "higher"


def test_ratio_estimator_comparison_and_dict_baseline() -> None:
    raw = raw_frame(np.random.default_rng(1), {"fp32-a": 1.0, "fp16-b": 1.25}, rounds=12)
    out = compare(
        raw, {"llm.dtype": "fp32", "llm.batch_size": 1}, "tokens_per_s", ratio=("output_tokens_total", "latency_s")
    ).set_index("run_id")
    sums = raw.groupby("run_id")[["output_tokens_total", "latency_s"]].sum()
    expected = (sums.loc["fp16-b"].iloc[0] / sums.loc["fp16-b"].iloc[1]) / (
        sums.loc["fp32-a"].iloc[0] / sums.loc["fp32-a"].iloc[1]
    )
    assert out.loc["fp16-b", "ratio"] == pytest.approx(expected)
    assert out.loc["fp16-b", "verdict"] == "slower" and out.loc["fp16-b", "baseline"] == "fp32-a"


def test_unpaired_raw_uses_welch_and_a_summary_frame_works_too() -> None:
    raw = raw_frame(np.random.default_rng(2), {"fp32-a": 1.0, "fp16-b": 1.0}, rounds=8).drop(columns=["round"])
    raw = raw.drop(columns=["replication"])
    out = compare(raw, "fp32-a", "latency_s").set_index("run_id")
    assert out.loc["fp16-b", "method"] == "welch" and out.loc["fp16-b", "verdict"] == NO_DIFFERENCE
    summary = summarize_frame(raw, metrics=["latency_s"])
    s = compare(summary, "fp32-a", "latency_s").set_index("run_id")
    assert s.loc["fp16-b", "method"] == "summary" and s.loc["fp16-b", "verdict"] == NO_DIFFERENCE
    # From a summary the SE comes from the t-CI, so it matches the raw Welch interval closely.
    assert s.loc["fp16-b", "ratio_ci_low"] == pytest.approx(out.loc["fp16-b", "ratio_ci_low"], rel=0.01)


def test_between_replication_ci_is_used_when_wider() -> None:
    rng = np.random.default_rng(3)
    raw = raw_frame(rng, {"fp32-a": 1.0, "fp16-b": 0.97}, rounds=30, cv=0.01, replications=3)
    # Each replication of b runs in a different process: shift it by ±4% so between-process spread dominates.
    shift = raw["replication"].map({0: 1.04, 1: 0.96, 2: 1.0})
    raw.loc[raw.run_id == "fp16-b", "latency_s"] *= shift[raw.run_id == "fp16-b"]
    out = compare(raw, "fp32-a", "latency_s").set_index("run_id")
    assert out.loc["fp16-b", "method"] == "replications" and out.loc["fp16-b", "verdict"] == NO_DIFFERENCE
    within = compare(raw[raw.replication == 0], "fp32-a", "latency_s").set_index("run_id")
    assert within.loc["fp16-b", "method"] == "paired"
    reps = replication_columns(raw, ["latency_s"], ratios={"tokens_per_s": ("output_tokens_total", "latency_s")})
    summary = summarize_frame(raw, metrics=["latency_s"]).merge(reps, on="run_id")
    assert set(summary["replications"]) == {3}
    s = compare(summary, "fp32-a", "latency_s").set_index("run_id")
    assert s.loc["fp16-b", "method"] == "replications" and s.loc["fp16-b", "verdict"] == NO_DIFFERENCE


def test_zero_or_missing_values_give_no_verdict_not_an_error() -> None:
    raw = pd.DataFrame({"run_id": ["a"] * 3 + ["b"] * 3, "round": [0, 1, 2] * 2, "queue_wait_s": [0.0] * 6})
    out = compare(raw, "a", "queue_wait_s").set_index("run_id")
    assert out.loc["b", "verdict"] == NO_DIFFERENCE and math.isnan(out.loc["b", "ratio_ci_low"])


def test_replication_ci_is_a_t_interval() -> None:
    r = replication_ci([1.0, 2.0, 3.0])
    assert r["rep_mean"] == 2.0 and r["rep_ci_low"] == pytest.approx(2.0 - 4.302653 / math.sqrt(3))
    assert math.isnan(replication_ci([1.0])["rep_ci_low"])


def test_baseline_errors_name_the_problem() -> None:
    raw = raw_frame(np.random.default_rng(4), {"fp32-a": 1.0, "fp32-b": 1.0}, rounds=3)
    with pytest.raises(ConfigError, match=r"baseline: invalid value 'nope'; matches no config; configs: fp32-a"):
        compare(raw, "nope", "latency_s")
    with pytest.raises(ConfigError, match=r"matches 2 configs \(fp32-a, fp32-b\)"):
        compare(raw, {"llm.dtype": "fp32"}, "latency_s")
    with pytest.raises(ConfigError, match="unknown column"):
        compare(raw, {"llm.nope": 1}, "latency_s")
    with pytest.raises(ConfigError, match="metric: invalid value 'nope_s'"):
        compare(raw, "fp32-a", "nope_s")


def test_non_speed_metrics_use_higher_lower_and_better_follows_the_caller() -> None:
    summary = pd.DataFrame(
        {
            "run_id": ["a", "b"],
            "n": [10, 10],
            "energy_j_mean": [10.0, 12.0],
            "energy_j_ci_low": [9.8, 11.8],
            "energy_j_ci_high": [10.2, 12.2],
        }
    )
    out = compare(summary, "a", "energy_j").set_index("run_id")
    assert out.loc["b", "verdict"] == "higher" and out.loc["b", "better"] is pd.NA
    out = compare(summary, "a", "energy_j", higher_is_better=False).set_index("run_id")
    assert not bool(out.loc["b", "better"])
    assert speed_direction("tokens_per_s") is True and speed_direction("ttft_s") is False
    assert speed_direction("perplexity") is None


def test_best_configs_reports_ties() -> None:
    raw = raw_frame(np.random.default_rng(5), {"x-a": 1.0, "x-b": 1.002, "x-c": 1.5}, rounds=10, cv=0.05)
    best = best_configs(raw, {"latency_s": "min", "tokens_per_s": "max"})
    lat = best[best.metric == "latency_s"]
    assert set(lat.run_id) == {"x-a", "x-b"} and "x-c" not in set(best.run_id)
    assert (lat.role == "best").sum() == 1 and (best.role == "best").sum() == 2
    with pytest.raises(ConfigError, match="allowed: max, min"):
        best_configs(raw, {"latency_s": "lowest"})
