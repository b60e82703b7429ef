"""The results folder: layout, atomic writes, the one-writer lock, the manifest and merging a group's rows.

::

    results/<sweep>/manifest.json             spec, env fingerprint, git sha, start/end, counts, groups, history
    results/<sweep>/.lock                     flock held by the sweep writing this folder (pid inside)
    results/<sweep>/<group>/summary.parquet   one row per run; written LAST, it marks the runs complete
    results/<sweep>/<group>/raw.parquet       one row per iteration / request / step
    results/<sweep>/<group>/executed.ipynb    the executed notebook

A run is complete when its group's summary holds a row with its ``run_id``, measured by the current measurement
code, whose outcome the rerun policy trusts (:mod:`blaze_lab.sweep.rerun`: by default ``ok``, ``unsupported`` or
``oom``; ``error`` rows are retried). Every file of a group is first written in full to a temporary name, then the
temporaries are renamed (``os.replace``) raw first, summary last, so ``kill -9`` at any moment leaves either the
previous complete files or the new complete ones, and rows a rerun trusts always have their raw rows.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> atomic_write(folder / "x.txt", b"whole or nothing")
    >>> (folder / "x.txt").read_bytes(), sorted(p.name for p in folder.iterdir())
    (b'whole or nothing', ['x.txt'])
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from blaze_lab.config import BaseConfig
from blaze_lab.errors import SweepError
from blaze_lab.sweep import rerun
from blaze_lab.sweep.collect import EXECUTED, MANIFEST, RAW, SUMMARY, read_frame
from blaze_lab.sweep.executor import GroupOutput, failure_status
from blaze_lab.sweep.plan import Group, Run
from blaze_lab.sweep.rerun import CODE_COLUMN, Rerun
from blaze_lab.sweep.spec import ExperimentSpec

COMPLETE_STATUSES = frozenset({"ok", "unsupported", "oom"})
LOCK = ".lock"


def run_verdicts(folder: Path, group: Group, policy: Rerun | bool = True, code: str | None = None) -> dict[str, str]:
    """run id -> what a resume does with it (:func:`blaze_lab.sweep.rerun.verdicts`: ``complete`` or why not).

    ``policy`` True/False is ``Rerun(retry_errors=policy)``; ``code`` defaults to this interpreter's
    :func:`~blaze_lab.sweep.rerun.code_fingerprint`."""
    if isinstance(policy, bool):
        policy = Rerun(retry_errors=policy)
    try:
        summary = read_frame(folder / SUMMARY)
    except Exception:  # an unreadable summary is not trusted: the whole group runs again and rewrites it
        summary = pd.DataFrame()
    return rerun.verdicts(summary, group.run_ids, policy, code or rerun.code_fingerprint())


def complete_ids(folder: Path, group: Group, policy: Rerun | bool = True, code: str | None = None) -> set[str]:
    """Run ids of ``group`` whose results a rerun can trust (see :func:`run_verdicts`)."""
    return {r for r, v in run_verdicts(folder, group, policy, code).items() if v == rerun.COMPLETE}


def store_output(
    folder: Path,
    sweep: str,
    group: Group,
    todo: Sequence[Run],
    output: GroupOutput,
    env: Mapping[str, Any],
    code: str | None = None,
) -> str | None:
    """Merge one execution's rows into the group's files (raw, notebook, then summary: the completion mark).

    The new rows replace the stored rows of the runs in ``todo`` and carry ``code`` (default: this interpreter's
    :func:`~blaze_lab.sweep.rerun.code_fingerprint`) in :data:`~blaze_lab.sweep.rerun.CODE_COLUMN`.
    Returns the execution's error text (None when the notebook ran to its end)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {r.run_id for r in group.runs}
    replaced = {r.run_id for r in todo}
    new_summary, new_raw, read_error = _read_output(output)
    scrub = secret_scrubber(group)
    error = output.error or read_error
    error = scrub(error) if error is not None else None
    if "error" in new_summary.columns:  # an engine's error text may quote a connection URL
        new_summary["error"] = [scrub(v) if isinstance(v, str) else v for v in new_summary["error"]]
    if not new_summary.empty and "run_id" in new_summary.columns:
        new_summary = new_summary[new_summary["run_id"].isin(replaced)].drop_duplicates("run_id", keep="last")
    else:
        new_summary = pd.DataFrame()
    got = set(new_summary["run_id"]) if not new_summary.empty else set()
    missing = [r for r in todo if r.run_id not in got]
    if missing:
        reason = error or "the notebook wrote no summary row for this run"
        new_summary = _concat([new_summary, failure_rows(missing, reason, sweep, group.group_id, env)])
    if not new_raw.empty and "run_id" in new_raw.columns:
        new_raw = new_raw[new_raw["run_id"].isin(replaced)]
    for frame in (new_summary, new_raw):  # which execution of the group produced the rows
        if not frame.empty:
            frame["replication"] = group.replication
    if not new_summary.empty:  # which measurement code produced them (checked on resume)
        new_summary[CODE_COLUMN] = code or rerun.code_fingerprint()

    old_summary = read_or_empty(folder / SUMMARY)
    old_raw = read_or_empty(folder / RAW)
    summary = _concat([_keep(old_summary, wanted, replaced), new_summary])
    raw = _concat([_keep(old_raw, wanted, replaced), new_raw])
    files = [(folder / RAW, _parquet_bytes(raw))]
    if output.notebook is not None:
        files.append((folder / EXECUTED, scrub(output.notebook.decode("utf-8", "replace")).encode()))
    files.append((folder / SUMMARY, _parquet_bytes(summary)))
    atomic_write_all(files)
    return error


def secret_scrubber(group: Group) -> Callable[[str], str]:
    """A function hiding every credential of the group's configs (and any URL's password) in free text.

    Configs hold credentials as :class:`~blaze_lab.secrets.Secret` (parameters and rows only ever carry
    ``{"env": NAME}`` or the redacted form); what the driver writes from free text — error messages, the executed
    notebook's outputs — passes through this too, so a library that quotes its connection URL cannot leak it.
    """
    from blaze_lab.secrets import Secret, redact_text

    secrets: list[Secret] = []
    for config in [*(r.config for r in group.runs), group.reference]:
        for name in getattr(config, "SECRET_FIELDS", {}):
            value = getattr(config, name, None)
            if isinstance(value, Secret) and value not in secrets:
                secrets.append(value)

    def scrub(text: str) -> str:
        for secret in secrets:
            text = secret.scrub(text)
        return redact_text(text)

    return scrub


def group_state(folder: Path, group: Group, error: str | None = None) -> dict[str, Any]:
    """A group's manifest entry from its files: ``pending`` (runs without rows), ``error`` (error rows) or ``done``."""
    frame = read_or_empty(folder / SUMMARY)
    counts: dict[str, int] = {}
    if not frame.empty and "status" in frame.columns:
        frame = frame[frame["run_id"].isin(set(group.run_ids))]
        counts = {str(k): int(v) for k, v in frame["status"].value_counts().items()}
    if sum(counts.values()) < len(group.runs):
        status = "pending"
    elif any(k not in COMPLETE_STATUSES for k in counts):
        status = "error"
    else:
        status = "done"
    return {"status": status, "counts": counts, "error": error}


def history(root: Path) -> list[dict[str, Any]]:
    """Earlier invocations of this sweep (from the manifest being replaced): when, what ran, counts after."""
    try:
        old = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return []
    entry = {k: old.get(k) for k in ("started", "ended", "git_sha", "executed", "counts")}
    return [*old.get("history", []), entry]


def failure_rows(runs: Sequence[Run], error: str, sweep: str, group: str, env: Mapping[str, Any]) -> pd.DataFrame:
    """Summary rows for runs that produced none: config columns, ``status`` (error/oom) and the error text."""
    status = failure_status(error)
    rows = []
    for run in runs:
        config: BaseConfig = run.config
        rows.append(
            {
                "run_id": run.run_id,
                "sweep": sweep,
                "group": group,
                "config_hash": config.config_hash(),
                "engine": run.kind,
                **config.flat(),
                "status": status,
                "error": error,
                **env,
            }
        )
    return pd.DataFrame(rows)


def _read_output(output: GroupOutput) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    frames = []
    for name, data in ((SUMMARY, output.summary), (RAW, output.raw)):
        if data is None:
            frames.append(pd.DataFrame())
            continue
        try:
            frames.append(pd.read_parquet(io.BytesIO(data)))
        except Exception as exc:  # a half-written file from a dying kernel: its rows are not trusted
            return pd.DataFrame(), pd.DataFrame(), f"unreadable {name} from the notebook ({type(exc).__name__})"
    return frames[0], frames[1], None


def read_or_empty(path: Path) -> pd.DataFrame:
    try:
        return read_frame(path)
    except Exception:  # unreadable old results are dropped (their runs were not counted complete either)
        return pd.DataFrame()


def _keep(frame: pd.DataFrame, wanted: set[str], replaced: set[str]) -> pd.DataFrame:
    """Old rows still valid: runs of the current spec that this execution did not redo."""
    if frame.empty or "run_id" not in frame.columns:
        return pd.DataFrame()
    return frame[frame["run_id"].isin(wanted) & ~frame["run_id"].isin(replaced)]


def _concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({"run_id": pd.Series(dtype="str")})
    return pd.concat(frames, ignore_index=True, sort=False)


def counts_by_status(root: Path, plan: Sequence[Group]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for group in plan:
        frame = read_or_empty(root / group.group_id / SUMMARY)
        if frame.empty or "status" not in frame.columns:
            continue
        frame = frame[frame["run_id"].isin(set(group.run_ids))]
        for status, n in frame["status"].value_counts().items():
            counts[str(status)] = counts.get(str(status), 0) + int(n)
    return dict(sorted(counts.items()))


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a partial one.

    The temporary name starts with "." and carries the pid, so collect() never reads it and a rerun removes it.
    (fsync before the rename: a rename can otherwise reach the disk before the data after a power loss.)
    """
    atomic_write_all([(path, data)])


def atomic_write_all(files: Sequence[tuple[Path, bytes]]) -> None:
    """:func:`atomic_write` for several files: every temporary is written in full first, then all are renamed in
    order, so an interruption while writing (the slow part) leaves every old file in place."""
    staged = []
    for path, data in files:
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        staged.append((tmp, path))
    for tmp, path in staged:
        os.replace(tmp, path)


@contextlib.contextmanager
def exclusive(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``root/.lock`` for the sweep: one writer per results folder.

    ``flock`` locks die with their process, so a ``kill -9``'d sweep never leaves a stale lock behind.
    """
    import fcntl

    with open(root / LOCK, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise SweepError(f"{root}: another sweep (pid {holder}) is writing this results folder") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield


def remove_stale_temporaries(root: Path, plan: Sequence[Group]) -> None:
    for folder in [root, *(root / g.group_id for g in plan)]:
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp-*"):
                tmp.unlink(missing_ok=True)


def new_manifest(
    spec: ExperimentSpec,
    root: Path,
    plan: Sequence[Group],
    env: Mapping[str, Any],
    executor: str,
    kernel_name: str,
    started: float,
) -> dict[str, Any]:
    """The manifest a sweep starts with (``ended`` stays None until it finishes): state read from the files."""
    from blaze_lab.env import git_sha

    timings = _timings(root)
    return {
        "sweep": spec.name,
        "spec_path": spec.source,
        "spec": _jsonable(spec.data),
        "git_sha": git_sha(),
        "env": env,
        "executor": executor,
        "kernel_name": kernel_name,
        "started": iso(started),
        "ended": None,
        "counts": counts_by_status(root, plan),
        "executed": [],
        "groups": {
            g.group_id: {
                "kind": g.kind,
                "part": g.part,
                "notebook": str(g.notebook),
                "run_ids": g.run_ids,
                **group_state(root / g.group_id, g),
                **timings.get(g.group_id, {}),
            }
            for g in plan
        },
        "history": history(root),
    }


def _timings(root: Path) -> dict[str, dict[str, Any]]:
    """Group id -> the last measured wall time of its execution (``seconds``, for ``measured`` runs) from the
    manifest being replaced: ``--dry-run`` estimates and the progress bar use them."""
    try:
        groups = json.loads((root / MANIFEST).read_text()).get("groups", {})
    except (OSError, ValueError, AttributeError):
        return {}
    keys = ("seconds", "measured")
    return {
        gid: {k: entry[k] for k in keys}
        for gid, entry in groups.items()
        if isinstance(entry, dict) and all(k in entry for k in keys)
    }


def write_manifest(root: Path, manifest: Mapping[str, Any]) -> None:
    atomic_write(root / MANIFEST, json.dumps(manifest, indent=2, default=str).encode())


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _jsonable(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str))


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")


__all__ = [
    "COMPLETE_STATUSES",
    "LOCK",
    "atomic_write",
    "atomic_write_all",
    "complete_ids",
    "counts_by_status",
    "exclusive",
    "failure_rows",
    "group_state",
    "history",
    "iso",
    "new_manifest",
    "read_or_empty",
    "remove_stale_temporaries",
    "run_verdicts",
    "secret_scrubber",
    "store_output",
    "write_manifest",
]
