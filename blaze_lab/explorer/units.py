"""Numbers as people read them in the explorer's tables: bytes as kB/MB/GB, seconds as µs/ms/s.

The session's frames keep plain numbers (bytes, seconds) for code; :func:`readable` formats a copy for display,
choosing the unit from the column label's suffix — ``(bytes)`` or ``(s)`` — and dropping that suffix.

Example:
    >>> human_bytes(6.256e8), human_bytes(1.5e9), human_bytes(512)
    ('626 MB', '1.50 GB', '512 B')
    >>> human_seconds(0.0123), human_seconds(2.5), human_seconds(4e-5)
    ('12.3 ms', '2.50 s', '40.0 µs')
    >>> import pandas as pd
    >>> readable(pd.DataFrame({"peak RSS (bytes)": [6.256e8], "TTFT (s)": [0.0123], "tokens/s": [14.14]}))
      peak RSS     TTFT tokens/s
    0   626 MB  12.3 ms    14.14
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

_BYTES = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"))
_SECONDS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))


def _three(value: float) -> str:
    """Three significant digits without an exponent (626, 12.3, 1.50)."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def human_bytes(value: Any) -> str:
    """Decimal units (MB = 10⁶ bytes, as docs/metrics.md reports memory); "" for missing values."""
    number = _float(value)
    if number is None:
        return ""
    for scale, unit in _BYTES:
        if abs(number) >= scale:
            return f"{_three(number / scale)} {unit}"
    return f"{number:.0f} B"


def human_seconds(value: Any) -> str:
    number = _float(value)
    if number is None:
        return ""
    if number == 0:
        return "0 s"
    for scale, unit in _SECONDS:
        if abs(number) >= scale:
            return f"{_three(number / scale)} {unit}"
    return f"{_three(number / 1e-9)} ns"


def plain(value: Any) -> str:
    """Other numbers: 4 significant digits, no exponent below a million; text as is."""
    number = _float(value)
    if number is None:
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    if isinstance(value, bool):
        return str(value)
    return f"{number:.4g}" if abs(number) < 1e6 else f"{number:,.0f}"


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A display copy: ``… (bytes)`` / ``… (s)`` columns in human units (suffix dropped), other numbers 4 digits."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        name = str(column)
        values = frame[column]
        if name.endswith(" (bytes)"):
            out[name.removesuffix(" (bytes)")] = values.map(human_bytes)
        elif name.endswith(" (s)"):
            out[name.removesuffix(" (s)")] = values.map(human_seconds)
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            out[name] = values.map(plain)
        else:
            out[name] = values
    return out


def readable_compare(table: pd.DataFrame) -> pd.DataFrame:
    """A display copy of :meth:`ExplorerSession.compare`: each row in its metric's unit, each run's CI bounds
    joined into one ``<run> 95% CI`` column, ratios as ``0.5×`` (3 significant digits).

    >>> t = pd.DataFrame({"a": [0.010], "a CI low": [0.009], "a CI high": [0.011], "b": [0.005],
    ...                   "b CI low": [0.004], "b CI high": [0.006], "b / a": [0.5], "b verdict": ["no verdict"]},
    ...                  index=pd.Index(["latency (s)"], name="metric"))
    >>> readable_compare(t).iloc[0].tolist()
    ['10.0 ms', '9.00 ms – 11.0 ms', '5.00 ms', '4.00 ms – 6.00 ms', '0.5×', 'no verdict']
    """
    rows = []
    for label, row in table.iterrows():
        name = str(label)
        unit = human_bytes if name.endswith(" (bytes)") else human_seconds if name.endswith(" (s)") else plain
        cells: dict[str, Any] = {}
        for column, value in row.items():
            col = str(column)
            if col.endswith(" CI high"):
                continue
            fmt = _times if " / " in col else unit  # ratios have no unit
            if col.endswith(" CI low"):
                run = col.removesuffix(" CI low")
                low, high = fmt(value), fmt(row.get(f"{run} CI high"))
                cells[f"{run} 95% CI"] = f"{low} – {high}" if low and high else ""
            elif " / " in col:
                cells[col] = _times(value)
            elif isinstance(value, str):
                cells[col] = value
            else:
                cells[col] = unit(value)
        rows.append(cells)
    labels = [str(i).removesuffix(" (bytes)").removesuffix(" (s)") for i in table.index]
    return pd.DataFrame(rows, index=pd.Index(labels, name=table.index.name))


def _times(value: Any) -> str:
    ratio = _float(value)
    return "" if ratio is None else f"{ratio:.3g}×"


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, str | bytes):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


__all__ = ["human_bytes", "human_seconds", "plain", "readable", "readable_compare"]
