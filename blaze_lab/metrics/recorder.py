"""Rows → DataFrames: the raw frame (one row per sample) and the summary frame (one row per config).

A :class:`Recorder` collects flat dict rows. :func:`summarize_frame` is a pure ``df -> df``: it groups the raw
frame by run and turns each metric into the ``<metric>_<stat>`` columns of :mod:`blaze_lab.metrics.stats`, carrying
the config and env columns (constant within a run) through unchanged.

Example:
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"run_id": ["a", "a", "a"], "llm.dtype": ["fp32"] * 3, "status": ["ok"] * 3,
    ...                     "latency_s": [1.0, 1.1, 0.9]})
    >>> summary = summarize_frame(raw, metrics=["latency_s"])
    >>> float(summary.loc[0, "latency_s_p50"]), int(summary.loc[0, "n"])
    (1.0, 3)
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from blaze_lab.config import BaseConfig
from blaze_lab.metrics.stats import DEFAULT_RULES, ValidityRules, summarize_columns

# Columns every row carries, in this order, before config/metric/env columns.
ID_COLUMNS = ("run_id", "sweep", "group", "config_hash", "engine", "status", "error", "error_type")


class Recorder:
    """Collects rows (dicts); ``frame()`` returns them as a DataFrame with the id columns first."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(dict(row))

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def frame(self) -> pd.DataFrame:
        return order_columns(pd.DataFrame(self.rows))


def order_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Id columns first, then config (dotted) columns, then metrics, then ``env.*``."""
    cols = list(df.columns)
    ids = [c for c in ID_COLUMNS if c in cols]
    env = [c for c in cols if c.startswith("env.")]
    dotted = [c for c in cols if "." in c and c not in env and c not in ids]
    rest = [c for c in cols if c not in ids and c not in env and c not in dotted]
    return df[ids + dotted + rest + env]


def summarize_frame(
    raw: pd.DataFrame,
    metrics: Sequence[str],
    *,
    by: str = "run_id",
    primary: str | None = None,
    max_metrics: Sequence[str] = (),
    rules: ValidityRules = DEFAULT_RULES,
    duration_column: str | None = None,
) -> pd.DataFrame:
    """One summary row per ``by`` group.

    - ``metrics``: sampled columns summarized into ``<metric>_<stat>`` (``primary`` sets ``n``/``valid``).
    - ``max_metrics``: columns reduced by max (peak memory).
    - every other column is carried from the group's first row (config, status, env).
    - ``duration_column``: a per-row duration whose sum is checked against ``rules.min_duration_s``.
    """
    if raw.empty:
        return raw.copy()
    out: list[dict[str, Any]] = []
    skip = set(metrics) | set(max_metrics)
    for _, group in raw.groupby(by, sort=False, dropna=False):
        first = group.iloc[0]
        row: dict[str, Any] = {c: first[c] for c in group.columns if c not in skip}
        values = {m: group[m].dropna().tolist() for m in metrics if m in group.columns}
        duration = float(group[duration_column].sum()) if duration_column and duration_column in group else None
        row.update(summarize_columns(values, primary=primary, duration_s=duration, rules=rules))
        for m in max_metrics:
            if m in group.columns:
                row[m] = group[m].max()
        out.append(row)
    return order_columns(pd.DataFrame(out))


# -- frames with stable dtypes ------------------------------------------------------------------------------------

_NUMERIC = {bool: "bool", int: "int64", float: "float64"}


def config_dtypes(config_class: type[BaseConfig]) -> dict[str, str]:
    """Stable pandas dtypes of a config's dotted columns, from the field types (``int | None`` → ``Int64``).

    >>> from blaze_lab.router.config import RouterExperimentConfig
    >>> config_dtypes(RouterExperimentConfig)["router.replicas"]
    'int64'
    """
    hints = typing.get_type_hints(config_class)
    out: dict[str, str] = {}
    for field in dataclasses.fields(config_class):
        hint = hints.get(field.name)
        args = set(typing.get_args(hint)) if isinstance(hint, types.UnionType) or _is_union(hint) else {hint}
        optional = type(None) in args
        args.discard(type(None))
        if len(args) != 1:
            continue
        (typ,) = args
        if typ in _NUMERIC:
            dtype = _NUMERIC[typ]
            if optional:
                dtype = {"bool": "boolean", "int64": "Int64", "float64": "float64"}[dtype]
            out[f"{config_class.PREFIX}.{field.name}"] = dtype
    return out


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) is typing.Union


def config_frame(rows: list[dict[str, Any]], configs: Sequence[BaseConfig], *, summary: bool) -> pd.DataFrame:
    """Rows as a frame: id columns first, config columns cast to their field types (and ``n``/``valid`` typed)."""
    frame = order_columns(pd.DataFrame(rows))
    if frame.empty:
        return frame
    dtypes: dict[str, str] = {}
    for cls in dict.fromkeys(type(c) for c in configs):
        dtypes.update({k: v for k, v in config_dtypes(cls).items() if k in frame.columns})
    if summary:
        dtypes.update({"n": "int64", "valid": "bool", "contended": "bool"})
    for column, dtype in dtypes.items():
        if column in frame.columns:
            # a column that cannot take its declared dtype stays as it is
            with contextlib.suppress(TypeError, ValueError):
                frame[column] = frame[column].astype(dtype)
    return frame


__all__ = ["ID_COLUMNS", "Recorder", "config_dtypes", "config_frame", "order_columns", "summarize_frame"]
