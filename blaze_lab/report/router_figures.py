"""Router figures: pure ``DataFrame -> plotly Figure`` functions for the report's "router" section.

Runs that differ only in ``router.seed`` are replicates: figures aggregate them into a mean with a bootstrap 95%
CI *across seeds*, per strategy (and per fault scenario / load level when those vary).

Example:
    >>> from blaze_lab.router.bench import benchmark_group
    >>> runs = [{"run_id": f"{s}{k}", "config": {"strategy": s, "seed": k, "n_requests": 300, "replicas": 3}}
    ...         for s in ("random", "power_of_two_choices") for k in (0, 1)]
    >>> summary, raw = benchmark_group(runs)
    >>> [title for title, _ in router_sections(summary, raw)][:2]
    ['Latency p50 / p99 per strategy (mean over seeds, 95% CI)', 'Goodput per strategy (mean over seeds, 95% CI)']
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from blaze_lab.errors import ReportError
from blaze_lab.metrics.stats import bootstrap_ci
from blaze_lab.report.sections import figure_item

PALETTE = qualitative.Plotly
ERROR_COLUMNS = ("errors_EngineError", "errors_EngineUnavailable", "errors_CircuitOpenError", "errors_RequestTimeout",
                 "errors_Overloaded", "errors_other")


def _need(df: pd.DataFrame, *cols: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ReportError(f"router rows lack {', '.join(missing)}")


def _natural(name: object) -> tuple[int, str]:
    """r2 before r10."""
    return (len(str(name)), str(name))


def _ok(summary: pd.DataFrame) -> pd.DataFrame:
    _need(summary, "router.strategy")
    rows = summary[summary["status"] == "ok"] if "status" in summary.columns else summary
    if rows.empty:
        raise ReportError("no successful router runs")
    return rows


def _scenario(rows: pd.DataFrame) -> pd.Series:
    """A label of the conditions besides strategy that vary (fault, load), e.g. ``crash, load 0.9``."""
    parts = []
    for col, fmt in (("router.fault", "{}"), ("router.load", "load {}"), ("router.mode", "{}")):
        if col in rows.columns and rows[col].nunique() > 1:
            parts.append(rows[col].map(lambda v, f=fmt: f.format(v)))
    if not parts:
        return pd.Series("all", index=rows.index)
    label = parts[0].astype(str)
    for p in parts[1:]:
        label = label + ", " + p.astype(str)
    return label


def across_seeds(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean of ``metric`` per (scenario, strategy) over seeds, with a bootstrap 95% CI across seeds."""
    rows = _ok(summary)
    _need(rows, metric)
    rows = rows.assign(scenario=_scenario(rows))
    out: list[dict[str, Any]] = []
    for (scenario, strategy), g in rows.groupby(["scenario", "router.strategy"], sort=True):
        values = g[metric].dropna().to_numpy(dtype=float)
        low, high = bootstrap_ci(values, "mean", n_boot=1000, seed=0)
        out.append({"scenario": scenario, "strategy": strategy, "mean": values.mean() if len(values) else float("nan"),
                    "ci_low": low, "ci_high": high, "seeds": len(values)})
    return pd.DataFrame(out)


def _bars(agg: pd.DataFrame, name_suffix: str = "") -> list[go.Bar]:
    bars = []
    for i, (scenario, g) in enumerate(agg.groupby("scenario", sort=True)):
        bars.append(go.Bar(
            x=g["strategy"], y=g["mean"], name=f"{scenario}{name_suffix}", legendgroup=str(scenario),
            marker_color=PALETTE[i % len(PALETTE)],
            error_y={"type": "data", "symmetric": False, "array": g["ci_high"] - g["mean"],
                     "arrayminus": g["mean"] - g["ci_low"]},
            customdata=g["seeds"], hovertemplate="%{x}: %{y:.4g} (%{customdata} seeds)<extra></extra>",
        ))
    return bars


def latency_by_strategy(summary: pd.DataFrame) -> go.Figure:
    """Two panels (p50 above, p99 below, log scale): bars per strategy and scenario, mean over seeds, 95% CI."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("p50 latency (s)", "p99 latency (s)"))
    for row, metric in ((1, "latency_s_p50"), (2, "latency_s_p99")):
        for bar in _bars(across_seeds(summary, metric)):
            bar.showlegend = row == 1
            fig.add_trace(bar, row=row, col=1)
    fig.update_yaxes(type="log")
    fig.update_layout(barmode="group", title="Latency per strategy (mean over seeds, 95% CI)", height=650,
                      legend_title="scenario")
    return fig


def goodput_by_strategy(summary: pd.DataFrame) -> go.Figure:
    """Bars: goodput (requests/s meeting the latency SLO) per strategy, mean over seeds with 95% CI."""
    fig = go.Figure(_bars(across_seeds(summary, "goodput_rps")))
    fig.update_layout(barmode="group", title="Goodput per strategy (mean over seeds, 95% CI)",
                      yaxis_title="goodput (requests/s within SLO)", xaxis_title="strategy")
    return fig


def replica_load(summary: pd.DataFrame, raw: pd.DataFrame) -> go.Figure:
    """Share of successful requests served by each replica, per strategy (pooled over runs)."""
    _need(raw, "run_id", "replica", "outcome")
    rows = _ok(summary)
    req = raw[(raw.get("row_kind", "request") == "request") & (raw["outcome"] == "ok")]
    req = req.merge(rows[["run_id", "router.strategy"]], on="run_id")
    if req.empty:
        raise ReportError("no successful requests in the raw rows")
    counts = req.groupby(["router.strategy", "replica"]).size().rename("n").reset_index()
    counts["share"] = counts["n"] / counts.groupby("router.strategy")["n"].transform("sum")
    fig = go.Figure()
    for replica in sorted(counts["replica"].unique(), key=_natural):
        g = counts[counts["replica"] == replica]
        fig.add_trace(go.Bar(x=g["router.strategy"], y=g["share"], name=str(replica)))
    fig.update_layout(barmode="stack", title="Per-replica load (share of successful requests)",
                      yaxis_title="share", xaxis_title="strategy")
    return fig


def breaker_timeline(raw: pd.DataFrame, run_id: str | None = None, summary: pd.DataFrame | None = None) -> go.Figure:
    """Breaker, health and engine-lifecycle transitions over time for one run.

    Default run: the one with the most transitions. ``summary`` (optional) labels the run with its strategy,
    fault, load and seed.
    """
    _need(raw, "row_kind", "run_id")
    tr = raw[raw["row_kind"].isin(["transition", "lifecycle"])]
    if tr.empty:
        raise ReportError("no breaker or health transitions (no run had faults)")
    if run_id is None:
        run_id = str(tr["run_id"].value_counts().idxmax())
    tr = tr[tr["run_id"] == run_id]
    label = run_id
    if summary is not None and "run_id" in summary.columns:
        match = summary[summary["run_id"] == run_id]
        cols = [c for c in ("router.strategy", "router.fault", "router.load", "router.mode", "router.seed")
                if c in match.columns]
        if len(match) and cols:
            label = " | ".join(f"{c.removeprefix('router.')}={match.iloc[0][c]}" for c in cols)
    replicas = sorted(tr["replica"].dropna().unique(), key=_natural)
    fig = go.Figure()
    for state, g in tr.groupby("to_state", sort=True):
        fig.add_trace(go.Scatter(x=g["time_s"], y=g["replica"], mode="markers", name=str(state),
                                 text=g["reason"], marker={"size": 10, "symbol": "diamond"},
                                 hovertemplate="%{y} → " + str(state) + " at %{x:.3f}s: %{text}<extra></extra>"))
    fig.update_yaxes(categoryorder="array", categoryarray=replicas)
    fig.update_layout(title=f"Breaker / health / lifecycle timeline ({label})", xaxis_title="time (s)",
                      yaxis_title="replica")
    return fig


def errors_by_cause(summary: pd.DataFrame) -> go.Figure:
    """Stacked bars: failed requests by error type per strategy (summed over seeds, per scenario)."""
    rows = _ok(summary)
    cols = [c for c in ERROR_COLUMNS if c in rows.columns]
    if not cols:
        raise ReportError("router rows lack errors_* columns")
    rows = rows.assign(label=rows["router.strategy"] + " | " + _scenario(rows))
    sums = rows.groupby("label", sort=True)[cols].sum()
    fig = go.Figure()
    for col in cols:
        fig.add_trace(go.Bar(x=sums.index, y=sums[col], name=col.removeprefix("errors_")))
    fig.update_layout(barmode="stack", title="Errors by cause", yaxis_title="failed requests",
                      xaxis_title="strategy | scenario")
    return fig


def router_sections(summary: pd.DataFrame, raw: pd.DataFrame) -> list[tuple[str, Any]]:
    """The report's router section: latency, goodput, per-replica load, breaker timeline, errors."""
    return [
        figure_item("Latency p50 / p99 per strategy (mean over seeds, 95% CI)", latency_by_strategy, summary),
        figure_item("Goodput per strategy (mean over seeds, 95% CI)", goodput_by_strategy, summary),
        figure_item("Per-replica load", replica_load, summary, raw),
        figure_item("Breaker timeline", breaker_timeline, raw, None, summary),
        figure_item("Errors by cause", errors_by_cause, summary),
    ]


__all__ = [
    "across_seeds",
    "breaker_timeline",
    "errors_by_cause",
    "goodput_by_strategy",
    "latency_by_strategy",
    "replica_load",
    "router_sections",
]
