"""What is in a results root: the sweeps with their status, date and counts (``blaze-lab ls``), and exporting one
as CSV or JSON (``blaze-lab export``).

A sweep folder is any folder holding a ``manifest.json`` (written by the sweep runner, and by the explorer for
each session it persists), directly under the root or one level deeper (``results/published/<run>``,
``results/explorer/<date>``).

Example:
    >>> table = list_sweeps("results")                                   # doctest: +SKIP
    >>> table[["sweep", "status", "runs", "counts"]]                      # doctest: +SKIP
    >>> export("results/quickstart", "csv", kind="llm")                   # doctest: +SKIP
    PosixPath('results/quickstart/summary-llm.csv')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from blaze_lab.errors import ConfigError, ReportError

FORMATS = ("csv", "json")
LS_COLUMNS = ("sweep", "status", "started", "groups", "runs", "counts", "kinds")


def sweep_folders(root: str | Path) -> list[Path]:
    """Folders under ``root`` (depth 1 or 2) that hold a ``manifest.json``, sorted by path."""
    base = Path(root)
    if not base.is_dir():
        raise ReportError(f"{base}: results folder not found")
    found = {p.parent for pattern in ("*/manifest.json", "*/*/manifest.json") for p in base.glob(pattern)}
    return sorted(p for p in found if not any(part.startswith(".") for part in p.relative_to(base).parts))


def describe(folder: Path, root: Path | None = None) -> dict[str, Any]:
    """One ``ls`` row from a sweep's manifest: status from its groups' states, counts of row statuses.

    ``status``: ``complete`` (every group done), ``errors`` (a group has error rows), ``incomplete`` (groups
    without rows yet: not run, or the sweep was interrupted), ``unreadable`` (a broken manifest).
    """
    from blaze_lab.sweep.collect import load_manifest

    name = str(folder.relative_to(root)) if root is not None else folder.name
    try:
        manifest = load_manifest(folder)
    except ReportError as exc:
        empty = dict.fromkeys(LS_COLUMNS, "")
        return {**empty, "sweep": name, "status": "unreadable", "error": str(exc), "path": str(folder)}
    groups = manifest.get("groups") or {}
    states = [str((g or {}).get("status", "pending")) for g in groups.values()]
    done = sum(s == "done" for s in states)
    if "error" in states:
        status = "errors"
    elif groups and done == len(groups):
        status = "complete"
    else:
        status = "incomplete"
    counts = {str(k): int(v) for k, v in (manifest.get("counts") or {}).items()}
    kinds = sorted({str((g or {}).get("kind", "")) for g in groups.values()} - {""})
    return {
        "sweep": name,
        "status": status,
        "started": _when(manifest.get("started")),
        "groups": f"{done}/{len(groups)}",
        "runs": sum(counts.values()),
        "counts": ", ".join(f"{n} {s}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1])),
        "kinds": ", ".join(kinds),
        "path": str(folder),
    }


def list_sweeps(root: str | Path = "results") -> pd.DataFrame:
    """One row per sweep folder under ``root`` (see :func:`describe`), newest first."""
    base = Path(root)
    rows = [describe(folder, base) for folder in sweep_folders(base)]
    frame = pd.DataFrame(rows, columns=[*LS_COLUMNS, "path"]) if rows else pd.DataFrame(columns=[*LS_COLUMNS, "path"])
    return frame.sort_values("started", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def export(
    results_dir: str | Path,
    fmt: str,
    out: str | Path | None = None,
    *,
    kind: str | None = None,
    table: str = "summary",
    columns: str = "all",
) -> Path:
    """Write a sweep's rows (:func:`blaze_lab.results.load_results`) as CSV or JSON records; returns the file.

    The default file is ``RESULTS_DIR/<table>[-<kind>].<fmt>``. JSON is a list of records (one object per row,
    ISO dates, NaN as null); bytes columns (diffusion thumbnails) are left out of both formats.
    """
    from blaze_lab.results import load_results

    if fmt not in FORMATS:
        raise ConfigError("format", fmt, allowed=FORMATS)
    frame = load_results(results_dir, kind=kind, table=table, columns=columns)  # type: ignore[arg-type]
    frame = frame[[c for c in frame.columns if not _holds_bytes(frame[c])]]
    target = Path(out) if out is not None else Path(results_dir) / f"{table}{f'-{kind}' if kind else ''}.{fmt}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(target, index=False)
    else:
        frame.to_json(target, orient="records", date_format="iso", indent=1)
    return target


def _holds_bytes(column: pd.Series) -> bool:
    values = column.dropna()
    return bool(len(values)) and isinstance(values.iloc[0], bytes | bytearray)


def _when(value: Any) -> str:
    """``2026-11-26T04:44:44+00:00`` -> ``2026-11-26 04:44`` (UTC, as the manifest records it)."""
    if not value:
        return ""
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")
    except (ValueError, TypeError):
        return str(value)


__all__ = ["FORMATS", "LS_COLUMNS", "describe", "export", "list_sweeps", "sweep_folders"]
