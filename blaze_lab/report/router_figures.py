"""Router figures: pure ``DataFrame -> plotly Figure`` functions for the report's "router" section.

Runs that differ only in ``router.seed`` are replicates: figures aggregate them into a mean with a Student-t 95%
CI *across seeds* (a percentile bootstrap over 3 seeds would be just [min, max]), per strategy and per combination
of every other ``router.*`` field that varies (runs differing in a field are never pooled as if they were seeds).
The fields that do not vary are stated once, as the scenario.

Example:
    >>> from blaze_lab.router.bench import benchmark_group
    >>> runs = [{"run_id": f"{s}{k}", "config": {"strategy": s, "seed": k, "n_requests": 300, "replicas": 3}}
    ...         for s in ("random", "power_of_two_choices") for k in (0, 1)]
    >>> summary, raw = benchmark_group(runs)
    >>> [title for title, _ in router_sections(summary, raw)][:2]
    ['Latency p50 / p99 per strategy (mean over seeds, 95% CI)', 'Goodput per strategy (mean over seeds, 95% CI)']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from blaze_lab.errors import ReportError
from blaze_lab.metrics.distributions import t_ppf
from blaze_lab.report.sections import figure_item, note

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


# Not conditions of a run: the replicate index and the compared strategy; the rest of router.* are conditions.
_NOT_CONDITIONS = ("router.seed", "router.strategy")


def _conditions(rows: pd.DataFrame) -> list[str]:
    return [c for c in rows.columns if str(c).startswith("router.") and c not in _NOT_CONDITIONS]


def _varying(rows: pd.DataFrame) -> list[str]:
    return [c for c in _conditions(rows) if rows[c].astype(str).nunique(dropna=False) > 1]


def _scenario(rows: pd.DataFrame) -> pd.Series:
    """A label of every condition besides strategy and seed that varies, e.g. ``fault=crash, load=0.9``."""
    cols = _varying(rows)
    if not cols:
        return pd.Series("all", index=rows.index)
    label = pd.Series("", index=rows.index)
    for i, c in enumerate(cols):
        part = c.removeprefix("router.") + "=" + rows[c].astype(str)
        label = part if i == 0 else label + ", " + part
    return label


def scenario_text(summary: pd.DataFrame) -> str:
    """The conditions shared by every run (what the figures hold fixed), and which ones vary."""
    from blaze_lab.router.config import RouterExperimentConfig

    rows = _ok(summary)
    defaults = {k: str(v) for k, v in RouterExperimentConfig().flat().items()}
    always = ("router.mode", "router.replicas", "router.load", "router.arrival", "router.fault")
    fixed = [c for c in _conditions(rows) if c not in _varying(rows)
             and (c in always or str(rows[c].iloc[0]) != defaults.get(c))]
    shown = ", ".join(f"{c.removeprefix('router.')}={rows[c].iloc[0]}" for c in fixed) + " (other fields default)"
    varying = ", ".join(c.removeprefix("router.") for c in _varying(rows)) or "nothing"
    seeds = rows.groupby(["router.strategy", *_varying(rows)], dropna=False).size() if len(rows) else pd.Series()
    return (f"Scenario: {shown}. Varies besides strategy: {varying}. Seeds per bar: "
            f"{int(seeds.min()) if len(seeds) else 0}-{int(seeds.max()) if len(seeds) else 0}.")


def t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t (the project's :func:`~blaze_lab.metrics.distributions.t_ppf`).

    >>> [round(t_quantile(0.975, k), 4) for k in (1, 2, 4, 10, 30)]
    [12.7062, 4.3027, 2.7764, 2.2281, 2.0423]
    """
    return float(t_ppf(p, df))


def t_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t CI of the mean of independent replicates (NaN with fewer than 2).

    >>> [round(x, 4) for x in t_interval(np.array([1.0, 2.0, 3.0]))]
    [-0.4841, 4.4841]
    """
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * float(np.std(values, ddof=1)) / math.sqrt(n)
    mean = float(np.mean(values))
    return mean - half, mean + half


def across_seeds(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean of ``metric`` per (scenario, strategy) over seeds, with a Student-t 95% CI across seeds.

    The scenario label names every other varying ``router.*`` field, so only seeds are pooled.
    """
    rows = _ok(summary)
    _need(rows, metric)
    rows = rows.assign(scenario=_scenario(rows))
    out: list[dict[str, Any]] = []
    for (scenario, strategy), g in rows.groupby(["scenario", "router.strategy"], sort=True):
        values = g[metric].dropna().to_numpy(dtype=float)
        low, high = t_interval(values)
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


PREFIX_PANELS = (
    ("cache_hit_rate", "KV prefix-cache hit rate", False),
    ("load_imbalance", "load imbalance (max/mean)", False),
    ("ttft_s_p50", "TTFT p50 (s)", True),
    ("ttft_s_p99", "TTFT p99 (s)", True),
)


def prefix_cache_by_strategy(summary: pd.DataFrame) -> go.Figure:
    """Four panels for runs with replica KV prefix caches: hit rate, load imbalance, TTFT p50 and p99 per strategy
    and scenario (mean over seeds, 95% CI). ReportError when no run had a cache (hit rate 0 or missing)."""
    rows = _ok(summary)
    _need(rows, *(metric for metric, _, _ in PREFIX_PANELS))
    if not (rows["cache_hit_rate"].fillna(0.0) > 0).any():
        raise ReportError("no run reused any prompt tokens (no replica KV prefix cache)")
    fig = make_subplots(rows=len(PREFIX_PANELS), cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        subplot_titles=[title for _, title, _ in PREFIX_PANELS])
    for i, (metric, _, log) in enumerate(PREFIX_PANELS, start=1):
        for bar in _bars(across_seeds(rows, metric)):
            bar.showlegend = i == 1
            fig.add_trace(bar, row=i, col=1)
        if log:
            fig.update_yaxes(type="log", row=i, col=1)
    fig.update_layout(barmode="group", height=1000, legend_title="scenario",
                      title="Prefix-cache routing: hit rate, imbalance, TTFT (mean over seeds, 95% CI)")
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
    """The report's router section: latency, goodput, prefix-cache routing (when replicas had KV caches),
    per-replica load, breaker timeline, errors, scenario (led by the saturation figures when the runs used
    ``schedule: saturation``)."""
    from blaze_lab.report.saturation_figures import router_saturation_items

    prefix = []
    if "cache_hit_rate" in summary.columns and (summary["cache_hit_rate"].fillna(0.0) > 0).any():
        # Only sweeps whose replicas had KV prefix caches: elsewhere the panels would be all zeros.
        prefix = [figure_item("Prefix-cache routing: hit rate, imbalance, TTFT (mean over seeds, 95% CI)",
                              prefix_cache_by_strategy, summary)]
    return [
        *router_saturation_items(summary, raw),
        figure_item("Latency p50 / p99 per strategy (mean over seeds, 95% CI)", latency_by_strategy, summary),
        figure_item("Goodput per strategy (mean over seeds, 95% CI)", goodput_by_strategy, summary),
        *prefix,
        figure_item("Per-replica load", replica_load, summary, raw),
        figure_item("Breaker timeline", breaker_timeline, raw, None, summary),
        figure_item("Errors by cause", errors_by_cause, summary),
        figure_item("Scenario", _scenario_note, summary),
    ]


def _scenario_note(summary: pd.DataFrame) -> Any:
    return note(scenario_text(summary))


__all__ = [
    "across_seeds",
    "breaker_timeline",
    "errors_by_cause",
    "goodput_by_strategy",
    "latency_by_strategy",
    "prefix_cache_by_strategy",
    "replica_load",
    "router_sections",
    "scenario_text",
    "t_interval",
    "t_quantile",
]
