"""Read a sweep's results back: every group's parquet concatenated into one summary and one raw frame.

Layout written by :mod:`blaze_lab.sweep.store`::

    results/<sweep>/manifest.json
    results/<sweep>/<group>/summary.parquet   one row per run (config)
    results/<sweep>/<group>/raw.parquet       one row per iteration / request / step
    results/<sweep>/<group>/executed.ipynb

Only the final names are read: temporary files (``.summary.parquet.tmp-123``) that a killed sweep may leave are
never trusted. When a manifest exists, only the groups it lists are read (a group dropped from the spec keeps its
old folder but is no longer part of the sweep).

Example:
    >>> summary, raw = collect("results/quickstart")  # doctest: +SKIP
    >>> summary.groupby("status").size()  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from blaze_lab.errors import ReportError

MANIFEST = "manifest.json"
SUMMARY = "summary.parquet"
RAW = "raw.parquet"
EXECUTED = "executed.ipynb"


def load_manifest(results_dir: str | Path) -> dict[str, Any]:
    """The sweep's manifest (spec, env fingerprint, git sha, start/end, counts, groups)."""
    path = Path(results_dir) / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportError(f"{path}: no manifest (not a sweep results folder?)") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: manifest is not a JSON object")
    return data


def group_dirs(results_dir: str | Path) -> list[Path]:
    """The group folders of a sweep: the manifest's groups in order, else every folder holding a summary."""
    root = Path(results_dir)
    if not root.is_dir():
        raise ReportError(f"{root}: results folder not found")
    if (root / MANIFEST).exists():
        names = list(load_manifest(root).get("groups", {}))
        return [root / name for name in names]
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / SUMMARY).exists())


def read_frame(path: Path) -> pd.DataFrame:
    """One parquet file, or an empty frame when it does not exist (a group that has not run yet)."""
    if not path.exists():
        return pd.DataFrame()
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file; all mean "unreadable"
        raise ReportError(f"{path}: unreadable parquet ({type(exc).__name__}: {exc})") from None


def collect(results_dir: str | Path, combine: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All groups' (summary, raw) rows concatenated; empty frames when nothing has been measured yet.

    A sweep run with replications has one summary row per run and replication; ``combine`` (default) merges them
    into one row per run with the between-replication CI (:mod:`blaze_lab.sweep.replications`); raw rows keep
    their ``replication`` column.

    With a manifest, rows are limited to the run ids it lists per group: rows of an older spec or code version
    that a group's folder still holds (until that group runs again) are not part of the sweep.
    """
    root = Path(results_dir)
    listed = load_manifest(root).get("groups", {}) if (root / MANIFEST).exists() else {}
    summaries, raws = [], []
    for folder in group_dirs(root):
        run_ids = (listed.get(folder.name) or {}).get("run_ids")
        summaries.append(_only(read_frame(folder / SUMMARY), run_ids))
        raws.append(_only(read_frame(folder / RAW), run_ids))
    summary, raw = _concat(summaries), _concat(raws)
    if not combine:
        return summary, raw
    from blaze_lab.sweep.replications import combine_replications

    return combine_replications(summary, raw), raw


def _only(frame: pd.DataFrame, run_ids: list[str] | None) -> pd.DataFrame:
    if run_ids is None or frame.empty or "run_id" not in frame.columns:
        return frame
    return frame[frame["run_id"].isin(set(run_ids))]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    # .copy() consolidates the blocks: concatenating frames of different kinds leaves one block per column,
    # and every later column assignment in the report would then warn about fragmentation.
    return pd.concat(frames, ignore_index=True, sort=False).copy()


__all__ = ["EXECUTED", "MANIFEST", "RAW", "SUMMARY", "collect", "group_dirs", "load_manifest", "read_frame"]
