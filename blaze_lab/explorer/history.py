"""The explorer's results on disk: every session's runs survive a kernel restart and can be reloaded.

Each explorer session writes one folder, laid out like a sweep (so ``blaze-lab ls``, ``blaze-lab export`` and
:func:`blaze_lab.load_results` read it as one)::

    results/explorer/<YYYY-MM-DDTHH-MM-SS>/manifest.json          runs, their configs, measurement settings
    results/explorer/<YYYY-MM-DDTHH-MM-SS>/<kind>/summary.parquet  one row per run of that engine kind

Files are replaced atomically after every run (a reader sees the previous state or the new one). The results root
is ``results/`` in the repository, or ``$BLAZE_LAB_RESULTS`` when set.

Example:
    >>> history("/nonexistent").empty
    True
    >>> session = ExplorerSession.load("results/explorer/2026-12-02T22-15-03")   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from blaze_lab.config import BaseConfig
from blaze_lab.errors import ReportError

RESULTS_ENV = "BLAZE_LAB_RESULTS"
FOLDER = "explorer"
STAMP = "%Y-%m-%dT%H-%M-%S"


def results_root() -> Path:
    """``$BLAZE_LAB_RESULTS`` or the repository's ``results/`` folder."""
    env = os.environ.get(RESULTS_ENV)
    if env:
        return Path(env).expanduser()
    import blaze_lab

    return Path(blaze_lab.__file__).resolve().parent.parent / "results"


def explorer_root(root: str | Path | None = None) -> Path:
    return Path(root) / FOLDER if root is not None else results_root() / FOLDER


def history(root: str | Path | None = None) -> pd.DataFrame:
    """Saved explorer sessions, newest first: ``sweep`` (folder name), ``started``, ``runs``, ``counts``,
    ``kinds``, ``path`` (what :meth:`ExplorerSession.load` takes)."""
    from blaze_lab.catalog import describe

    base = explorer_root(root)
    folders = sorted((p for p in base.glob("*/manifest.json")), reverse=True) if base.is_dir() else []
    rows = [describe(p.parent) for p in folders]
    columns = ["sweep", "started", "runs", "counts", "kinds", "path"]
    return pd.DataFrame(rows).reindex(columns=columns) if rows else pd.DataFrame(columns=columns)


class SessionStore:
    """One explorer session's folder: :meth:`save` after each run, :meth:`load` to read it back."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @classmethod
    def create(cls, root: str | Path | None = None, now: datetime | None = None) -> SessionStore:
        """A new, not yet existing folder under ``<root>/explorer/`` named by the UTC start time."""
        when = now or datetime.now(UTC)
        base = explorer_root(root)
        folder = base / when.strftime(STAMP)
        n = 2
        while folder.exists():  # two sessions started in the same second
            folder = base / f"{when.strftime(STAMP)}-{n}"
            n += 1
        return cls(folder)

    def save(self, results: pd.DataFrame, configs: Mapping[str, BaseConfig], measure: Mapping[str, Any]) -> None:
        """Write every run so far (one parquet per kind) and the manifest that lists them."""
        if not len(results):
            return
        groups: dict[str, Any] = {}
        for kind, rows in results.groupby("engine", sort=False):
            folder = self.folder / str(kind)
            folder.mkdir(parents=True, exist_ok=True)
            _atomic(folder / "summary.parquet", rows.reset_index(drop=True).to_parquet())
            groups[str(kind)] = {"kind": str(kind), "run_ids": rows["run_id"].tolist(), "status": "done"}
        counts = {str(k): int(v) for k, v in results["status"].value_counts().items()}
        previous = self._manifest()
        manifest = {
            "sweep": f"{FOLDER}-{self.folder.name}",
            "source": "blaze_lab explorer (notebooks/explore.ipynb)",
            "started": previous.get("started") or datetime.now(UTC).isoformat(timespec="seconds"),
            "ended": datetime.now(UTC).isoformat(timespec="seconds"),
            "counts": counts,
            "groups": groups,
            "measure": dict(measure),
            "runs": {run: {"kind": cfg.PREFIX, "config": cfg.to_dict()} for run, cfg in configs.items()},
        }
        _atomic(self.folder / "manifest.json", json.dumps(manifest, indent=1, default=str).encode())

    def load(self) -> tuple[pd.DataFrame, dict[str, BaseConfig], dict[str, Any]]:
        """(results in run order, run -> config, measurement settings) as saved."""
        from blaze_lab.explorer.panels import panels
        from blaze_lab.sweep.collect import collect

        manifest = self._manifest()
        if not manifest:
            raise ReportError(f"{self.folder}: not a saved explorer session (no manifest.json)")
        summary, _ = collect(self.folder)
        order = list(manifest.get("runs", {}))
        if len(summary):
            summary = summary.assign(_order=summary["run"].map({r: i for i, r in enumerate(order)}))
            summary = summary.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
        configs = {
            run: panels()[entry["kind"]].config.from_dict(entry["config"])
            for run, entry in manifest.get("runs", {}).items()
        }
        return summary, configs, dict(manifest.get("measure") or {})

    def _manifest(self) -> dict[str, Any]:
        path = self.folder / "manifest.json"
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ReportError(f"{path}: unreadable ({exc})") from None
        return data if isinstance(data, dict) else {}


def _atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never a partial one (hidden temp name, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


__all__ = ["RESULTS_ENV", "SessionStore", "explorer_root", "history", "results_root"]
