"""Serving figures on a synthetic serving sweep (no model): curves per batching mode, goodput, max-rate table,
the registered ``serving`` section."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import blaze_lab.report.saturation_figures as satf
import blaze_lab.report.serving_figures as sf
from blaze_lab.report.sections import report_sections


def _sweep() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, raw = [], []
    rng = np.random.default_rng(0)
    for mode, capacity in (("none", 3.0), ("dynamic", 10.0), ("continuous", 14.0)):
        for rate in (2.0, 8.0, 16.0):
            run_id = f"{mode}-{rate:g}"
            load = rate / capacity
            p50 = 0.2 * (1 + 4 * max(0.0, load - 0.8))
            rows.append({
                "run_id": run_id, "engine": "serving", "status": "ok", "error": "", "serving.batching": mode,
                "serving.rate_rps": rate, "serving.max_batch_size": 8, "n": 20, "completed": 20, "rejected": 0,
                "valid": True, "latency_s_p50": p50, "latency_s_p99": 2 * p50, "ttft_s_p50": p50 / 4,
                "ttft_s_p90": p50 / 3, "ttft_s_p99": p50 / 2, "tpot_s_p50": 0.01, "tpot_s_p90": 0.012,
                "tpot_s_p99": 0.015, "tokens_per_s": 16 * min(rate, capacity),
                "goodput_rps": min(rate, capacity) * (1.0 if load < 1 else 0.5),
                "slo_attainment": 1.0 if load < 1 else 0.5, "queue_wait_s_mean": 0.01,
            })
            raw += [{"run_id": run_id, "engine": "serving", "outcome": "ok", "ttft_s": float(t)}
                    for t in rng.exponential(p50 / 4, 20)]
    rows.append({"run_id": "broken", "engine": "serving", "status": "error", "error": "RuntimeError: boom",
                 "serving.batching": "continuous", "serving.rate_rps": 32.0, "n": 0, "valid": False})
    return pd.DataFrame(rows), pd.DataFrame(raw)


def test_latency_throughput_has_one_curve_per_batching_mode_ordered_by_rate() -> None:
    summary, _ = _sweep()
    fig = sf.latency_throughput(summary)
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["batching=none", "batching=dynamic", "batching=continuous"]
    dyn = fig.data[1]
    assert list(dyn.x) == [32.0, 128.0, 160.0] and len(dyn.y) == 3  # the error row is left out


def test_goodput_and_max_rate_table() -> None:
    summary, _ = _sweep()
    fig = sf.goodput_vs_rate(summary)
    assert fig.data[0].name == "offered (ideal)" and len(fig.data) == 4
    table = sf.max_rate_under_slo_table(summary)
    assert dict(zip(table["curve"], table["max_rate_rps"], strict=True)) == {
        "batching=none": 2.0, "batching=dynamic": 8.0, "batching=continuous": 8.0}
    with_bisection = summary.assign(max_rate_rps=np.where(summary["serving.batching"] == "continuous", 13.5, np.nan))
    assert sf.max_rate_under_slo_table(with_bisection)["bisected_max_rate_rps"].iloc[2] == 13.5


def test_serving_section_is_registered_and_notes_missing_columns() -> None:
    summary, raw = _sweep()
    items = report_sections(summary, raw)["serving"]
    titles = [t for t, _ in items]
    assert titles[:3] == ["Latency vs throughput (p50)", "Latency vs throughput (p99)", "TTFT / TPOT percentiles"]
    assert "Runs that did not complete" in titles
    assert all(isinstance(item, go.Figure | pd.DataFrame) for _, item in items)
    sparse = report_sections(summary.drop(columns=["goodput_rps"]), raw)["serving"]
    goodput = dict(sparse)["Goodput vs offered rate"]
    assert isinstance(goodput, str) and "goodput_rps" in goodput


def _saturation() -> tuple[pd.DataFrame, pd.DataFrame]:
    summary = pd.DataFrame([{"run_id": "sat", "engine": "serving", "status": "ok", "serving.batching": "dynamic",
                             "serving.schedule": "saturation", "latency_s_p50": 1.2, "knee_rps": 1.6,
                             "knee_tokens_per_s": 12.8, "sync_rps": 1.0, "max_throughput_rps": 3.0,
                             "max_rate_slo_rps": 1.8, "max_rate_slo_ci_low": 1.4, "max_rate_slo_ci_high": 2.2,
                             "slo_target_attainment": 0.9, "oversaturated_steps": 1, "saturation_steps_run": 5}])
    steps = [("synchronous", np.nan, 1.0, 1.0, False, False), ("throughput", np.nan, 3.0, 4.0, False, False),
             ("rate", 1.5, 1.5, 1.1, False, False), ("rate", 2.0, 1.6, 1.6, False, True),
             ("rate", 2.5, 1.7, 3.5, True, False)]
    raw = pd.DataFrame([{"run_id": "sat", "step": i, "step_kind": k, "step_offered_rps": r, "outcome": "ok",
                         "ttft_s": 0.3, "step_requests_per_s": x, "step_latency_s_p50": y, "oversaturated": o,
                         "knee": kn} for i, (k, r, x, y, o, kn) in enumerate(steps) for _ in range(3)])
    return summary, raw


def test_saturation_curve_orders_steps_and_marks_knee_and_oversaturation() -> None:
    summary, raw = _saturation()
    fig = satf.saturation_curves(summary, raw)
    line, over, knee, slo = fig.data
    assert list(line.x) == [1.0, 1.5, 1.6, 3.0]  # synchronous, calm rates by offered rate, max throughput
    assert list(over.x) == [1.7] and over.marker.symbol == "x"
    assert list(knee.x) == [1.6] and list(knee.y) == [1.6] and knee.marker.symbol == "star"
    assert list(slo.x) == [1.8, 1.8] and slo.line.dash == "dash"  # the max rate meeting the SLO ...
    band = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [(b.x0, b.x1) for b in band] == [(1.4, 2.2)]  # ... inside its interval
    assert any("1.8 req/s [1.4, 2.2]" in a.text for a in fig.layout.annotations)
    table = satf.saturation_table(summary)
    assert table.loc[0, "max_rate_slo_ci_low"] == 1.4 and table.loc[0, "knee_rps"] == 1.6


def test_saturation_items_only_for_saturation_sweeps() -> None:
    summary, raw = _saturation()
    titles = [t for t, _ in sf.serving_sections(summary, raw)]
    assert titles[:2] == ["Saturation: latency vs throughput", "Saturation: knee and max rate meeting the SLO"]
    plain, plain_raw = _sweep()
    assert not any(t.startswith("Saturation") for t, _ in sf.serving_sections(plain, plain_raw))
