"""Measure one load-time group inside a notebook kernel: dispatch to the engine kind's ``benchmark_group``.

Each benchmark notebook calls exactly this (the notebook contract in docs/architecture.md)::

    from blaze_lab.sweep.group import run_group
    summary, raw = run_group("llm", runs, reference=reference, measure=measure, sweep=sweep, group=group)

The engine module is imported only when its kind is used, so a diffusion sweep never imports the LLM stack.

Example:
    >>> summary, raw = run_group("llm", [{"run_id": "r1", "config": {"model": "random:tiny-llama"}}])  # doctest: +SKIP
    >>> summary[["run_id", "status"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from blaze_lab import kinds
from blaze_lab.errors import ConfigError, SweepError


def group_function(kind: str) -> Callable[..., tuple[pd.DataFrame, pd.DataFrame]]:
    """The group function :mod:`blaze_lab.kinds` registers for ``kind`` (imported on first use)."""
    try:
        return kinds.get(kind).group_function()
    except ConfigError as exc:
        if kind not in kinds.KINDS:
            raise
        raise SweepError(f"engine kind {kind!r} is not available ({exc.reason})") from None


def run_group(
    kind: str,
    runs: Sequence[Mapping[str, Any]],
    reference: Mapping[str, Any] | None = None,
    measure: Mapping[str, Any] | None = None,
    sweep: str = "adhoc",
    group: str = "g0",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure ``runs`` (``[{"run_id": ..., "config": {...}}]``) of one load-time group; returns (summary, raw).

    Adds the common columns ``sweep``, ``group`` and ``run_id`` where the engine left them out (``run_id`` only
    when the summary has one row per run, in order; otherwise rows could not be matched to runs).
    """
    for i, run in enumerate(runs):
        if not isinstance(run, Mapping) or "run_id" not in run or "config" not in run:
            raise ConfigError(f"runs[{i}]", run, reason="must be a mapping with 'run_id' and 'config'")
    benchmark = group_function(kind)
    summary, raw = benchmark(list(runs), reference=reference, measure=dict(measure or {}), sweep=sweep, group=group)
    return _with_common(summary, runs, sweep, group, "summary"), _with_common(raw, runs, sweep, group, "raw")


def _with_common(
    frame: pd.DataFrame, runs: Sequence[Mapping[str, Any]], sweep: str, group: str, which: str
) -> pd.DataFrame:
    frame = frame.copy()
    if "run_id" not in frame.columns:
        if which == "summary" and len(frame) == len(runs):
            frame.insert(0, "run_id", [str(run["run_id"]) for run in runs])
        elif len(frame):
            raise SweepError(f"{which} frame has no run_id column and {len(frame)} rows for {len(runs)} runs")
        else:
            frame["run_id"] = pd.Series(dtype="str")
    for name, value in (("sweep", sweep), ("group", group)):
        if name not in frame.columns:
            frame[name] = value
    return frame


__all__ = ["group_function", "run_group"]
