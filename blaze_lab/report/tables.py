"""Tables of a report: cell formatting, plotly tables, and the rows that are not plain ok measurements.

Pure ``DataFrame -> DataFrame | Figure`` functions: no I/O.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"engine": ["llm"] * 2, "llm.dtype": ["fp32", "bf16"], "status": ["ok", "error"],
    ...                    "error": ["", "boom"]})
    >>> status_rows(df)[["config", "status", "reason", "detail"]].to_dict("records")
    [{'config': 'bf16', 'status': 'error', 'reason': 'boom', 'detail': 'boom'}]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from blaze_lab.errors import ReportError
from blaze_lab.report.axes import layout
from blaze_lab.report.labels import labels_of
from blaze_lab.report.reasons import human_reason
from blaze_lab.report.rows import OK, invalid_mask, is_missing, numeric, ok_rows


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
    return layout(fig, title, height=120 + 30 * (len(df) + 1), margin={"l": 10, "r": 10, "t": 50, "b": 10})


def format_cell(value: Any) -> str:
    """Text of one table cell: floats to 4 significant digits, NaN/None as an empty cell."""
    if is_missing(value):
        return ""
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


# -- tables of rows that are not plain ok measurements -------------------------------------------------------------
def status_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose ``status`` is not ok: engine, config label, status, reason (plain words, see
    :func:`~blaze_lab.report.reasons.human_reason`) and detail (the library's text); empty when every row is ok."""
    cols = ["engine", "config", "status", "reason", "detail"]
    if "status" not in df.columns:
        return pd.DataFrame(columns=cols)
    bad = df[df["status"].astype(str) != OK]
    records = bad.to_dict("records")
    out = pd.DataFrame(
        {
            "engine": bad["engine"].astype(str) if "engine" in bad.columns else "",
            "config": labels_of(df).loc[bad.index],
            "status": bad["status"].astype(str),
            "reason": [human_reason(r) for r in records],
            "detail": bad["error"].fillna("").astype(str) if "error" in bad.columns else "",
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


__all__ = ["format_cell", "invalid_rows", "status_rows", "status_table", "table_figure"]
