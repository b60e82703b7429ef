"""Empirical CDFs of per-sample metrics (latency, TTFT, per-step latency …), one line per config.

Pure ``DataFrame -> Figure``. Each line starts at fraction 0 (a config with one sample still draws a line, and a
legend entry always has a line); a wide spread gets a log axis with 1-2-5 ticks (:func:`.axes.log_axis`).

Example:
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"run_id": ["a", "a", "b"], "latency_s": [1.0, 2.0, 1.5]})
    >>> [t.name for t in cdf_figure(raw, "latency_s", pd.Series({"a": "fp32", "b": "bf16"}), title="t").data]
    ['fp32 (n=2)', 'bf16 (n=1)']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from blaze_lab.errors import ReportError
from blaze_lab.report.axes import color_of, layout, log_axis, value_range
from blaze_lab.report.labels import METRIC_NAMES
from blaze_lab.report.rows import require


def cdf_figure(
    raw: pd.DataFrame, column: str, labels: pd.Series, *, title: str, scale: float = 1.0, unit: str = "s"
) -> go.Figure:
    """Empirical CDF of ``raw[column]`` per config, one line each; ``labels`` maps ``run_id`` -> label.

    Only raw rows whose ``run_id`` is a key of ``labels`` are drawn (pass labels of ok rows only); a config
    without samples gets no legend entry. List-valued cells (e.g. every inter-token gap of a request) are pooled.
    Each line starts at fraction 0, so a config with a single sample still draws a (vertical) line.
    """
    if "run_id" not in raw.columns:
        raise ReportError(f"{title}: raw frame has no run_id column")
    require(raw.explode(column) if column in raw.columns and raw[column].dtype == object else raw, [column], title)
    fig = go.Figure()
    for i, (run_id, label) in enumerate(labels.items()):
        part = raw.loc[raw["run_id"] == run_id, column]
        if part.dtype == object:
            part = part.explode()
        values = np.sort(pd.to_numeric(part, errors="coerce").dropna().to_numpy(dtype=float)) * scale
        if values.size == 0:
            continue
        prob = np.arange(1, values.size + 1) / values.size
        fig.add_trace(
            go.Scatter(
                x=[float(values[0]), *values.tolist()],
                y=[0.0, *prob.tolist()],
                mode="lines",
                name=f"{label} (n={values.size})",
                line={"shape": "hv", "color": color_of(i), "dash": ("solid", "dash", "dot")[(i // 12) % 3]},
                hovertemplate=f"{label}<br>%{{x:.4g}} {unit}<br>P≤x = %{{y:.2f}}<extra></extra>",
            )
        )
    if not fig.data:
        raise ReportError(f"{title}: no raw samples of {column} for the ok configs")
    xs = np.concatenate([np.asarray(t.x, dtype=float) for t in fig.data])
    positive = xs[xs > 0]
    spread = float(positive.max() / positive.min()) if positive.size else 1.0
    # A slow config can be 10x+ the fast ones; a log axis (1-2-5 ticks) keeps the fast CDFs apart.
    xaxis = log_axis(positive) if spread > 20 else {"range": value_range(xs, include_zero=False)}
    return layout(
        fig,
        title,
        xaxis={"title": f"{METRIC_NAMES.get(column, (column.replace('_', ' '), ''))[0]} ({unit})", **xaxis},
        yaxis={"title": "fraction ≤ x", "range": [0, 1.02]},
        height=480,
    )


__all__ = ["cdf_figure"]
