"""Figure building blocks shared by every engine kind: Pareto fronts, CI bars, scatter with a front, CDFs.

Everything here is a pure function ``DataFrame -> Figure``: no I/O, no global state. A figure that cannot be drawn
from the frame it is given (a needed column is missing, no row has a value) raises
:class:`~blaze_lab.errors.ReportError` with the reason; :func:`blaze_lab.report.sections.figure_item` turns that
into a note in the report instead of a crash.

A metric ``m`` has summary columns ``m_mean``, ``m_p50``, ``m_ci_low``/``m_ci_high`` (CI of the mean) and
``m_median_ci_low``/``m_median_ci_high`` (CI of the median). Rows whose ``status`` is not ``ok`` are left out of
metric figures; rows with ``valid == False`` are drawn hatched/open, do not set axis ranges, and are annotated where
they leave the range (see :mod:`blaze_lab.report.axes`). Bars are horizontal: a config label is one line of the
y axis, so long labels never overlap or get cut off.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"llm.dtype": ["fp32", "bf16"], "llm.batch_size": [8, 8],
    ...                    "tokens_per_s_mean": [90.0, 170.0], "status": ["ok", "ok"]})
    >>> fig = ci_bars(df, "tokens_per_s", title="Throughput")
    >>> list(fig.data[0].x), list(fig.data[0].y)
    ([90.0, 170.0], ['fp32', 'bf16'])
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
from blaze_lab.report.axes import color_of, few_samples, layout, symbol_of, trusted_mask, value_range
from blaze_lab.report.labels import config_label, labels_of
from blaze_lab.report.rows import contended_mask, has_values, invalid_mask, numeric, ok_rows, require

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
def _nan_to_none(values: Iterable[float]) -> list[float | None]:
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values]


def ci_columns(metric: str, stat: str) -> tuple[str, str, str]:
    """(value, ci_low, ci_high) column names for ``metric`` and ``stat`` ("mean" or "p50")."""
    if stat == "mean":
        return f"{metric}_mean", f"{metric}_ci_low", f"{metric}_ci_high"
    if stat == "p50":
        return f"{metric}_p50", f"{metric}_median_ci_low", f"{metric}_median_ci_high"
    raise ReportError(f"stat {stat!r}: allowed mean, p50 (the stats with a CI)")


def error_arrays(df: pd.DataFrame, value: str, low: str, high: str, scale: float = 1.0) -> dict[str, Any]:
    """Plotly ``error_y``/``error_x`` dict with asymmetric arrays from CI columns (none when CI columns absent).

    Rows measured from fewer than 2 samples get no error bar: their collapsed CI would look exact.
    """
    if low not in df.columns or high not in df.columns:
        return {"visible": False}
    v = numeric(df, value)
    single = few_samples(df)
    plus = ((numeric(df, high) - v) * scale).clip(lower=0).mask(single)
    minus = ((v - numeric(df, low)) * scale).clip(lower=0).mask(single)
    return {
        "type": "data",
        "symmetric": False,
        "array": _nan_to_none(plus),
        "arrayminus": _nan_to_none(minus),
        "visible": True,
        "thickness": 1.5,
        "color": "#333",
    }


def _hover(df: pd.DataFrame, metric: str | None = None) -> list[str]:
    full = [config_label(r) for _, r in df.iterrows()]
    # Combined replication rows say which interval the bar shows: within one run, or between the replications.
    source = f"{metric}_ci_source" if metric else ""
    sources = df[source] if source in df.columns else pd.Series(None, index=df.index, dtype=object)
    reps = numeric(df, "replications") if "replications" in df.columns else pd.Series(math.nan, index=df.index)
    n = numeric(df, "n")
    reasons = df["validity_reason"].astype(str) if "validity_reason" in df.columns else pd.Series("", index=df.index)
    bad = invalid_mask(df)
    out = []
    for i, idx in enumerate(df.index):
        text = full[i]
        if not math.isnan(n[idx]):
            text += f"<br>n={int(n[idx])}" + (" (no CI)" if n[idx] < 2 else "")
        if isinstance(sources[idx], str) and reps[idx] > 1:
            text += f"<br>95% CI {'between' if 'between' in sources[idx] else 'within'}"
            text += f" {int(reps[idx])} replications" if "between" in sources[idx] else " run (the wider one)"
        if bad[idx]:
            text += f"<br><b>invalid</b>: {reasons[idx]}"
        out.append(text)
    return out


def _flags(rows: pd.DataFrame, values: pd.Series, high: float) -> list[str]:
    """Per row, what a reader must know that the bar cannot show: invalid, n=1 (no CI), beyond the axis."""
    bad, single, busy = invalid_mask(rows), few_samples(rows), contended_mask(rows)
    n = numeric(rows, "n")
    out = []
    for idx in rows.index:
        parts = []
        if values[idx] > high:
            parts.append(f"{values[idx]:.4g} → off scale")
        if busy[idx]:
            parts.append("contended (machine busy)")
        elif bad[idx]:
            parts.append("invalid")
        if single[idx]:
            parts.append(f"n={int(n[idx])}, no CI")
        out.append(" · ".join(parts))
    return out


def _bar_panel(
    rows: pd.DataFrame, metric: str, stat: str, scale: float
) -> tuple[go.Bar, list[float], list[tuple[str, str]]]:
    """One horizontal CI bar trace, its value-axis range (trusted rows only) and (label, flag) annotations."""
    value, low, high = ci_columns(metric, stat)
    labels = labels_of(rows)
    values = numeric(rows, value) * scale
    bad = invalid_mask(rows)
    trusted = trusted_mask(rows) & ~few_samples(rows)
    trusted = trusted if bool(trusted.any()) else trusted_mask(rows)
    rng = value_range(values[trusted], include_zero=True, extra=(numeric(rows, high) * scale)[trusted])
    bar = go.Bar(
        y=labels.tolist(),
        x=values.tolist(),
        orientation="h",
        name=f"{metric} {stat}",
        error_x=error_arrays(rows, value, low, high, scale),
        marker={
            "color": [COLORS["invalid"] if b else COLORS["bar"] for b in bad],
            "pattern": {"shape": [INVALID_PATTERN if b else "" for b in bad]},
        },
        hovertext=_hover(rows, metric),
        hoverinfo="text+x",
    )
    flags = [(lab, f) for lab, f in zip(labels, _flags(rows, values, rng[1]), strict=True) if f]
    return bar, rng, flags


def _annotate_flags(fig: go.Figure, flags: list[tuple[str, str]], low: float, axis: str = "") -> None:
    for label, text in flags:
        fig.add_annotation(
            x=low,
            y=label,
            xref=f"x{axis}",
            yref=f"y{axis}",
            text=text,
            showarrow=False,
            xanchor="left",
            font={"size": 11, "color": "#8a3b00"},
            bgcolor="rgba(255,255,255,0.8)",
        )


def _bar_height(n: int) -> int:
    return int(170 + 34 * max(n, 2))


def ci_bars(
    df: pd.DataFrame,
    metric: str,
    stat: str = "mean",
    *,
    title: str | None = None,
    axis_title: str | None = None,
    scale: float = 1.0,
) -> go.Figure:
    """One horizontal bar per config (``status == ok`` rows) of ``metric``'s ``stat`` with its 95% CI.

    Bars of rows flagged ``valid == False`` are grey and hatched and do not set the axis range; a bar beyond the
    range, an invalid one and one from n < 2 samples (no error bar) are annotated in words. ``scale`` multiplies
    values (e.g. 1000 for ms).
    """
    value = ci_columns(metric, stat)[0]
    rows = ok_rows(df)
    require(rows, [value], title or metric)
    rows = rows[numeric(rows, value).notna()]
    bar, rng, flags = _bar_panel(rows, metric, stat, scale)
    fig = go.Figure(bar)
    _annotate_flags(fig, flags, rng[0])
    layout(
        fig,
        title or f"{metric} ({stat}, 95% CI)",
        xaxis={"title": axis_title or f"{metric} {stat}", "range": rng},
        yaxis={"autorange": "reversed"},  # first config on top, as in the tables
        showlegend=False,
        height=_bar_height(len(rows)),
    )
    if invalid_mask(rows).any():
        fig.add_annotation(
            text="hatched = measurement flagged invalid (see table); it does not set the axis",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0,
            y=1.0,
            yanchor="bottom",
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
    """Side-by-side panels of :func:`ci_bars` sharing the config axis, one per ``(metric, panel title)`` measured."""
    rows = ok_rows(df)
    present = [(m, t) for m, t in metrics if has_values(rows, ci_columns(m, stat)[0])]
    if not present:
        raise ReportError(f"{title}: no values in column(s) " + ", ".join(ci_columns(m, stat)[0] for m, _ in metrics))
    fig = make_subplots(
        rows=1, cols=len(present), subplot_titles=[t for _, t in present], shared_yaxes=True, horizontal_spacing=0.04
    )
    for i, (metric, sub_title) in enumerate(present, start=1):
        part = rows[numeric(rows, ci_columns(metric, stat)[0]).notna()]
        bar, rng, flags = _bar_panel(part, metric, stat, scale)
        bar.name = sub_title
        fig.add_trace(bar, row=1, col=i)
        fig.update_xaxes(title_text=f"{stat} {unit}".strip(), range=rng, row=1, col=i)
        _annotate_flags(fig, flags, rng[0], "" if i == 1 else str(i))
    fig.update_yaxes(autorange="reversed")
    return layout(fig, title, showlegend=False, height=_bar_height(len(rows)))


def _clamped(values: pd.Series, rng: list[float]) -> tuple[pd.Series, pd.Series]:
    """Values clamped into ``rng`` and which ones were (drawn at the edge, marked, real value in hover)."""
    out = values.clip(lower=rng[0], upper=rng[1])
    return out, (out != values) & values.notna()


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
    y_bounds: tuple[float | None, float | None] = (None, None),
    y_timed: bool = True,
) -> go.Figure:
    """Scatter of ok rows on (x, y): one legend entry (colour + symbol) per config, so every point can be named in
    a static image; Pareto-optimal points ringed and joined by a "Pareto frontier" line.

    ``x_err`` names (ci_low, ci_high) columns for horizontal error bars. Invalid rows use an open symbol and do not
    set the axis ranges; one outside them is drawn at the edge as a triangle with its value in an annotation.
    ``y_bounds`` are values the y metric cannot pass (SSIM <= 1). ``y_timed=False`` says y is not a timing (memory,
    perplexity): the validity flag judges timings, so every row then sets the y range.
    """
    rows = ok_rows(df)
    require(rows, [x, y], title)
    rows = rows[numeric(rows, x).notna() & numeric(rows, y).notna()]
    front = pareto_front(rows, x, y, minimize=minimize)
    labels = labels_of(rows)
    bad = invalid_mask(rows)
    hover = _hover(rows)
    xs, ys = numeric(rows, x) * x_scale, numeric(rows, y) * y_scale
    trusted = trusted_mask(rows)
    x_rng = value_range(xs[trusted], include_zero=False)
    y_rng = value_range(
        ys[trusted if y_timed else ys.notna()], include_zero=False, lower_bound=y_bounds[0], upper_bound=y_bounds[1]
    )
    x_shown, x_off = _clamped(xs, x_rng)
    y_shown, y_off = _clamped(ys, y_rng)
    fig = go.Figure()
    for i, idx in enumerate(rows.index):
        off = bool(x_off[idx] or y_off[idx])
        symbol = "triangle-up" if off else symbol_of(i)
        fig.add_trace(
            go.Scatter(
                x=[x_shown[idx]],
                y=[y_shown[idx]],
                mode="markers",
                name=str(labels[idx]),
                legendgroup=str(labels[idx]),
                hovertext=[hover[i] + (f"<br>off scale: ({xs[idx]:.4g}, {ys[idx]:.4g})" if off else "")],
                hoverinfo="text+x+y",
                marker={
                    "size": 12,
                    "color": color_of(i),
                    "symbol": f"{symbol}-open" if bad[idx] else symbol,
                    "line": {"width": 2, "color": color_of(i)},
                },
                error_x=error_arrays(rows.loc[[idx]], x, x_err[0], x_err[1], x_scale) if x_err else {"visible": False},
            )
        )
        if off:
            fig.add_annotation(
                x=x_shown[idx], y=y_shown[idx], text=f"{labels[idx]}: off scale ({xs[idx]:.3g}, {ys[idx]:.3g})",
                showarrow=True, arrowhead=0, ax=0, ay=-24, font={"size": 11, "color": "#8a3b00"},
            )  # fmt: skip
    on_front = front.to_numpy()
    fig.add_trace(
        go.Scatter(
            x=x_shown[on_front].tolist(),
            y=y_shown[on_front].tolist(),
            mode="markers",
            name="Pareto-optimal",
            marker={"size": 22, "color": "rgba(0,0,0,0)", "line": {"width": 2, "color": COLORS["front"]}},
            hoverinfo="skip",
        )
    )
    line = pd.DataFrame({"_x": x_shown[on_front], "_y": y_shown[on_front]}).sort_values(["_x", "_y"])
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
    return layout(
        fig,
        title,
        xaxis={"title": x_title, "range": x_rng},
        yaxis={"title": y_title, "range": y_rng},
        height=520,
    )


def scatter_panels(
    rows: pd.DataFrame,
    x: str,
    panels: Sequence[tuple[str, str, tuple[float | None, float | None]]],
    *,
    minimize: tuple[bool, bool],
    title: str,
    x_title: str,
    x_err: tuple[str, str] | None = None,
) -> go.Figure:
    """Side-by-side :func:`scatter_with_front` panels sharing ``x``, one per ``(y column, panel title, y bounds)``.

    A config keeps its colour and symbol in every panel and has one legend entry (toggling it hides it everywhere).
    """
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for _, t, _ in panels], horizontal_spacing=0.1)
    for i, (col, sub_title, bounds) in enumerate(panels, start=1):
        part = scatter_with_front(
            rows, x, col, minimize=minimize, title=sub_title, x_title=x_title, y_title=sub_title, x_err=x_err,
            y_bounds=bounds, y_timed=False,
        )  # fmt: skip
        for trace in part.data:
            trace.showlegend = i == 1
            fig.add_trace(trace, row=1, col=i)
        fig.update_xaxes(title_text=x_title, range=part.layout.xaxis.range, row=1, col=i)
        fig.update_yaxes(title_text=sub_title, range=part.layout.yaxis.range, row=1, col=i)
        axis = "" if i == 1 else str(i)
        for note in part.layout.annotations:
            fig.add_annotation(note.update(xref=f"x{axis}", yref=f"y{axis}"))
    # Below the panels: a legend at the right would sit on the last panel.
    return layout(fig, title, height=600, legend={"orientation": "h", "y": -0.18, "x": 0, "yanchor": "top"})


__all__ = [
    "COLORS",
    "ci_bars",
    "ci_columns",
    "error_arrays",
    "multi_ci_bars",
    "pareto_front",
    "scatter_panels",
    "scatter_with_front",
]
