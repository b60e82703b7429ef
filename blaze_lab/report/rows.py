"""Columns and rows of a result frame: which columns are config fields, which rows carry metrics, which are flagged.

Conventions (from the result-rows contract): config fields are dotted columns (``llm.dtype``), ``env.*`` columns are
the environment. Rows whose ``status`` is not ``ok`` carry no metrics; rows with ``valid == False`` carry metrics
that failed a validity rule (too few samples, too noisy) and are shown marked, never silently mixed in.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"llm.dtype": ["fp32", "bf16"], "env.device": ["cpu", "cpu"],
    ...                    "status": ["ok", "unsupported"], "valid": [False, None]})
    >>> config_columns(df), len(ok_rows(df)), invalid_mask(df).tolist()
    (['llm.dtype'], 1, [True, False])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.errors import ReportError

OK = "ok"


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


def contended_mask(df: pd.DataFrame) -> pd.Series:
    """Boolean Series: rows measured while other processes took the machine (``contended == True``)."""
    if "contended" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["contended"].map(lambda v: v is True or v is np.True_ or (isinstance(v, str) and v.lower() == "true"))


def numeric(df: pd.DataFrame, column: str) -> pd.Series:
    """``df[column]`` as floats (NaN where missing or not a number); an all-NaN Series when the column is absent."""
    if column not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype=float)
    return pd.to_numeric(df[column], errors="coerce").astype(float)


def is_missing(value: Any) -> bool:
    """True for None and NaN-like scalars (lists and arrays are values, not missing)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists / arrays: not a missing scalar
        return False


__all__ = [
    "OK",
    "config_columns",
    "contended_mask",
    "has_values",
    "invalid_mask",
    "is_missing",
    "numeric",
    "ok_rows",
    "require",
]
