"""Load a sweep's results into one tidy pandas frame: ``load_results(path, kind=...)``.

A sweep writes ``results/<sweep>/<group>/{summary,raw}.parquet`` (one folder per load-time group); the explorer
writes ``results/explorer/<date>/<session>/…`` in the same layout. :func:`load_results` reads every group of one
folder, keeps one engine kind's rows (``kind=``), drops the columns that are empty for them, and types the config
columns from the kind's config class: a ``bool`` field is a ``bool`` column, an ``int`` field ``int64`` (the
nullable ``boolean`` / ``Int64`` only where rows of another kind leave it empty).

Config columns keep their dotted names (``llm.dtype``), the names the report, the specs and docs/metrics.md use.
Select rows by config with :func:`select`, or with ``DataFrame.query`` and the dotted names in backticks:

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"llm.dtype": ["fp32", "bf16", "bf16"], "llm.batch_size": [1, 1, 8],
    ...                       "tokens_per_s_mean": [14.1, 24.3, 127.3]})
    >>> select(frame, **{"llm.dtype": "bf16", "llm.batch_size": [1, 8]})["tokens_per_s_mean"].tolist()
    [24.3, 127.3]
    >>> frame.query("`llm.dtype` == 'bf16' and `llm.batch_size` > 1")["tokens_per_s_mean"].tolist()
    [127.3]
    >>> summary = load_results("results/quickstart", kind="llm", columns="headline")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_type_hints

import pandas as pd

from blaze_lab.errors import ConfigError

Table = Literal["summary", "raw"]
COLUMN_SETS = ("all", "headline")

# Columns that identify a row; always kept, first.
ID_COLUMNS = ("run_id", "sweep", "group", "engine", "config_hash", "status", "valid", "error")
# Headline metrics of kinds without an explorer panel (the panel's list is used where there is one).
_HEADLINE_FALLBACK: Mapping[str, tuple[str, ...]] = {
    "serving": ("throughput_rps", "goodput_rps", "ttft_s_p50", "ttft_s_p99", "slo_attainment"),
}


def load_results(
    path: str | Path,
    kind: str | None = None,
    *,
    table: Table = "summary",
    columns: str | Sequence[str] = "all",
) -> pd.DataFrame:
    """One sweep folder (or explorer session folder) as a typed frame.

    Args:
        path: a results folder, e.g. ``results/quickstart`` (``blaze-lab ls`` lists them).
        kind: keep only this engine kind's rows (``llm``, ``diffusion``, ``router``, ``serving``) and drop the
            columns that are empty for it; None keeps every kind.
        table: ``"summary"`` (one row per run) or ``"raw"`` (one row per measured call / request / step).
        columns: ``"all"``; ``"headline"`` (ids, the config fields that differ between rows, the kind's headline
            metrics with their 95% CI columns); or a list of column names.

    Raises:
        ConfigError: unknown ``kind``, ``table`` or ``columns`` (naming the allowed values).
        ReportError: the folder is not a results folder or a file in it is unreadable.

    Example:
        >>> load_results("results/quickstart", kind="llm").dtypes["llm.batch_size"]  # doctest: +SKIP
        dtype('int64')
    """
    from blaze_lab import kinds
    from blaze_lab.sweep.collect import collect

    if table not in ("summary", "raw"):
        raise ConfigError("table", table, allowed=["summary", "raw"])
    if kind is not None:
        kinds.get(kind)  # ConfigError naming the registered kinds
    summary, raw = collect(path)
    frame = summary if table == "summary" else raw
    if kind is not None and len(frame):
        engine = frame["engine"] if "engine" in frame else pd.Series("", index=frame.index)
        frame = frame[engine == kind].dropna(axis=1, how="all").reset_index(drop=True)
    frame = typed(frame)
    return _columns(frame, columns, kind)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Config columns typed from their config class; other all-bool object columns as bool.

    >>> typed(pd.DataFrame({"llm.torch_compile": [False, True], "llm.batch_size": [1.0, 8.0]})).dtypes.tolist()
    [dtype('bool'), dtype('int64')]
    >>> typed(pd.DataFrame({"llm.batch_size": [1.0, None]}))["llm.batch_size"].dtype
    Int64Dtype()
    """
    out = frame.copy()
    hints = _config_hints()
    for column in out.columns:
        hint = hints.get(column)
        series = out[column]
        values = series.dropna()
        if hint is bool or (hint is None and series.dtype == object and len(values) and _all_bool(values)):
            if _all_bool(values):
                out[column] = series.astype(bool) if len(values) == len(series) else series.astype("boolean")
        elif hint is int and pd.api.types.is_numeric_dtype(series) and (values == values.round()).all():
            out[column] = series.astype("int64") if len(values) == len(series) else series.astype("Int64")
    return out


def select(frame: pd.DataFrame, **where: Any) -> pd.DataFrame:
    """Rows whose columns equal the given values (a list or tuple: any of them). Dotted names go in ``**{...}``.

    >>> f = pd.DataFrame({"router.strategy": ["random", "round_robin"], "latency_s_p50": [0.2, 0.1]})
    >>> select(f, **{"router.strategy": "round_robin"})["latency_s_p50"].tolist()
    [0.1]
    >>> select(f, strategy="random")
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: select: invalid value 'strategy'; unknown column; allowed: router.strategy, ...
    """
    mask = pd.Series(True, index=frame.index)
    for column, wanted in where.items():
        if column not in frame.columns:
            raise ConfigError("select", column, reason="unknown column", allowed=list(frame.columns))
        values = list(wanted) if isinstance(wanted, list | tuple | set) else [wanted]
        mask &= frame[column].isin(values)
    return frame[mask]


def headline_columns(frame: pd.DataFrame, kind: str | None = None) -> list[str]:
    """Ids, the config columns that differ between rows, and the headline metrics (+ CI bounds) present."""
    ids = [c for c in ID_COLUMNS if c in frame.columns]
    config = [c for c in frame.columns if _is_config(c) and frame[c].astype(str).nunique() > 1]
    metrics: list[str] = []
    for name in _metric_names(frame, kind):
        for column in (name, _ci(name, "low"), _ci(name, "high")):
            if column in frame.columns and column not in metrics:
                metrics.append(column)
    return ids + config + metrics


def _columns(frame: pd.DataFrame, columns: str | Sequence[str], kind: str | None) -> pd.DataFrame:
    if isinstance(columns, str):
        if columns not in COLUMN_SETS:
            raise ConfigError("columns", columns, allowed=[*COLUMN_SETS, "[column, ...]"])
        return frame if columns == "all" else frame[headline_columns(frame, kind)]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError("columns", missing[0], reason="unknown column", allowed=list(frame.columns))
    return frame[list(columns)]


def _metric_names(frame: pd.DataFrame, kind: str | None) -> list[str]:
    from blaze_lab.explorer.panels import panels

    shown = panels()
    present = [kind] if kind else list(dict.fromkeys(frame["engine"])) if "engine" in frame else []
    names: list[str] = []
    for name in present:
        if name in shown:
            names += [column for column, _, _ in shown[name].metrics]
        names += list(_HEADLINE_FALLBACK.get(str(name), ()))
    return list(dict.fromkeys(names))


def _ci(column: str, side: str) -> str:
    """``tokens_per_s_mean`` -> ``tokens_per_s_ci_low``; ``latency_s_p50`` -> ``latency_s_median_ci_low``."""
    for suffix, ci in (("_mean", "_ci_"), ("_p50", "_median_ci_")):
        if column.endswith(suffix):
            return column[: -len(suffix)] + ci + side
    return f"{column}_ci_{side}"


def _config_hints() -> dict[str, type]:
    """``<prefix>.<field>`` -> ``bool`` / ``int`` for every registered kind's config fields of exactly that type."""
    from blaze_lab import kinds

    out: dict[str, type] = {}
    for name in kinds.names():
        config = kinds.get(name).config_class()
        hints = get_type_hints(config)
        for field in config.field_names():
            if hints.get(field) in (bool, int):
                out[f"{config.PREFIX}.{field}"] = hints[field]
    return out


def _is_config(column: str) -> bool:
    from blaze_lab import kinds

    prefix, dot, _ = column.partition(".")
    return bool(dot) and prefix in set(kinds.names())


def _all_bool(values: Iterable[Any]) -> bool:
    return all(isinstance(v, bool) or type(v).__name__ == "bool_" for v in values)


__all__ = ["COLUMN_SETS", "headline_columns", "load_results", "select", "typed"]
