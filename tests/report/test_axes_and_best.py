"""Axis rules (trusted ranges, minimum spans, log ticks, no log bars) and CI-aware best-config tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from blaze_lab.report.axes import log_ticks, theme, value_range
from blaze_lab.report.best import Objective, best_table, over_seeds, router_best_table, t_interval, tied
from blaze_lab.report.figures import ci_bars, scatter_with_front
from blaze_lab.sweep.collect import collect

QUICKSTART = Path(__file__).resolve().parents[1] / "data" / "quickstart_sweep"


def _bars_frame() -> pd.DataFrame:
    # three valid 1-3 s configs and one invalid n=1 outlier at 92 s
    return pd.DataFrame(
        {
            "llm.dtype": ["fp32", "bf16", "fp16", "int8"],
            "status": ["ok"] * 4,
            "n": [10, 10, 10, 1],
            "valid": [True, True, True, False],
            "validity_reason": ["", "", "", "n=1 < 3 samples"],
            "latency_s_mean": [1.0, 2.0, 3.0, 92.0],
            "latency_s_ci_low": [0.9, 1.8, 2.7, 92.0],
            "latency_s_ci_high": [1.1, 2.2, 3.3, 92.0],
        }
    )


def test_invalid_outlier_does_not_set_the_axis_and_is_annotated() -> None:
    fig = ci_bars(_bars_frame(), "latency_s")
    low, high = fig.layout.xaxis.range
    assert low == 0 and 3.3 < high < 4.0  # set by the valid bars and their CIs, not by the 92 s one
    notes = [a.text for a in fig.layout.annotations]
    assert any("92 → off scale" in t and "invalid" in t and "n=1, no CI" in t for t in notes)
    bar = fig.data[0]
    assert bar.error_x.array[3] is None and bar.error_x.array[0] == pytest.approx(0.1)  # n=1: no error bar


def test_minimum_relative_span_keeps_noise_flat() -> None:
    assert value_range([0.9999997, 1.0], include_zero=False, upper_bound=1.0)[0] <= 0.98
    df = pd.DataFrame(
        {"d.attention": ["a", "b"], "status": ["ok", "ok"], "images_per_s_mean": [2.0, 2.1], "ssim": [0.9999997, 1.0]}
    )
    fig = scatter_with_front(df, "images_per_s_mean", "ssim", title="t", x_title="x", y_title="y", y_bounds=(0, 1))
    low, high = fig.layout.yaxis.range
    assert high == 1.0 and high - low >= 0.02
    assert {t.name for t in fig.data} >= {"attn=a", "attn=b", "Pareto-optimal", "Pareto frontier"}  # all named


def test_log_ticks_and_no_log_bars() -> None:
    assert log_ticks(0.8, 30) == ([1.0, 2.0, 5.0, 10.0, 20.0], ["1", "2", "5", "10", "20"])
    bars = go.Figure(go.Bar(x=["a", "b"], y=[1, 100]))
    bars.update_yaxes(type="log")
    assert theme(bars).layout.yaxis.type == "linear"
    lines = go.Figure(go.Scatter(x=[1, 100], y=[0, 1]))
    lines.update_xaxes(type="log")
    assert theme(lines).layout.xaxis.type == "log"


def test_tied_is_ci_overlap_or_unknown() -> None:
    assert tied((10.0, 9.0, 11.0), (10.5, 10.8, 12.0), True)
    assert not tied((10.0, 9.0, 11.0), (12.0, 11.5, 12.5), True)
    assert tied((10.0, 9.0, 11.0), (20.0, math.nan, math.nan), True)  # no CI: no difference at this precision
    assert not tied((10.0, math.nan, math.nan), (10.5, math.nan, math.nan), False)  # exact measurements


def test_best_table_lists_ties_and_never_argmaxes_through_noise() -> None:
    df = pd.DataFrame(
        {
            "llm.dtype": ["fp32", "bf16", "fp16", "int8"],
            "status": ["ok"] * 4,
            "n": [10, 10, 10, 1],
            "tokens_per_s_mean": [90.0, 170.0, 165.0, 300.0],
            "tokens_per_s_ci_low": [85.0, 160.0, 150.0, 300.0],
            "tokens_per_s_ci_high": [95.0, 180.0, 175.0, 300.0],
            "valid": [True, True, True, False],
        }
    )
    obj = Objective(
        "max throughput",
        "tokens_per_s_mean",
        True,
        "tokens/s",
        ci=("tokens_per_s_ci_low", "tokens_per_s_ci_high"),
        timed=True,
    )
    row = best_table(df, [obj]).iloc[0]
    assert row["config"] == "bf16" and row["tied with"] == "fp16"  # int8 is invalid: not a candidate
    assert "1 invalid run(s) not considered" in row["note"]
    assert row["95% CI"] == "[160, 180]"


def test_over_seeds_student_t_across_seeds() -> None:
    df = pd.DataFrame(
        {"router.strategy": ["a"] * 3 + ["b"] * 3, "router.seed": [0, 1, 2] * 2, "status": ["ok"] * 6,
         "goodput_rps": [1.0, 2.0, 3.0, 5.0, 5.0, 5.0]}
    )  # fmt: skip
    pooled = over_seeds(df, ["goodput_rps"]).set_index("config")
    assert pooled.loc["a", "seeds"] == 3
    assert pooled.loc["a", "goodput_rps_ci_high"] == pytest.approx(2.0 + 4.3027 * 1.0 / np.sqrt(3), rel=1e-4)
    assert t_interval([1.0])[1] != t_interval([1.0])[1]  # NaN: one seed has no CI


def test_router_best_table_on_real_quickstart() -> None:
    summary, _ = collect(QUICKSTART)
    table = router_best_table(summary[summary["engine"] == "router"]).set_index("objective")
    assert table.loc["max goodput", "config"] == "adaptive"
    # adaptive and power_of_two_choices overlap across seeds: listed as a tie, not ranked
    assert table.loc["max goodput", "tied with (no difference at this precision)"] == "power_of_two_choices"


def test_contended_rows_do_not_set_the_axis_and_say_why() -> None:
    df = _bars_frame().assign(
        valid=[True, True, True, False], contended=[False, False, False, True], n=[10, 10, 10, 10]
    )
    fig = ci_bars(df, "latency_s")
    assert fig.layout.xaxis.range[1] < 4.0
    assert any("contended (machine busy)" in a.text for a in fig.layout.annotations)
