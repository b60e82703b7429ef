"""The report's one visual theme and its axis rules: ranges set by trusted rows, minimum spans, readable log ticks.

Why these rules (each fixes a way a figure misled):

* **Trusted rows set the range.** A measurement flagged ``valid == False`` (one noisy sample at 92 s) must not
  flatten the 1–3 s bars of the valid ones: ranges come from valid rows only; the others are still drawn, marked
  and annotated where they leave the range (:func:`value_range`, :func:`trusted_mask`).
* **Minimum relative span.** SSIM values of 0.9999997 and 1.0 drawn on an axis spanning exactly that make noise look
  like a difference; an axis spans at least :data:`MIN_REL_SPAN` of its largest magnitude.
* **Log axes get 1-2-5 ticks** with full labels (:func:`log_ticks`), not plotly's minor labels "2 3 … 10 2 3".
* **One theme** (:func:`theme`, :func:`layout`): font, palette, margins that grow to fit tick labels (none cut off),
  and no log-scale bars (a bar's length is its value; on a log axis it is not).

Example:
    >>> value_range([1.0, 1.2], include_zero=True)
    [0.0, 1.272]
    >>> value_range([0.9999997, 1.0], include_zero=False, upper_bound=1.0)
    [0.9788, 1.0]
    >>> log_ticks(0.03, 0.4)
    ([0.05, 0.1, 0.2], ['0.05', '0.1', '0.2'])
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from blaze_lab.report.rows import contended_mask, invalid_mask, numeric

MIN_REL_SPAN = 0.02
"""An axis spans at least 2% of its largest absolute value (a 3e-7 difference then draws as flat)."""
PAD = 0.06  # fraction of the span added beyond the data on each free side
PALETTE = (
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#EECA3B", "#9D755D", "#FF9DA6", "#BAB0AC",
    "#1F77B4", "#8C564B",
)  # fmt: skip
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13, "color": "#222"}
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "cross", "triangle-down", "hexagon", "pentagon")


def theme(fig: go.Figure) -> go.Figure:
    """The report's look (template, font, palette, margins that grow to fit labels) on any figure; the report
    applies it to every figure of every section, so all kinds share one theme."""
    fig.update_layout(template="plotly_white", font=FONT, colorway=list(PALETTE), hoverlabel={"align": "left"})
    if any(isinstance(t, go.Bar) for t in fig.data):
        # No log-scale bars: a bar's length is its value, and on a log axis it is not (the base is arbitrary).
        fig.for_each_xaxis(lambda ax: ax.update(type="linear") if ax.type == "log" else None)
        fig.for_each_yaxis(lambda ax: ax.update(type="linear") if ax.type == "log" else None)
    # Margins grow to fit tick labels and titles: a long config label is never cut off.
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def layout(fig: go.Figure, title: str, **kwargs: Any) -> go.Figure:
    """Apply the report theme and ``title`` (plus any plotly layout ``kwargs``); returns ``fig``."""
    settings: dict[str, Any] = {
        "title": {"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 16}},
        "margin": {"l": 70, "r": 30, "t": 70, "b": 60},
        "legend": {"font": {"size": 12}},
    }
    theme(fig)
    fig.update_layout(**{**settings, **kwargs})
    return fig


def color_of(i: int) -> str:
    """The i-th colour of the report palette (cycled)."""
    return PALETTE[i % len(PALETTE)]


def symbol_of(i: int) -> str:
    """The i-th marker symbol (cycled); with :func:`color_of` every config gets a distinct marker."""
    return SYMBOLS[(i // len(PALETTE)) % len(SYMBOLS)] if i >= len(PALETTE) else SYMBOLS[i % len(SYMBOLS)]


def trusted_mask(df: pd.DataFrame) -> pd.Series:
    """Rows whose values may set an axis range: not flagged ``valid == False`` nor ``contended`` (all rows when none
    is trusted)."""
    trusted = ~invalid_mask(df) & ~contended_mask(df)
    return trusted if bool(trusted.any()) else pd.Series(True, index=df.index)


def few_samples(df: pd.DataFrame) -> pd.Series:
    """Rows measured from fewer than 2 samples (``n < 2``): their CI collapses to the value and means nothing."""
    n = numeric(df, "n")
    return n.notna() & (n < 2)


def value_range(
    values: Iterable[float],
    *,
    include_zero: bool,
    extra: Iterable[float] = (),
    min_rel_span: float = MIN_REL_SPAN,
    lower_bound: float | None = None,
    upper_bound: float | None = None,
) -> list[float]:
    """``[low, high]`` of an axis over ``values`` (and ``extra``, e.g. CI ends), padded, at least ``min_rel_span``
    of the largest magnitude wide, clipped to the bounds a metric cannot leave (SSIM <= 1)."""
    data = np.asarray([v for v in [*values, *extra] if v is not None and math.isfinite(v)], dtype=float)
    if data.size == 0:
        return [0.0, 1.0]
    low, high = float(data.min()), float(data.max())
    if include_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    min_span = max(abs(low), abs(high)) * min_rel_span or 1.0
    if high - low < min_span:  # widen around the data's centre
        centre = (high + low) / 2
        low, high = centre - min_span / 2, centre + min_span / 2
        if upper_bound is not None and high > upper_bound:
            low, high = low - (high - upper_bound), upper_bound
        if lower_bound is not None and low < lower_bound:
            low, high = lower_bound, high + (lower_bound - low)
    pad = (high - low) * PAD
    out_low = low if (include_zero and low == 0.0) else low - pad
    out_high = high + pad
    if upper_bound is not None:
        out_high = min(out_high, upper_bound) if high <= upper_bound else out_high
    if lower_bound is not None:
        out_low = max(out_low, lower_bound) if low >= lower_bound else out_low
    return [round(out_low, 12), round(out_high, 12)]


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick values 1-2-5 × 10^k inside ``[low, high]`` (both > 0) and their plain labels."""
    if not (low > 0 and high > low):
        return [], []
    ticks: list[float] = []
    for exp in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            tick = float(f"{mantissa}e{exp}")
            if low <= tick <= high:
                ticks.append(tick)
    return ticks, [f"{t:g}" for t in ticks]


def log_axis(values: Iterable[float]) -> dict[str, Any]:
    """Plotly axis settings for a log axis over positive ``values``: range in log10 units and 1-2-5 ticks."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v) and v > 0], dtype=float)
    if data.size == 0:
        return {"type": "log"}
    low, high = math.log10(float(data.min())), math.log10(float(data.max()))
    pad = max(high - low, 0.3) * PAD
    ticks, text = log_ticks(10 ** (low - pad), 10 ** (high + pad))
    return {"type": "log", "range": [low - pad, high + pad], "tickvals": ticks, "ticktext": text}


__all__ = [
    "MIN_REL_SPAN",
    "PALETTE",
    "color_of",
    "few_samples",
    "layout",
    "log_axis",
    "log_ticks",
    "symbol_of",
    "theme",
    "trusted_mask",
    "value_range",
]
