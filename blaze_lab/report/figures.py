"""Figure building blocks shared by every engine kind: Pareto fronts, CI bars, scatter with a front, CDFs.

Everything here is a pure function ``DataFrame -> Figure``: no I/O, no global state. A figure that cannot be drawn
from the frame it is given (a needed column is missing, no row has a value) raises
:class:`~blaze_lab.errors.ReportError` with the reason; :func:`blaze_lab.report.sections.figure_item` turns that
into a note in the report instead of a crash.

A metric ``m`` has summary columns ``m_mean``, ``m_p50``, ``m_ci_low``/``m_ci_high`` (CI of the mean) and
``m_median_ci_low``/``m_median_ci_high`` (CI of the median). Rows whose ``status`` is not ``ok`` are left out of
metric figures; rows with ``valid == False`` are drawn hatched/open (see :mod:`blaze_lab.report.rows`).

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"llm.dtype": ["fp32", "bf16"], "llm.batch_size": [8, 8],
    ...                    "tokens_per_s_mean": [90.0, 170.0], "status": ["ok", "ok"]})
    >>> fig = ci_bars(df, "tokens_per_s", title="Throughput")
    >>> list(fig.data[0].y)
    [90.0, 170.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from blaze_lab.errors import ReportError
from blaze_lab.report.labels import config_label, labels_of
from blaze_lab.report.rows import has_values, invalid_mask, numeric, ok_rows, require

COLORS = {
    "bar": "#4C78A8",
    "invalid": "#B0B0B0",
    "front": "#E45756",
    "other": "#9DB4CE",
    "line": "#E45756",
}
INVALID_PATTERN = "/"  # hatch on bars whose measurement is flagged valid=False


# -- Pareto --------------------------------------------------------------------------------------------------------
def pareto_front(df: pd.DataFrame, x: str, y: str, minimize: tuple[bool, bool] = (True, True)) -> pd.Series:
    """Boolean Series (index of ``df``): rows not dominated by any other row on (x, y).

    A row is dominated when another row is at least as good on both axes and strictly better on one. Identical
    points do not dominate each other (both stay on the front). Rows with NaN in x or y are never on the front.

    >>> d = pd.DataFrame({"lat": [1.0, 2.0, 3.0, 2.0], "mem": [3.0, 1.0, 3.0, 2.0]})
    >>> pareto_front(d, "lat", "mem").tolist()
    [True, True, False, False]
    """
    for col in (x, y):
        if col not in df.columns:
            raise ReportError(f"pareto_front: column {col!r} missing")
    xs = numeric(df, x).to_numpy()
    ys = numeric(df, y).to_numpy()
    # Flip maximized axes so "smaller is better" holds for both.
    if not minimize[0]:
        xs = -xs
    if not minimize[1]:
        ys = -ys
    finite = ~(np.isnan(xs) | np.isnan(ys))
    result = np.zeros(len(df), dtype=bool)
    idx = np.flatnonzero(finite)
    if idx.size:
        px, py = xs[idx], ys[idx]
        # dominated[i] = any j: px[j] <= px[i] and py[j] <= py[i] and (px[j] < px[i] or py[j] < py[i])
        le = (px[None, :] <= px[:, None]) & (py[None, :] <= py[:, None])
        lt = (px[None, :] < px[:, None]) | (py[None, :] < py[:, None])
        dominated = (le & lt).any(axis=1)
        result[idx] = ~dominated
    return pd.Series(result, index=df.index, name="pareto")


# -- generic figures -----------------------------------------------------------------------------------------------
def layout(fig: go.Figure, title: str, **kwargs: Any) -> go.Figure:
    settings: dict[str, Any] = {
        "title": title,
        "template": "plotly_white",
        "margin": {"l": 60, "r": 20, "t": 70, "b": 80},
    }
    fig.update_layout(**{**settings, **kwargs})
    return fig


def _nan_to_none(values: Iterable[float]) -> list[float | None]:
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values]


def ci_columns(metric: str, stat: str) -> tuple[str, str, str]:
    """(value, ci_low, ci_high) column names for ``metric`` and ``stat`` ("mean" or "p50")."""
    if stat == "mean":
        return f"{metric}_mean", f"{metric}_ci_low", f"{metric}_ci_high"
    if stat == "p50":
        return f"{metric}_p50", f"{metric}_median_ci_low", f"{metric}_median_ci_high"
    raise ReportError(f"stat {stat!r}: allowed mean, p50 (the stats with a bootstrap CI)")


def error_arrays(df: pd.DataFrame, value: str, low: str, high: str, scale: float = 1.0) -> dict[str, Any]:
    """Plotly ``error_y``/``error_x`` dict with asymmetric arrays from CI columns (none when CI columns absent)."""
    if low not in df.columns or high not in df.columns:
        return {"visible": False}
    v = numeric(df, value)
    plus = ((numeric(df, high) - v) * scale).clip(lower=0)
    minus = ((v - numeric(df, low)) * scale).clip(lower=0)
    return {
        "type": "data",
        "symmetric": False,
        "array": _nan_to_none(plus),
        "arrayminus": _nan_to_none(minus),
        "visible": True,
        "thickness": 1.5,
    }


def _hover(df: pd.DataFrame) -> list[str]:
    full = [config_label(r) for _, r in df.iterrows()]
    n = numeric(df, "n")
    reasons = df["validity_reason"].astype(str) if "validity_reason" in df.columns else pd.Series("", index=df.index)
    bad = invalid_mask(df)
    out = []
    for i, idx in enumerate(df.index):
        text = full[i]
        if not math.isnan(n[idx]):
            text += f"<br>n={int(n[idx])}"
        if bad[idx]:
            text += f"<br><b>invalid</b>: {reasons[idx]}"
        out.append(text)
    return out


def ci_bars(
    df: pd.DataFrame,
    metric: str,
    stat: str = "mean",
    *,
    title: str | None = None,
    axis_title: str | None = None,
    scale: float = 1.0,
) -> go.Figure:
    """One bar per config (``status == ok`` rows) of ``metric``'s ``stat`` with its 95% bootstrap CI as error bars.

    Bars of rows flagged ``valid == False`` are grey and hatched. ``scale`` multiplies values (e.g. 1000 for ms).
    """
    value, low, high = ci_columns(metric, stat)
    rows = ok_rows(df)
    require(rows, [value], title or metric)
    rows = rows[numeric(rows, value).notna()]
    labels = labels_of(rows)
    bad = invalid_mask(rows)
    fig = go.Figure(
        go.Bar(
            x=labels.tolist(),
            y=(numeric(rows, value) * scale).tolist(),
            name=f"{metric} {stat}",
            error_y=error_arrays(rows, value, low, high, scale),
            marker={
                "color": [COLORS["invalid"] if b else COLORS["bar"] for b in bad],
                "pattern": {"shape": [INVALID_PATTERN if b else "" for b in bad]},
            },
            hovertext=_hover(rows),
            hoverinfo="text+y",
        )
    )
    layout(fig, title or f"{metric} ({stat}, 95% CI)", yaxis_title=axis_title or f"{metric} {stat}", showlegend=False)
    if bad.any():
        fig.add_annotation(
            text="hatched = measurement flagged invalid (see table)",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0,
            y=1.06,
            xanchor="left",
            font={"size": 11},
        )
    return fig


def multi_ci_bars(
    df: pd.DataFrame,
    metrics: Sequence[tuple[str, str]],
    stat: str = "mean",
    *,
    title: str,
    scale: float = 1.0,
    unit: str = "",
) -> go.Figure:
    """Side-by-side subplots of :func:`ci_bars`, one per ``(metric, subplot title)`` that has values."""
    rows = ok_rows(df)
    present = [(m, t) for m, t in metrics if has_values(rows, ci_columns(m, stat)[0])]
    if not present:
        raise ReportError(f"{title}: no values in column(s) " + ", ".join(ci_columns(m, stat)[0] for m, _ in metrics))
    fig = make_subplots(rows=1, cols=len(present), subplot_titles=[t for _, t in present])
    for i, (metric, sub_title) in enumerate(present, start=1):
        bar = ci_bars(rows, metric, stat, scale=scale).data[0]
        bar.name = sub_title
        fig.add_trace(bar, row=1, col=i)
        fig.update_yaxes(title_text=f"{stat} {unit}".strip(), row=1, col=i)
    return layout(fig, title, showlegend=False)


def scatter_with_front(
    df: pd.DataFrame,
    x: str,
    y: str,
    *,
    minimize: tuple[bool, bool] = (True, True),
    title: str,
    x_title: str,
    y_title: str,
    x_scale: float = 1.0,
    y_scale: float = 1.0,
    x_err: tuple[str, str] | None = None,
) -> go.Figure:
    """Scatter of ok rows on (x, y), Pareto-optimal points highlighted and joined by a "Pareto frontier" line.

    ``x_err`` names (ci_low, ci_high) columns for horizontal error bars. Invalid rows use an open symbol.
    """
    rows = ok_rows(df)
    require(rows, [x, y], title)
    rows = rows[numeric(rows, x).notna() & numeric(rows, y).notna()]
    front = pareto_front(rows, x, y, minimize=minimize)
    labels = labels_of(rows)
    bad = invalid_mask(rows)
    hover = _hover(rows)
    fig = go.Figure()
    for on_front, name, color, size in (
        (False, "dominated", COLORS["other"], 9),
        (True, "Pareto-optimal", COLORS["front"], 13),
    ):
        sel = (front == on_front).to_numpy()
        if not sel.any():
            continue
        part = rows[sel]
        fig.add_trace(
            go.Scatter(
                x=(numeric(part, x) * x_scale).tolist(),
                y=(numeric(part, y) * y_scale).tolist(),
                # Only optimal points carry a text label (the rest in hover): 8+ labels overlap unreadably.
                mode="markers+text" if on_front else "markers",
                name=name,
                text=labels[sel].tolist() if on_front else None,
                textposition="top center",
                cliponaxis=False,
                hovertext=[h for h, s in zip(hover, sel, strict=True) if s],
                hoverinfo="text+x+y",
                marker={
                    "size": size,
                    "color": color,
                    "symbol": ["circle-open" if b else "circle" for b in bad[sel]],
                    "line": {"width": 2, "color": color},
                },
                error_x=error_arrays(part, x, x_err[0], x_err[1], x_scale) if x_err else {"visible": False},
            )
        )
    line = rows[front.to_numpy()].assign(_x=numeric(rows, x) * x_scale, _y=numeric(rows, y) * y_scale)
    line = line.sort_values(["_x", "_y"])
    fig.add_trace(
        go.Scatter(
            x=line["_x"].tolist(),
            y=line["_y"].tolist(),
            mode="lines",
            name="Pareto frontier",
            line={"color": COLORS["line"], "dash": "dash", "shape": "hv" if minimize == (True, True) else "linear"},
            hoverinfo="skip",
        )
    )
    return layout(fig, title, xaxis_title=x_title, yaxis_title=y_title)


def cdf_figure(
    raw: pd.DataFrame, column: str, labels: pd.Series, *, title: str, scale: float = 1.0, unit: str = "s"
) -> go.Figure:
    """Empirical CDF of ``raw[column]`` per config, one line each; ``labels`` maps ``run_id`` -> label.

    Only raw rows whose ``run_id`` is a key of ``labels`` are drawn (pass labels of ok rows only). List-valued
    cells (e.g. every inter-token gap of a request) are pooled.
    """
    if "run_id" not in raw.columns:
        raise ReportError(f"{title}: raw frame has no run_id column")
    require(raw.explode(column) if column in raw.columns and raw[column].dtype == object else raw, [column], title)
    fig = go.Figure()
    for run_id, label in labels.items():
        part = raw.loc[raw["run_id"] == run_id, column]
        if part.dtype == object:
            part = part.explode()
        values = np.sort(pd.to_numeric(part, errors="coerce").dropna().to_numpy(dtype=float)) * scale
        if values.size == 0:
            continue
        prob = np.arange(1, values.size + 1) / values.size
        fig.add_trace(
            go.Scatter(
                x=values.tolist(),
                y=prob.tolist(),
                mode="lines",
                name=str(label),
                line={"shape": "hv"},
                hovertemplate=f"{label}<br>%{{x:.4g}} {unit}<br>P≤x = %{{y:.2f}}<extra></extra>",
            )
        )
    if not fig.data:
        raise ReportError(f"{title}: no raw samples of {column} for the ok configs")
    xs = np.concatenate([np.asarray(t.x, dtype=float) for t in fig.data])
    positive = xs[xs > 0]
    spread = float(positive.max() / positive.min()) if positive.size else 1.0
    return layout(
        fig,
        title,
        xaxis_title=f"{column.removesuffix('_s')} ({unit})",
        yaxis_title="fraction ≤ x",
        yaxis_range=[0, 1.02],
        # A slow config can be 10x+ the fast ones; a log axis keeps the fast CDFs apart.
        xaxis_type="log" if spread > 20 else "linear",
    )


__all__ = [
    "COLORS",
    "cdf_figure",
    "ci_bars",
    "ci_columns",
    "error_arrays",
    "layout",
    "multi_ci_bars",
    "pareto_front",
    "scatter_with_front",
]
