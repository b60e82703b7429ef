"""Serving figures and the ``serving`` report section: latency–throughput curves per batching mode, TTFT/TPOT
percentiles, goodput vs offered rate, and the highest rate that still meets the SLO.

Pure ``DataFrame -> Figure | DataFrame`` over the serving summary (one row per config: ``serving.*`` columns,
``latency_s_p50`` …, ``tokens_per_s``, ``goodput_rps``, ``slo_attainment``) and raw frame (one row per request).
A **curve** is every config that differs only in ``serving.rate_rps``: its points are the rates of a sweep, so a
latency–throughput curve shows where a batching mode saturates. Each function raises ReportError when its columns
are absent; :func:`serving_sections` turns that into a note.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"serving.batching": ["none", "none", "dynamic", "dynamic"],
    ...                    "serving.rate_rps": [1.0, 4.0, 1.0, 4.0], "status": ["ok"] * 4,
    ...                    "tokens_per_s": [10.0, 12.0, 10.0, 38.0], "latency_s_p50": [0.5, 3.0, 0.6, 0.9],
    ...                    "slo_attainment": [1.0, 0.2, 1.0, 0.95]})
    >>> [t.name for t in latency_throughput(df).data]
    ['batching=none', 'batching=dynamic']
    >>> max_rate_under_slo_table(df)[["curve", "max_rate_rps"]].to_dict("records")
    [{'curve': 'batching=none', 'max_rate_rps': 1.0}, {'curve': 'batching=dynamic', 'max_rate_rps': 4.0}]
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from blaze_lab.errors import ReportError
from blaze_lab.report.axes import layout
from blaze_lab.report.cdf import cdf_figure
from blaze_lab.report.labels import (
    column_header,
    config_label,
    varying_columns,
)
from blaze_lab.report.rows import (
    config_columns,
    numeric,
    ok_rows,
    require,
)
from blaze_lab.report.saturation_figures import saturation_curves, saturation_table
from blaze_lab.report.sections import Item, figure_item, note
from blaze_lab.report.tables import (
    status_rows,
)

RATE = "serving.rate_rps"
MODE = "serving.batching"
CURVE = "curve"
MODE_COLORS = {"none": "#9D9D9D", "dynamic": "#4C78A8", "continuous": "#E45756"}
DEFAULT_TARGET = 0.9


def with_curves(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with a ``curve`` label: the varying serving fields except the rate (batching mode first)."""
    if summary.empty:
        return summary.assign(**{CURVE: pd.Series(dtype=str)})
    cols = [c for c in config_columns(summary) if c.startswith("serving.") and c != RATE]
    fields = varying_columns(summary, cols)
    if MODE in summary.columns and MODE not in fields:
        fields = [MODE, *fields]
    fields = sorted(fields, key=lambda c: c != MODE)
    return summary.assign(**{CURVE: [config_label(row, fields) for _, row in summary.iterrows()]})


def _mode_color(df: pd.DataFrame) -> str:
    mode = str(df[MODE].iloc[0]) if MODE in df.columns and len(df) else ""
    return MODE_COLORS.get(mode, "#72B7B2")


def latency_throughput(summary: pd.DataFrame, latency: str = "latency_s_p50",
                       throughput: str = "tokens_per_s") -> go.Figure:
    """One line per curve: achieved throughput (x) vs latency percentile (y), points ordered by offered rate."""
    df = with_curves(ok_rows(summary))
    require(df, [latency, throughput], "Latency vs throughput")
    fig = go.Figure()
    for curve, part in df.groupby(CURVE, sort=False):
        part = part.sort_values(RATE) if RATE in part.columns else part
        rates = numeric(part, RATE)
        fig.add_trace(
            go.Scatter(
                x=numeric(part, throughput).tolist(),
                y=numeric(part, latency).tolist(),
                mode="lines+markers",
                name=str(curve),
                line={"color": _mode_color(part)} if len(df[CURVE].unique()) <= 3 else None,
                text=[f"{r:g} req/s offered" for r in rates],
                hovertemplate="%{text}<br>%{x:.3g} tok/s<br>%{y:.3g} s<extra>" + str(curve) + "</extra>",
            )
        )
    return layout(fig, f"Latency ({latency.removeprefix('latency_s_')}) vs throughput per batching config",
                   xaxis_title=f"achieved {column_header(throughput)}", yaxis_title=column_header(latency))


def ttft_tpot_percentiles(summary: pd.DataFrame) -> go.Figure:
    """Grouped bars of TTFT and TPOT at p50 / p90 / p99 per config (labelled curve @ rate)."""
    df = with_curves(ok_rows(summary))
    require(df, ["ttft_s_p50", "tpot_s_p50"], "TTFT / TPOT percentiles")
    labels = [f"{c} @ {r:g}/s" if not math.isnan(r) else str(c)
              for c, r in zip(df[CURVE], numeric(df, RATE), strict=True)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("TTFT", "TPOT"))
    for col, metric in enumerate(("ttft_s", "tpot_s"), start=1):
        for pct, opacity in (("p50", 1.0), ("p90", 0.7), ("p99", 0.45)):
            fig.add_trace(
                go.Bar(x=labels, y=numeric(df, f"{metric}_{pct}").tolist(), name=pct, opacity=opacity,
                       marker_color="#4C78A8" if metric == "ttft_s" else "#F58518", legendgroup=pct,
                       showlegend=col == 1),
                row=1, col=col,
            )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="seconds", row=1, col=1)
    return layout(fig, "TTFT and TPOT percentiles per config")


def goodput_vs_rate(summary: pd.DataFrame) -> go.Figure:
    """Goodput (SLO-meeting requests/s) vs offered rate per curve, with the offered rate as the ideal line."""
    df = with_curves(ok_rows(summary))
    require(df, [RATE, "goodput_rps"], "Goodput vs rate")
    fig = go.Figure()
    rates = numeric(df, RATE)
    top = float(rates.max())
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="offered (ideal)",
                             line={"dash": "dot", "color": "#B0B0B0"}))
    for curve, part in df.groupby(CURVE, sort=False):
        part = part.sort_values(RATE)
        fig.add_trace(
            go.Scatter(x=numeric(part, RATE).tolist(), y=numeric(part, "goodput_rps").tolist(),
                       mode="lines+markers", name=str(curve),
                       customdata=numeric(part, "slo_attainment").tolist(),
                       hovertemplate="%{x:g} req/s offered<br>goodput %{y:.3g}/s<br>"
                                     "SLO attainment %{customdata:.0%}<extra></extra>")
        )
    return layout(fig, "Goodput under the SLO vs offered rate", xaxis_title="offered rate (req/s)",
                   yaxis_title="goodput (req/s meeting every SLO)")


def max_rate_under_slo_table(summary: pd.DataFrame, target: float = DEFAULT_TARGET) -> pd.DataFrame:
    """Per curve: the highest swept rate whose SLO attainment >= ``target`` (and the bisection result when the
    summary carries a ``max_rate_rps`` column from :func:`blaze_lab.serving.bench.max_rate_under_slo`)."""
    df = with_curves(ok_rows(summary))
    require(df, [RATE, "slo_attainment"], "Max rate under SLO")
    rows = []
    for curve, part in df.groupby(CURVE, sort=False):
        rates = numeric(part, RATE)
        good = rates[numeric(part, "slo_attainment") >= target]
        row = {
            CURVE: str(curve),
            "max_rate_rps": float(good.max()) if len(good) else math.nan,
            "rates_swept": ", ".join(f"{r:g}" for r in sorted(rates.dropna().unique())),
            "target_attainment": target,
        }
        if "max_rate_rps" in part.columns:
            row["bisected_max_rate_rps"] = float(np.nanmax(numeric(part, "max_rate_rps"))) \
                if numeric(part, "max_rate_rps").notna().any() else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def serving_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The key numbers per config."""
    df = with_curves(ok_rows(summary))
    require(df, ["latency_s_p50"], "Serving summary")
    cols = [CURVE, RATE, "n", "completed", "rejected", "ttft_s_p50", "ttft_s_p99", "tpot_s_p50", "latency_s_p50",
            "latency_s_p99", "queue_wait_s_mean", "tokens_per_s", "goodput_rps", "slo_attainment",
            "batch_size_mean", "padding_waste_mean", "cache_hit_rate", "valid"]
    return df.reindex(columns=[c for c in cols if c in df.columns]).reset_index(drop=True)


def ttft_cdf(summary: pd.DataFrame, raw: pd.DataFrame) -> go.Figure:
    """Per-request TTFT distribution per config (raw rows of completed requests)."""
    df = with_curves(ok_rows(summary))
    if "run_id" not in df.columns:
        raise ReportError("TTFT distribution: summary has no run_id column")
    labels = pd.Series([f"{c} @ {r:g}/s" for c, r in zip(df[CURVE], numeric(df, RATE), strict=True)],
                       index=df["run_id"].astype(str))
    done = raw[raw["outcome"] == "ok"] if "outcome" in raw.columns else raw
    return cdf_figure(done, "ttft_s", labels, title="TTFT per request")


def serving_sections(summary: pd.DataFrame, raw: pd.DataFrame) -> list[tuple[str, Item]]:
    """The ``serving`` report section: every figure the frames support, a note for each they don't."""
    items: list[tuple[str, Item]] = []
    if "random_weights" in summary.columns and summary["random_weights"].fillna(False).astype(bool).any():
        items.append(("Random weights", note("Some configs ran random-weight models: latency and throughput are "
                                             "real for the architecture; generated text is not meaningful.")))
    if "knee_rps" in summary.columns:
        items += [figure_item("Saturation: latency vs throughput", saturation_curves, summary, raw),
                  figure_item("Saturation: knee and max rate meeting the SLO", saturation_table, summary)]
    items += [
        figure_item("Latency vs throughput (p50)", latency_throughput, summary),
        figure_item("Latency vs throughput (p99)", latency_throughput, summary, "latency_s_p99"),
        figure_item("TTFT / TPOT percentiles", ttft_tpot_percentiles, summary),
        figure_item("Goodput vs offered rate", goodput_vs_rate, summary),
        figure_item("Highest rate meeting the SLO", max_rate_under_slo_table, summary),
        figure_item("Serving summary", serving_table, summary),
        figure_item("TTFT distribution", ttft_cdf, summary, raw),
    ]
    failed = status_rows(summary)
    if len(failed):
        items.append(("Runs that did not complete", failed))
    return items


__all__ = [
    "goodput_vs_rate",
    "latency_throughput",
    "max_rate_under_slo_table",
    "serving_sections",
    "serving_table",
    "ttft_cdf",
    "ttft_tpot_percentiles",
    "with_curves",
]
