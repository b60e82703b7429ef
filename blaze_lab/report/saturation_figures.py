"""Saturation-schedule figures shared by the serving and router sections: the latency–throughput curve across a
schedule's steps (knee, over-saturated steps, the max rate meeting the SLO with its interval), the summary table,
and for a router ``replicas`` sweep the max SLO-meeting rate and scaling efficiency vs replicas.

Inputs are a kind's summary (one row per config: ``knee_rps``, ``max_rate_slo_rps`` …) and raw rows carrying
the step columns (``step``, ``step_kind``, ``step_requests_per_s``, ``step_latency_s_p50``, ``oversaturated``,
``knee``; one or more rows per step). Each function raises ReportError when its columns are absent.

Example:
    >>> raw = pd.DataFrame({"run_id": ["a"] * 4, "step": [0, 1, 2, 3], "step_kind": ["synchronous", "throughput",
    ...                     "rate", "rate"], "step_offered_rps": [float("nan"), float("nan"), 1.5, 2.5],
    ...                     "step_requests_per_s": [1.0, 3.0, 1.5, 2.4], "step_latency_s_p50": [1.0, 4.0, 1.2, 2.9],
    ...                     "oversaturated": [False, False, False, True], "knee": [False, False, True, False]})
    >>> summary = pd.DataFrame({"run_id": ["a"], "serving.batching": ["dynamic"], "status": ["ok"],
    ...                         "max_rate_slo_rps": [1.8], "max_rate_slo_ci_low": [1.6],
    ...                         "max_rate_slo_ci_high": [2.0], "slo_target_attainment": [0.9]})
    >>> [t.name.removeprefix("batching=dynamic") for t in saturation_curves(summary, raw).data]
    ['', ': over-saturated (stopped)', ': knee', ': max rate meeting the SLO (95% CI)']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from blaze_lab.errors import ConfigError, ReportError
from blaze_lab.report.axes import color_of, layout
from blaze_lab.report.rows import has_values, numeric, ok_rows, require
from blaze_lab.report.sections import figure_item

MAX_BANDS = 3  # more runs than this: the SLO bands would cover each other; their numbers are in the table


def _labels(summary: pd.DataFrame) -> dict[str, str]:
    from blaze_lab.report.serving_figures import CURVE, with_curves  # local: serving_figures imports this module

    df = with_curves(ok_rows(summary))
    return dict(zip(df["run_id"].astype(str), df[CURVE].astype(str), strict=True)) if "run_id" in df.columns else {}


def saturation_curves(summary: pd.DataFrame, raw: pd.DataFrame, throughput: str = "step_requests_per_s",
                      latency: str = "step_latency_s_p50", labels: Mapping[str, str] | None = None,
                      log_x: bool = False) -> go.Figure:
    """Per config, achieved throughput (x) vs median latency (y) of every step in schedule order (one at a time,
    the rates, all at once); over-saturated steps (stopped early, no steady state) as red crosses off the curve,
    the knee as a star and, with at most three configs, the max rate meeting the SLO as a dashed line in its
    shaded 95% interval (an arrival rate: below saturation what arrives is what completes; the interval brackets
    it between measured steps). ``labels``: run_id → legend name (default: the varying serving fields)."""
    missing = [c for c in ("run_id", "step_kind", "oversaturated", "knee") if c not in raw.columns]
    if missing:
        raise ReportError(f"Saturation: raw rows have no column(s) {', '.join(missing)}")
    require(raw, ["step", throughput, latency], "Saturation")
    names = dict(labels) if labels is not None else _labels(summary)
    steps = raw.drop_duplicates(["run_id", "step"]).assign(run_id=lambda d: d["run_id"].astype(str))
    steps = steps[steps["run_id"].isin(names)]
    if steps.empty:
        raise ReportError("Saturation: no saturation-schedule steps in the raw rows")
    by_run = ok_rows(summary).assign(run_id=lambda d: d["run_id"].astype(str)).set_index("run_id")
    fig = go.Figure()
    runs = list(pd.unique(steps["run_id"]))
    for i, run_id in enumerate(runs):
        part = steps[steps["run_id"] == run_id]
        name, color = names[run_id], color_of(i)
        # stopped steps never reached a steady state: they are drawn as crosses, not as points of the curve
        calm = part[~part["oversaturated"].astype(bool)]
        rates = calm[calm["step_kind"] == "rate"].sort_values("step_offered_rps")
        line = pd.concat([part[part["step_kind"] == "synchronous"], rates, part[part["step_kind"] == "throughput"]])
        fig.add_trace(go.Scatter(x=numeric(line, throughput).tolist(), y=numeric(line, latency).tolist(),
                                 mode="lines+markers", name=name, line={"color": color}, text=_hover(line),
                                 hovertemplate="%{text}<br>%{x:.3g} req/s done<br>p50 %{y:.3g} s<extra></extra>"))
        if len(runs) <= MAX_BANDS:
            for kind, label in (("synchronous", "one at a time"), ("throughput", "all at once")):
                probe = part[part["step_kind"] == kind]
                if len(probe) and has_values(probe, throughput) and has_values(probe, latency):
                    fig.add_annotation(x=_x(float(numeric(probe, throughput).iloc[0]), log_x),
                                       y=float(numeric(probe, latency).iloc[0]), text=label, showarrow=True,
                                       arrowhead=0, ax=0, ay=-28, font={"size": 11})
        over = part[part["oversaturated"].astype(bool)]
        if len(over):
            fig.add_trace(go.Scatter(x=numeric(over, throughput).tolist(), y=numeric(over, latency).tolist(),
                                     mode="markers", name=f"{name}: over-saturated (stopped)", text=_hover(over),
                                     hovertemplate="%{text}<extra></extra>",
                                     marker={"symbol": "x", "size": 13, "color": "#E45756"}))
        at = part[part["knee"].astype(bool)]
        if len(at):
            fig.add_trace(go.Scatter(x=numeric(at, throughput).tolist(), y=numeric(at, latency).tolist(),
                                     mode="markers+text", name=f"{name}: knee", text=["knee"],
                                     textposition="top left",
                                     marker={"symbol": "star", "size": 16, "color": "#F58518"}))
        if len(runs) <= MAX_BANDS and run_id in by_run.index:
            _slo_band(fig, by_run.loc[run_id], name, color, steps[latency], float(numeric(steps, throughput).max()))
    fig = layout(fig, "Latency vs throughput across the saturation schedule", xaxis_title="achieved requests/s",
                 yaxis_title="median E2E latency (s)")
    if log_x:
        fig.update_xaxes(type="log")
    return fig


def _x(value: float, log_x: bool) -> float:
    return math.log10(value) if log_x and value > 0 else value  # plotly places annotations in log10 units


def _hover(rows: pd.DataFrame) -> list[str]:
    out = []
    for _, r in rows.iterrows():
        text = str(r["step_kind"])
        offered = float(r.get("step_offered_rps", math.nan))
        if offered == offered:
            text += f" @ {offered:.3g} req/s offered"
        sent, planned = r.get("step_requests_sent"), r.get("step_requests_planned")
        if sent is not None and planned is not None and sent == sent and planned == planned:
            text += f"<br>{int(sent)} of {int(planned)} requests sent"
        if bool(r.get("oversaturated", False)):
            text += f"<br>stopped: {str(r.get('oversaturation_reason', ''))[:90]}"
        out.append(text)
    return out


def _slo_band(fig: go.Figure, row: pd.Series, name: str, color: str, latencies: pd.Series,
              x_top: float) -> None:
    """The max rate meeting the SLO: a dashed vertical line inside its shaded interval (a legend entry too)."""
    rate = float(pd.to_numeric(row.get("max_rate_slo_rps"), errors="coerce"))
    target = float(pd.to_numeric(row.get("slo_target_attainment", math.nan), errors="coerce"))
    if not math.isfinite(rate):
        if math.isfinite(target):  # an SLO was set, and even the lowest rate step missed it
            fig.add_annotation(x=0.01, y=0.99, xref="paper", yref="paper", xanchor="left", yanchor="top",
                               showarrow=False, font={"size": 11, "color": color},
                               text=f"{name}: no rate step met the SLO for {target:.0%} of requests")
        return
    lo = float(pd.to_numeric(row.get("max_rate_slo_ci_low"), errors="coerce"))
    hi = float(pd.to_numeric(row.get("max_rate_slo_ci_high"), errors="coerce"))
    censored = bool(row.get("max_rate_slo_censored", False))
    y_top = float(pd.to_numeric(latencies, errors="coerce").max())
    x0 = lo if math.isfinite(lo) else rate
    x1 = hi if math.isfinite(hi) else max(x_top, rate)
    if x1 > x0:
        fig.add_vrect(x0=x0, x1=x1, fillcolor=color, opacity=0.12, line_width=0, layer="below")
    low_text = f"{lo:.3g}" if math.isfinite(lo) else "not confirmed"
    high_text = f"{hi:.3g}]" if math.isfinite(hi) else "∞)"
    label = (f"{'≥ ' if censored else ''}{rate:.3g} req/s [{low_text}, {high_text} meets the SLO"
             + (f" for {target:.0%} of requests" if math.isfinite(target) else ""))
    fig.add_trace(go.Scatter(x=[rate, rate], y=[0.0, y_top], mode="lines", line={"dash": "dash", "color": color},
                             name=f"{name}: max rate meeting the SLO (95% CI)",
                             hovertemplate=label + "<extra></extra>"))
    fig.add_annotation(x=0.01, y=0.99, xref="paper", yref="paper", xanchor="left", yanchor="top", text=label,
                       showarrow=False, font={"size": 11, "color": color})


def saturation_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per saturation config: synchronous and max-throughput rates, the knee, the max rate meeting the SLO and
    its interval (``max_rate_slo_censored``: the SLO held at every rate, so the rate is a lower bound; a NaN bound:
    not confirmed at the lowest rate at this n), and how many steps the detector stopped."""
    from blaze_lab.report.serving_figures import CURVE, with_curves

    df = with_curves(ok_rows(summary))
    require(df, ["knee_rps", "max_rate_slo_rps"], "Saturation summary")
    cols = [CURVE, "router.replicas", "router.seed", "sync_rps", "max_throughput_rps", "knee_rps",
            "knee_achieved_rps", "max_rate_slo_rps", "max_rate_slo_ci_low", "max_rate_slo_ci_high",
            "max_rate_slo_censored", "slo_target_attainment", "scaling_efficiency", "oversaturated_steps",
            "saturation_steps_run"]
    keep = [c for c in cols if c in df.columns and not (c == CURVE and df[c].astype(str).eq("").all())]
    return df.reindex(columns=keep).reset_index(drop=True)


def replica_scaling_table(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`blaze_lab.router.scaling.replica_scaling` as a report table (needs a ``replicas`` sweep)."""
    from blaze_lab.router.scaling import replica_scaling

    try:
        out = replica_scaling(summary)
    except ConfigError as exc:
        raise ReportError(f"Replica scaling: {exc}") from exc
    if out["replicas"].nunique() < 2:
        raise ReportError("Replica scaling: the sweep has one replica count")
    return out


def replica_scaling_figure(summary: pd.DataFrame) -> go.Figure:
    """Max rate meeting the SLO vs replicas (mean over seeds, t 95% CI; dotted: n × the one-replica rate) and
    scaling efficiency rate(n) / (n · rate(1)) with its paired 95% CI."""
    table = replica_scaling_table(summary)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Max rate meeting the SLO", "Scaling efficiency"))
    groups = [c for c in table.columns if c.startswith("router.")]
    parts = list(table.groupby(groups, sort=False)) if groups else [((), table)]
    for i, (key, part) in enumerate(parts):
        keys = key if isinstance(key, tuple) else (key,)
        name = ", ".join(f"{g.removeprefix('router.')}={k}" for g, k in zip(groups, keys, strict=True))
        name = name if groups else "mean over seeds"
        color = color_of(i)
        rate = part["max_rate_slo_rps_mean"]
        fig.add_trace(go.Scatter(x=part["replicas"], y=rate, mode="lines+markers", name=name, line={"color": color},
                                 error_y={"type": "data", "symmetric": False,
                                          "array": part["max_rate_slo_rps_mean_ci_high"] - rate,
                                          "arrayminus": rate - part["max_rate_slo_rps_mean_ci_low"]}),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=part["replicas"], y=part["linear_rps"], mode="lines", name=f"{name}: linear",
                                 line={"dash": "dot", "color": color}), row=1, col=1)
        eff = part["scaling_efficiency"]
        fig.add_trace(go.Scatter(x=part["replicas"], y=eff, mode="lines+markers", name=f"{name}: efficiency",
                                 line={"color": color}, showlegend=False,
                                 error_y={"type": "data", "symmetric": False,
                                          "array": (part["scaling_efficiency_ci_high"] - eff).fillna(0),
                                          "arrayminus": (eff - part["scaling_efficiency_ci_low"]).fillna(0)}),
                      row=1, col=2)
    fig.add_hline(y=1.0, line={"dash": "dot", "color": "#9D9D9D"}, row=1, col=2)
    counts = sorted(int(n) for n in table["replicas"].unique())
    fig.update_xaxes(type="log", title_text="replicas", tickvals=counts, ticktext=[str(n) for n in counts])
    fig.update_yaxes(type="log", dtick=1, title_text="req/s (mean over seeds, 95% CI)", row=1, col=1)
    fig.update_yaxes(title_text="rate(n) / (n · rate(1))", row=1, col=2)
    return layout(fig, "Max SLO-meeting rate vs replicas")


def router_saturation_items(summary: pd.DataFrame, raw: pd.DataFrame) -> list[tuple[str, Any]]:
    """The router section's saturation items (none when no run used the saturation schedule): the curves of the
    first seed per config (one line per replica count), the per-run table and the replica scaling."""
    if "knee_rps" not in summary.columns or not has_values(summary, "knee_rps"):
        return []
    rows = ok_rows(summary)
    first = rows[rows["router.seed"] == rows["router.seed"].min()] if "router.seed" in rows.columns else rows
    fields = [c for c in rows.columns if c.startswith("router.") and c != "router.seed"
              and rows[c].astype(str).nunique() > 1]
    labels = {str(r["run_id"]): ", ".join(f"{c.removeprefix('router.')}={r[c]}" for c in fields) or str(r["run_id"])
              for _, r in first.iterrows()}
    seed = f" (seed {int(first['router.seed'].iloc[0])})" if "router.seed" in first.columns and len(first) else ""
    return [
        figure_item(f"Saturation: latency vs throughput{seed}", saturation_curves, summary, raw, labels=labels,
                    log_x=True),
        figure_item("Max SLO-meeting rate vs replicas (mean over seeds, 95% CI)", replica_scaling_figure, summary),
        figure_item("Replica scaling", replica_scaling_table, summary),
        figure_item("Saturation: knee and max rate meeting the SLO per run", saturation_table, summary),
    ]


__all__ = ["replica_scaling_figure", "replica_scaling_table", "router_saturation_items", "saturation_curves",
           "saturation_table"]
