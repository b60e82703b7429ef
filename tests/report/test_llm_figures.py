"""LLM figures and the llm section: each figure builds from a small frame and copes with missing columns."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import pytest

from blaze_lab.errors import ReportError
from blaze_lab.report.llm_figures import (
    best_config_table,
    best_configs,
    latency_bars,
    latency_cdf,
    llm_sections,
    memory_column,
    memory_latency_scatter,
    quality_vs_speed,
    throughput_bars,
    ttft_tpot_bars,
)


def test_throughput_bars_error_bars_from_ci(summary: pd.DataFrame) -> None:
    bar = throughput_bars(summary).data[0]
    assert list(bar.x) == [90.0, 170.0, 150.0] and bar.orientation == "h"
    assert bar.error_x.array == pytest.approx([9.0, 17.0, 15.0])
    assert "Throughput" in throughput_bars(summary).layout.title.text


def test_latency_bars_prefer_p50_then_mean(summary: pd.DataFrame) -> None:
    assert "p50" in latency_bars(summary).layout.title.text
    no_p50 = summary.drop(columns=["latency_s_p50"])
    assert "mean" in latency_bars(no_p50).layout.title.text


def test_ttft_tpot_bars_in_ms_with_ci(summary: pd.DataFrame) -> None:
    fig = ttft_tpot_bars(summary)
    assert [t.name for t in fig.data] == ["TTFT", "TPOT"]  # no itl_s in the frame: no ITL panel
    assert list(fig.data[0].x) == pytest.approx([2.8 * 0.05 * 1000, 1.5 * 0.05 * 1000, 1.7 * 0.05 * 1000])
    assert fig.data[0].error_x.visible is True


def test_memory_column_prefers_allocated_then_rss(summary: pd.DataFrame) -> None:
    assert memory_column(summary) == "peak_rss_bytes"  # peak_allocated_bytes all NaN on CPU
    gpu = summary.assign(peak_allocated_bytes=[1e9, 2e9, 3e9, math.nan])
    assert memory_column(gpu) == "peak_allocated_bytes"
    with pytest.raises(ReportError, match="peak_rss_bytes"):
        memory_column(summary.drop(columns=["peak_rss_bytes"]))


def test_memory_latency_scatter_has_pareto_trace(summary: pd.DataFrame) -> None:
    fig = memory_latency_scatter(summary)
    names = [t.name for t in fig.data]
    assert "Pareto frontier" in names
    front = next(t for t in fig.data if t.name == "Pareto-optimal")
    assert len(front.x) == 2
    assert max(front.y) < 1000  # MiB, not bytes


def test_quality_vs_speed_two_panels_and_one(summary: pd.DataFrame) -> None:
    fig = quality_vs_speed(summary)
    assert [a.text for a in fig.layout.annotations][:2] == ["perplexity", "KL divergence vs reference (nats)"]
    assert any(t.name == "Pareto frontier" for t in fig.data)
    only_ppl = quality_vs_speed(summary.drop(columns=["kl_div_mean"]))
    assert [a.text for a in only_ppl.layout.annotations] == ["perplexity"]
    with pytest.raises(ReportError, match="perplexity"):
        quality_vs_speed(summary.drop(columns=["kl_div_mean", "perplexity"]))


def test_latency_cdf_from_raw_labels_from_summary(summary: pd.DataFrame, raw: pd.DataFrame) -> None:
    fig = latency_cdf(summary, raw)
    assert [t.name for t in fig.data] == [
        "fp32 · quant=none (n=5)",
        "bf16 · quant=none (n=5)",
        "bf16 · quant=bnb-nf4 (n=5)",
    ]
    tpot = latency_cdf(summary, raw, "tpot_s")
    assert max(tpot.data[0].x) < 100  # ms


def test_best_configs_per_objective(summary: pd.DataFrame) -> None:
    best = best_configs(summary, kl_threshold=0.01).set_index("objective")
    assert best.loc["max throughput", "config"] == "bf16 · quant=none"
    assert best.loc["min latency p50", "config"] == "bf16 · quant=none"
    assert best.loc["min peak RSS", "config"] == "bf16 · quant=bnb-nf4"
    assert best.loc["min peak RSS", "value"] == pytest.approx(500e6 / 2**20)
    assert bool(best.loc["min peak RSS", "valid"]) is False  # nf4 run is flagged invalid in the fixture
    assert best.loc["min perplexity", "config"] == "fp32 · quant=none"
    assert best.loc["max throughput with KL ≤ 0.01", "config"] == "bf16 · quant=none"
    none_pass = best_configs(summary, kl_threshold=-1.0).set_index("objective")
    assert none_pass.loc["max throughput with KL ≤ -1", "config"] == ""
    assert "threshold" in none_pass.loc["max throughput with KL ≤ -1", "note"]


def test_best_configs_missing_columns_gives_notes(summary: pd.DataFrame) -> None:
    slim = summary.drop(columns=["perplexity", "kl_div_mean", "peak_rss_bytes"])
    best = best_configs(slim).set_index("objective")
    assert len(best) == 5
    assert best.loc["min perplexity", "note"] == "perplexity not measured"
    assert best.loc["max throughput", "config"] == "bf16 · quant=none"
    assert isinstance(best_config_table(slim), go.Figure)


def test_llm_sections_all_figures_on_full_frames(summary: pd.DataFrame, raw: pd.DataFrame) -> None:
    items = llm_sections(summary, raw)
    titles = [t for t, _ in items]
    assert titles == [
        "Best config per objective",
        "Throughput",
        "Latency",
        "TTFT / TPOT",
        "Memory vs latency (Pareto)",
        "Quality vs speed",
        "Latency distribution",
        "TTFT distribution",
        "TPOT distribution",
    ]
    assert all(isinstance(i, go.Figure | pd.DataFrame) for _, i in items)


def test_llm_sections_missing_columns_become_notes(summary: pd.DataFrame) -> None:
    slim = summary[["run_id", "engine", "status", "error", "llm.dtype", "tokens_per_s_mean"]]
    items = dict(llm_sections(slim, pd.DataFrame()))
    assert isinstance(items["Throughput"], go.Figure)
    for title in ("Latency", "TTFT / TPOT", "Memory vs latency (Pareto)", "Quality vs speed", "Latency distribution"):
        assert isinstance(items[title], str) and "Skipped" in items[title], title


def test_llm_sections_all_rows_failed(summary: pd.DataFrame) -> None:
    failed = summary.assign(status="error", tokens_per_s_mean=math.nan)
    items = dict(llm_sections(failed, pd.DataFrame(columns=["run_id", "latency_s"])))
    assert "Skipped" in items["Throughput"]
    assert (items["Best config per objective"]["config"] == "").all()


def test_random_weights_are_labelled(summary: pd.DataFrame, raw: pd.DataFrame) -> None:
    assert "Random weights" not in dict(llm_sections(summary.assign(random_weights=False), raw))
    items = dict(llm_sections(summary.assign(random_weights=[False, True, False, None]), raw))
    assert "numeric drift" in items["Random weights"]
