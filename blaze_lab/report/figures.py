"""Figure building blocks shared by every engine kind: labels, Pareto fronts, CI bars, CDFs and tables.

Everything here is a pure function ``DataFrame -> Figure | DataFrame | Series``: no I/O, no global state. A figure
that cannot be drawn from the frame it is given (a needed column is missing, no row has a value) raises
:class:`~blaze_lab.errors.ReportError` with the reason; :func:`blaze_lab.report.sections.figure_item` turns that
into a note in the report instead of a crash.

Conventions (from the result-rows contract): config fields are dotted columns (``llm.dtype``), ``env.*`` columns are
the environment, a metric ``m`` has summary columns ``m_mean``, ``m_p50``, ``m_ci_low``/``m_ci_high`` (CI of the mean)
and ``m_median_ci_low``/``m_median_ci_high`` (CI of the median). Rows whose ``status`` is not ``ok`` carry no
metrics: they are left out of metric figures (:func:`ok_rows`) and listed by :func:`status_rows`. Rows with
``valid == False`` are drawn hatched/open and listed by :func:`invalid_rows` with their ``validity_reason``.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"llm.dtype": ["fp32", "bf16"], "llm.batch_size": [8, 8],
    ...                    "tokens_per_s_mean": [90.0, 170.0], "status": ["ok", "ok"]})
    >>> list(config_labels(df))
    ['fp32', 'bf16']
    >>> fig = ci_bars(df, "tokens_per_s", title="Throughput")
    >>> list(fig.data[0].y)
    [90.0, 170.0]
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from blaze_lab.errors import ReportError

# Short names for config fields in labels: "bs8" reads better than "batch_size=8".
FIELD_SHORT: dict[str, str] = {
    "batch_size": "bs",
    "max_new_tokens": "out",
    "new_tokens": "out",
    "prompt_tokens": "in",
    "prompt_len": "in",
    "num_inference_steps": "steps",
    "steps": "steps",
    "quantization": "quant",
    "attn_implementation": "attn",
    "attention": "attn",
    "images_per_prompt": "batch",
    "replicas": "replicas",
}
# Fields shown as prefix+value with no separator (numbers that read as one token: bs8, steps20).
_GLUED = {"bs", "steps", "out", "in", "batch"}
# String values that mean "off": shown with the field name so "none" alone is not ambiguous.
_OFF_VALUES = {"none", "off", "false", "no", ""}

LABEL_SEPARATOR = " · "
LABEL = "config"  # column added by with_labels()
OK = "ok"

COLORS = {
    "bar": "#4C78A8",
    "invalid": "#B0B0B0",
    "front": "#E45756",
    "other": "#9DB4CE",
    "line": "#E45756",
}
INVALID_PATTERN = "/"  # hatch on bars whose measurement is flagged valid=False


# -- columns and rows ----------------------------------------------------------------------------------------------
def config_columns(df: pd.DataFrame) -> list[str]:
    """Dotted config columns (``llm.dtype``, ``router.strategy``), excluding ``env.*``."""
    return [c for c in df.columns if isinstance(c, str) and "." in c and not c.startswith("env.")]


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows that carry metrics: ``status == "ok"`` (all rows when the frame has no ``status`` column)."""
    if "status" not in df.columns:
        return df
    return df[df["status"].astype(str) == OK]


def has_values(df: pd.DataFrame, column: str) -> bool:
    """True when ``column`` exists and at least one row has a non-NaN value in it."""
    return column in df.columns and bool(pd.to_numeric(df[column], errors="coerce").notna().any())


def require(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise ReportError naming every missing or all-NaN column needed for ``what``."""
    missing = [c for c in columns if not has_values(df, c)]
    if missing:
        raise ReportError(f"{what}: no values in column(s) {', '.join(missing)}")


def invalid_mask(df: pd.DataFrame) -> pd.Series:
    """Boolean Series: rows whose measurement is flagged ``valid == False`` (missing column or NaN -> False)."""
    if "valid" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["valid"].map(lambda v: v is False or v is np.False_ or (isinstance(v, str) and v.lower() == "false"))


def numeric(df: pd.DataFrame, column: str) -> pd.Series:
    """``df[column]`` as floats (NaN where missing or not a number); an all-NaN Series when the column is absent."""
    if column not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype=float)
    return pd.to_numeric(df[column], errors="coerce").astype(float)


# -- labels --------------------------------------------------------------------------------------------------------
def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists / arrays: not a missing scalar
        return False


def _format_value(field: str, value: Any) -> str:
    name = field.split(".", 1)[-1]
    short = FIELD_SHORT.get(name, name)
    if isinstance(value, bool | np.bool_):
        return short if value else f"no-{short}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int | np.integer | float | np.floating):
        return f"{short}{value}" if short in _GLUED else f"{short}={value:g}"
    text = str(value)
    if text.lower() in _OFF_VALUES:
        return f"{short}={text or 'none'}"
    if name == "model" and "/" in text:
        text = text.rstrip("/").rsplit("/", 1)[-1]  # a local path or hub id: its last part names it
    return text


def varying_columns(df: pd.DataFrame, columns: Sequence[str] | None = None) -> list[str]:
    """Config columns whose value differs between rows of ``df`` (missing counts as a value)."""
    cols = list(columns) if columns is not None else config_columns(df)
    return [c for c in cols if c in df.columns and df[c].astype(str).nunique(dropna=False) > 1]


def config_label(row: pd.Series | dict[str, Any], fields: Sequence[str] | None = None) -> str:
    """A readable label for one config, e.g. ``"bf16 · bnb-nf4 · bs8"``.

    ``fields`` are the config columns to show (normally those that vary across the frame, see
    :func:`config_labels`); by default every dotted config field of the row. Missing values are skipped.

    >>> config_label({"llm.dtype": "bf16", "llm.quantization": "bnb-nf4", "llm.batch_size": 8})
    'bf16 · bnb-nf4 · bs8'
    >>> config_label({"llm.dtype": "fp32", "llm.quantization": "none", "llm.compile": True})
    'fp32 · quant=none · compile'
    """
    items = dict(row)
    names = (
        list(fields) if fields is not None else [k for k in items if "." in str(k) and not str(k).startswith("env.")]
    )
    parts = [_format_value(f, items[f]) for f in names if f in items and not _is_missing(items[f])]
    return LABEL_SEPARATOR.join(parts) if parts else "(default)"


def config_labels(df: pd.DataFrame) -> pd.Series:
    """One label per row showing only the config fields that vary (per engine kind when the frame mixes kinds).

    Duplicate labels (configs that differ only in fields outside the dotted columns) get ``#2``, ``#3`` … so bars
    never merge.

    >>> df = pd.DataFrame({"llm.dtype": ["fp32", "bf16"], "llm.model": ["m", "m"]})
    >>> config_labels(df).tolist()
    ['fp32', 'bf16']
    """
    labels = pd.Series("", index=df.index, dtype=object)
    if df.empty:
        return labels
    groups = df.groupby(df["engine"].astype(str), sort=False) if "engine" in df.columns else [("", df)]
    for kind, sub in groups:
        cols = [c for c in config_columns(sub) if c.startswith(f"{kind}.")] or [
            c for c in config_columns(sub) if sub[c].notna().any()
        ]
        # A field constant within this kind (but not across kinds) is not news: compare within the group.
        fields = varying_columns(sub, cols) or [c for c in cols if sub[c].notna().any()]
        for idx, row in sub.iterrows():
            labels[idx] = config_label(row, fields)
    seen: dict[str, int] = {}
    for idx, label in labels.items():
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[idx] = f"{label} #{seen[label]}"
    return labels


def with_labels(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``config`` column of :func:`config_labels` (kept when already there).

    Label a whole engine frame once, before filtering, so every figure of a report names a config the same way.
    """
    if LABEL in df.columns:
        return df
    return df.assign(**{LABEL: config_labels(df)})


def labels_of(df: pd.DataFrame) -> pd.Series:
    """The ``config`` column when present (see :func:`with_labels`), else :func:`config_labels` of ``df``."""
    if LABEL in df.columns:
        return df[LABEL].astype(str)
    return config_labels(df)


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
def _layout(fig: go.Figure, title: str, **kwargs: Any) -> go.Figure:
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
    _layout(fig, title or f"{metric} ({stat}, 95% CI)", yaxis_title=axis_title or f"{metric} {stat}", showlegend=False)
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
    return _layout(fig, title, showlegend=False)


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
    return _layout(fig, title, xaxis_title=x_title, yaxis_title=y_title)


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
    return _layout(
        fig,
        title,
        xaxis_title=f"{column.removesuffix('_s')} ({unit})",
        yaxis_title="fraction ≤ x",
        yaxis_range=[0, 1.02],
        # A slow config can be 10x+ the fast ones; a log axis keeps the fast CDFs apart.
        xaxis_type="log" if spread > 20 else "linear",
    )


def table_figure(df: pd.DataFrame, *, title: str) -> go.Figure:
    """A plotly Table of ``df`` (cells as text; floats to 4 significant digits), height sized to the rows."""
    if df.empty:
        raise ReportError(f"{title}: no rows")
    cells = [[format_cell(v) for v in df[c]] for c in df.columns]
    fig = go.Figure(
        go.Table(
            header={"values": [f"<b>{c}</b>" for c in df.columns], "fill_color": "#E8EEF6", "align": "left"},
            cells={"values": cells, "align": "left", "height": 26},
        )
    )
    return _layout(fig, title, height=120 + 30 * (len(df) + 1), margin={"l": 10, "r": 10, "t": 50, "b": 10})


def format_cell(value: Any) -> str:
    """Text of one table cell: floats to 4 significant digits, NaN/None as an empty cell."""
    if _is_missing(value):
        return ""
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


def image_grid_html(images: Sequence[tuple[str, bytes | str | os.PathLike[str]]], *, width: int = 160) -> str:
    """A self-contained HTML grid of PNG thumbnails (base64-embedded), one captioned cell per image.

    For section functions that show images (e.g. one diffusion output per config, same seed). An image is PNG
    bytes or a path to a PNG file; captions are escaped.

    >>> image_grid_html([("fp32", b"\\x89PNG")]).count("<figure")
    1
    """
    cells = []
    for caption, image in images:
        data = image if isinstance(image, bytes) else Path(image).read_bytes()
        src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        cells.append(
            f'<figure style="margin:4px;width:{width}px"><img src="{src}" width="{width}" alt="{html.escape(caption)}">'
            f'<figcaption style="font-size:12px">{html.escape(caption)}</figcaption></figure>'
        )
    return '<div class="image-grid" style="display:flex;flex-wrap:wrap">' + "".join(cells) + "</div>"


# -- tables of rows that are not plain ok measurements -------------------------------------------------------------
def status_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose ``status`` is not ok: engine, config label, status, error (empty frame when every row is ok)."""
    cols = ["engine", "config", "status", "error"]
    if "status" not in df.columns:
        return pd.DataFrame(columns=cols)
    bad = df[df["status"].astype(str) != OK]
    out = pd.DataFrame(
        {
            "engine": bad["engine"].astype(str) if "engine" in bad.columns else "",
            "config": labels_of(df).loc[bad.index],
            "status": bad["status"].astype(str),
            "error": bad["error"].fillna("").astype(str) if "error" in bad.columns else "",
        },
        index=bad.index,
    )
    return out.reset_index(drop=True)[cols]


def status_table(df: pd.DataFrame) -> go.Figure:
    """Plotly Table of :func:`status_rows` (ReportError when every run is ok)."""
    return table_figure(status_rows(df), title="Runs that did not produce measurements")


def invalid_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Ok rows flagged ``valid == False``: engine, config label, n, validity_reason."""
    rows = ok_rows(df)
    bad = rows[invalid_mask(rows)]
    labels = labels_of(rows)
    return pd.DataFrame(
        {
            "engine": bad["engine"].astype(str) if "engine" in bad.columns else "",
            "config": labels.loc[bad.index],
            "n": numeric(bad, "n"),
            "validity_reason": bad["validity_reason"].astype(str) if "validity_reason" in bad.columns else "",
        }
    ).reset_index(drop=True)


__all__ = [
    "FIELD_SHORT",
    "cdf_figure",
    "ci_bars",
    "ci_columns",
    "config_columns",
    "config_label",
    "config_labels",
    "error_arrays",
    "format_cell",
    "has_values",
    "image_grid_html",
    "invalid_mask",
    "invalid_rows",
    "labels_of",
    "multi_ci_bars",
    "numeric",
    "ok_rows",
    "pareto_front",
    "require",
    "scatter_with_front",
    "status_rows",
    "status_table",
    "table_figure",
    "varying_columns",
    "with_labels",
]
