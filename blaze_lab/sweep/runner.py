"""Run a sweep: one papermill execution per load-time group, results written atomically, resumable.

::

    results/<sweep>/manifest.json             spec, env fingerprint, git sha, start/end, counts, groups
    results/<sweep>/<group>/summary.parquet   one row per run; written LAST, it marks the runs complete
    results/<sweep>/<group>/raw.parquet
    results/<sweep>/<group>/executed.ipynb

**Executors.** The driver (:func:`run_sweep`) turns each group into a :class:`GroupTask` and hands the tasks to an
:class:`Executor`, which yields one :class:`GroupOutput` (the produced files as bytes, or the error) per task, in
any order. The driver alone writes files, so an executor on another machine (``RayExecutor``) only has to run
:func:`execute_group` remotely and ship its output back. Executors are looked up by name in :data:`EXECUTORS`.

**Failure isolation.** A notebook that raises gives ``status="error"`` rows (``"oom"`` when the error says out of
memory) carrying the error text, for every run of its group the notebook produced no row for; a kernel that dies
gives ``status="error"``, ``error="kernel died ..."``. The sweep goes on with the next group.

**Resume.** A run is complete when its group's summary holds a row with its ``run_id`` and status ``ok``,
``unsupported`` or ``oom`` (a deterministic outcome). ``error`` rows are recomputed on the next run (transient
failures such as a killed kernel deserve a retry) unless ``retry_errors=False``. A group with some runs complete
runs only the missing ones; the new rows replace that group's old rows for those runs (no duplicates). Every file is
written to a temporary name and renamed (``os.replace``), raw before summary, so ``kill -9`` at any moment leaves
either the previous complete file or the new complete one, and rows a rerun trusts always have their raw rows.

Example:
    >>> result = run_sweep("experiments/quickstart.yaml")  # doctest: +SKIP
    >>> result.counts  # doctest: +SKIP
    {'ok': 8, 'unsupported': 2}
    >>> summary, raw = result.frames()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from blaze_lab.clock import Clock, RealClock
from blaze_lab.config import BaseConfig
from blaze_lab.errors import ConfigError, SweepError
from blaze_lab.sweep.collect import EXECUTED, MANIFEST, RAW, SUMMARY, collect, read_frame
from blaze_lab.sweep.spec import ExperimentSpec, Group, Run, check_notebook, expand, groups, load_spec

# ipykernel's own kernelspec: present wherever ipykernel is installed, and it runs this interpreter (jupyter_client
# substitutes sys.executable for "python"). The Makefile's "blaze-lab" kernelspec exists only after `make setup`.
DEFAULT_KERNEL = "python3"
COMPLETE_STATUSES = frozenset({"ok", "unsupported", "oom"})
LOCK = ".lock"
_ERROR_TEXT_MAX = 4000


# -- executor seam --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GroupTask:
    """Everything needed to execute one group's notebook, anywhere (plain, picklable values)."""

    sweep: str
    group: str
    kind: str
    notebook: str
    parameters: Mapping[str, Any]  # the contract's parameters except summary_path/raw_path (the executor sets them)
    run_ids: tuple[str, ...]
    kernel_name: str = DEFAULT_KERNEL
    cwd: str | None = None
    cell_timeout_s: float | None = None


@dataclasses.dataclass(frozen=True)
class GroupOutput:
    """What one execution produced: file contents (None when not written) and the error text (None: success)."""

    group: str
    summary: bytes | None
    raw: bytes | None
    notebook: bytes | None
    error: str | None = None


@runtime_checkable
class Executor(Protocol):
    """Runs group tasks and yields their outputs (in any order); never raises for a failing notebook."""

    name: str

    def check(self, tasks: Sequence[GroupTask]) -> None:
        """Raise SweepError/ConfigError before anything runs if the tasks cannot run here (no kernel, no cluster)."""
        ...

    def run(
        self, tasks: Sequence[GroupTask], on_start: Callable[[GroupTask], None] | None = None
    ) -> Iterator[GroupOutput]: ...


class LocalExecutor:
    """Runs the groups one after another in this machine's kernels (one model in memory at a time)."""

    name = "local"

    def __init__(self, address: str | None = None) -> None:
        if address is not None:
            raise ConfigError("address", address, reason="only the 'ray' executor takes an address")

    def check(self, tasks: Sequence[GroupTask]) -> None:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

        manager = KernelSpecManager()
        for name in sorted({task.kernel_name for task in tasks}):
            try:
                manager.get_kernel_spec(name)
            except NoSuchKernel:
                raise ConfigError("kernel_name", name, allowed=sorted(manager.find_kernel_specs())) from None

    def run(
        self, tasks: Sequence[GroupTask], on_start: Callable[[GroupTask], None] | None = None
    ) -> Iterator[GroupOutput]:
        for task in tasks:
            if on_start is not None:
                on_start(task)
            yield execute_group(task)


# name -> class or "module:Class" (imported lazily: ray is heavy and optional).
EXECUTORS: dict[str, str | type] = {
    "local": LocalExecutor,
    "ray": "blaze_lab.sweep.ray_executor:RayExecutor",
}


def make_executor(name: str, address: str | None = None) -> Executor:
    """An executor by registry name (``address`` is the cluster address for ``ray``)."""
    target = EXECUTORS.get(name)
    if target is None:
        raise ConfigError("executor", name, allowed=sorted(EXECUTORS))
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise SweepError(f"executor {name!r} is not available ({exc})") from None
    return target(address=address)  # type: ignore[no-any-return,operator]


def execute_group(task: GroupTask) -> GroupOutput:
    """Execute one group's notebook with papermill in a scratch folder and return what it wrote.

    Never raises for a failing notebook: a cell error, a dead kernel or a timeout is returned as ``error`` text,
    with whatever files the notebook wrote before it failed (a failing plot cell must not discard measurements).
    """
    import papermill
    from traitlets.config import Config

    with tempfile.TemporaryDirectory(prefix=f"blaze-{task.group}-") as scratch:
        out = Path(scratch)
        parameters = {
            **task.parameters,
            "summary_path": str(out / SUMMARY),
            "raw_path": str(out / RAW),
        }
        error = None
        try:
            papermill.execute_notebook(
                task.notebook,
                str(out / EXECUTED),
                parameters=parameters,
                kernel_name=task.kernel_name,
                cwd=task.cwd,
                progress_bar=False,
                execution_timeout=task.cell_timeout_s,
                # Curve-encrypt the kernel's sockets (the kernelspec supports it); also silences ipykernel's
                # "running over TCP without encryption" warning on every group.
                config=Config({"AsyncKernelManager": {"transport_encryption": "auto"}}),
            )
        except Exception as exc:  # failure isolation: every failure becomes error rows, the sweep goes on
            error = describe_failure(exc)

        def read(name: str) -> bytes | None:
            path = out / name
            return path.read_bytes() if path.exists() else None

        return GroupOutput(task.group, read(SUMMARY), read(RAW), read(EXECUTED), error)


def describe_failure(exc: BaseException) -> str:
    """One readable line for a failed execution (the notebook's exception, a dead kernel, a timeout ...)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        text = f"{exc.ename}: {exc.evalue} (notebook cell {exc.exec_count})"
    elif isinstance(exc, DeadKernelError):
        text = f"kernel died ({exc})"
    elif isinstance(exc, CellTimeoutError):
        text = f"cell timed out ({str(exc).splitlines()[0] if str(exc) else 'no detail'})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text[:_ERROR_TEXT_MAX]


def failure_status(error: str) -> str:
    """``oom`` when the error text says out of memory, else ``error``."""
    lowered = error.lower()
    return "oom" if "out of memory" in lowered or "outofmemoryerror" in lowered else "error"


# -- the driver -----------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """Where a sweep's results are and what happened (``executed``/``skipped``: group ids)."""

    name: str
    results_dir: Path
    counts: Mapping[str, int]
    executed: tuple[str, ...]
    skipped: tuple[str, ...]
    manifest: Mapping[str, Any]

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(summary, raw) of the whole sweep."""
        return collect(self.results_dir)


def run_sweep(
    spec: str | os.PathLike[str] | ExperimentSpec,
    results_root: str | os.PathLike[str] = "results",
    executor: str | Executor = "local",
    address: str | None = None,
    kernel_name: str = DEFAULT_KERNEL,
    retry_errors: bool = True,
    progress: bool = True,
    cell_timeout_s: float | None = None,
    clock: Clock | None = None,
) -> SweepResult:
    """Run (or resume) every group of a spec; returns counts by status and the results folder.

    Everything is validated before the first write: the spec (when given as a path), each notebook's parameters,
    the executor and its kernel.

    Example:
        >>> result = run_sweep("experiments/quickstart.yaml", results_root="results")  # doctest: +SKIP
        >>> result.results_dir  # doctest: +SKIP
        PosixPath('results/quickstart')
    """
    clock = clock or RealClock()
    if not isinstance(spec, ExperimentSpec):
        spec = load_spec(Path(spec))
    else:
        for part in spec.parts:
            check_notebook(part.notebook, part.field_path("notebook"))
    runs = expand(spec)
    plan = groups(runs)
    exe = make_executor(executor, address) if isinstance(executor, str) else executor
    root = Path(results_root) / spec.name
    done = {g.group_id: _complete_ids(root / g.group_id, g, retry_errors) for g in plan}
    tasks = [_task(spec.name, g, done[g.group_id], kernel_name, cell_timeout_s) for g in plan]
    tasks = [t for t in tasks if t.run_ids]
    exe.check(tasks)

    from blaze_lab.env import fingerprint

    env = fingerprint()
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root):
        # Recomputed under the lock: a sweep that held it until now may have completed runs meanwhile.
        done = {g.group_id: _complete_ids(root / g.group_id, g, retry_errors) for g in plan}
        tasks = [_task(spec.name, g, done[g.group_id], kernel_name, cell_timeout_s) for g in plan]
        tasks = [t for t in tasks if t.run_ids]
        return _run_locked(spec, root, runs, plan, done, tasks, exe, env, kernel_name, progress, clock)


def _run_locked(
    spec: ExperimentSpec,
    root: Path,
    runs: Sequence[Run],
    plan: Sequence[Group],
    done: Mapping[str, set[str]],
    tasks: Sequence[GroupTask],
    exe: Executor,
    env: Mapping[str, Any],
    kernel_name: str,
    progress: bool,
    clock: Clock,
) -> SweepResult:
    from tqdm.auto import tqdm

    from blaze_lab.env import git_sha

    _remove_stale_temporaries(root, plan)
    manifest: dict[str, Any] = {
        "sweep": spec.name,
        "spec_path": spec.source,
        "spec": _jsonable(spec.data),
        "git_sha": git_sha(),
        "env": env,
        "executor": exe.name,
        "kernel_name": kernel_name,
        "started": _iso(clock.wall()),
        "ended": None,
        "counts": _counts(root, plan),
        "executed": [],
        "groups": {
            g.group_id: {
                "kind": g.kind,
                "part": g.part,
                "notebook": str(g.notebook),
                "run_ids": g.run_ids,
                **_group_state(root / g.group_id, g),
            }
            for g in plan
        },
        "history": _history(root),
    }
    _write_manifest(root, manifest)

    by_id = {g.group_id: g for g in plan}
    executed: list[str] = []
    bar = tqdm(
        total=len(runs),
        initial=sum(len(ids) for ids in done.values()),
        unit="run",
        desc=spec.name,
        disable=not progress,
    )
    try:
        for output in exe.run(tasks, on_start=lambda t: bar.set_postfix_str(t.group, refresh=True)):
            group = by_id[output.group]
            todo = [r for r in group.runs if r.run_id not in done[group.group_id]]
            error = _store(root / group.group_id, spec.name, group, todo, output, env)
            executed.append(group.group_id)
            manifest["groups"][group.group_id].update(_group_state(root / group.group_id, group, error))
            manifest["counts"] = _counts(root, plan)
            manifest["executed"] = list(executed)
            _write_manifest(root, manifest)
            bar.update(len(todo))
    finally:
        bar.close()
    manifest["counts"] = _counts(root, plan)
    manifest["ended"] = _iso(clock.wall())
    _write_manifest(root, manifest)
    skipped = tuple(g.group_id for g in plan if g.group_id not in executed)
    return SweepResult(spec.name, root, dict(manifest["counts"]), tuple(executed), skipped, manifest)


def completed_runs(
    spec: ExperimentSpec, plan: Sequence[Group], results_root: str | os.PathLike[str], retry_errors: bool = True
) -> set[str]:
    """Run ids whose results already exist and are trusted (what a rerun skips); reads only, writes nothing."""
    root = Path(results_root) / spec.name
    return set().union(*(_complete_ids(root / g.group_id, g, retry_errors) for g in plan))


def _task(sweep: str, group: Group, done: set[str], kernel_name: str, cell_timeout_s: float | None) -> GroupTask:
    todo = [r for r in group.runs if r.run_id not in done]
    return GroupTask(
        sweep=sweep,
        group=group.group_id,
        kind=group.kind,
        notebook=str(group.notebook),
        parameters={
            "sweep": sweep,
            "group": group.group_id,
            "runs": [r.params() for r in todo],
            "reference": _plain(group.reference),
            "measure": dict(group.measure),
        },
        run_ids=tuple(r.run_id for r in todo),
        kernel_name=kernel_name,
        cwd=os.getcwd(),
        cell_timeout_s=cell_timeout_s,
    )


def _complete_ids(folder: Path, group: Group, retry_errors: bool) -> set[str]:
    """Run ids of ``group`` whose results a rerun can trust."""
    try:
        summary = read_frame(folder / SUMMARY)
    except Exception:  # an unreadable summary is not trusted: the whole group runs again and rewrites it
        return set()
    if summary.empty or "run_id" not in summary.columns or "status" not in summary.columns:
        return set()
    trusted = set(COMPLETE_STATUSES) | (set() if retry_errors else {"error"})
    wanted = set(group.run_ids)
    rows = summary[summary["status"].isin(trusted) & summary["run_id"].isin(wanted)]
    return set(rows["run_id"].astype(str))


def _store(
    folder: Path, sweep: str, group: Group, todo: Sequence[Run], output: GroupOutput, env: Mapping[str, Any]
) -> str | None:
    """Merge one execution's rows into the group's files (raw, notebook, then summary: the completion mark).

    Returns the execution's error text (None when the notebook ran to its end)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {r.run_id for r in group.runs}
    replaced = {r.run_id for r in todo}
    new_summary, new_raw, read_error = _read_output(output)
    error = output.error or read_error
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

    old_summary = _read_or_empty(folder / SUMMARY)
    old_raw = _read_or_empty(folder / RAW)
    summary = _concat([_keep(old_summary, wanted, replaced), new_summary])
    raw = _concat([_keep(old_raw, wanted, replaced), new_raw])
    atomic_write(folder / RAW, _parquet_bytes(raw))
    if output.notebook is not None:
        atomic_write(folder / EXECUTED, output.notebook)
    atomic_write(folder / SUMMARY, _parquet_bytes(summary))
    return error


def _group_state(folder: Path, group: Group, error: str | None = None) -> dict[str, Any]:
    """A group's manifest entry from its files: ``pending`` (runs without rows), ``error`` (error rows) or ``done``."""
    frame = _read_or_empty(folder / SUMMARY)
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


def _history(root: Path) -> list[dict[str, Any]]:
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


def _read_or_empty(path: Path) -> pd.DataFrame:
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


def _counts(root: Path, plan: Sequence[Group]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for group in plan:
        frame = _read_or_empty(root / group.group_id / SUMMARY)
        if frame.empty or "status" not in frame.columns:
            continue
        frame = frame[frame["run_id"].isin(set(group.run_ids))]
        for status, n in frame["status"].value_counts().items():
            counts[str(status)] = counts.get(str(status), 0) + int(n)
    return dict(sorted(counts.items()))


# -- files ------------------------------------------------------------------------------------------------------------


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a partial one.

    The temporary name starts with "." and carries the pid, so collect() never reads it and a rerun removes it.
    (fsync before the rename: a rename can otherwise reach the disk before the data after a power loss.)
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _exclusive(root: Path) -> Iterator[None]:
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


def _remove_stale_temporaries(root: Path, plan: Sequence[Group]) -> None:
    for folder in [root, *(root / g.group_id for g in plan)]:
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp-*"):
                tmp.unlink(missing_ok=True)


def _write_manifest(root: Path, manifest: Mapping[str, Any]) -> None:
    atomic_write(root / MANIFEST, json.dumps(manifest, indent=2, default=str).encode())


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _plain(config: BaseConfig | None) -> dict[str, Any] | None:
    if config is None:
        return None
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.to_dict().items()}


def _jsonable(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str))


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")


__all__ = [
    "COMPLETE_STATUSES",
    "DEFAULT_KERNEL",
    "EXECUTORS",
    "Executor",
    "GroupOutput",
    "GroupTask",
    "LocalExecutor",
    "SweepResult",
    "atomic_write",
    "completed_runs",
    "describe_failure",
    "execute_group",
    "failure_rows",
    "failure_status",
    "make_executor",
    "run_sweep",
]
