"""Executors: where a group's notebook runs. :class:`LocalExecutor` runs them here, one after another.

The driver turns each load-time group into a :class:`GroupTask` (plain, picklable values) and hands the tasks to an
:class:`Executor`, which yields one :class:`GroupOutput` per task (the produced files as bytes, or the error text),
in any order. Only the driver writes files, so an executor on another machine (``RayExecutor``) only has to run
:func:`execute_group` remotely and ship its output back. Executors are looked up by name in :data:`EXECUTORS`.

**Failure isolation.** A notebook that raises, a kernel that dies or a cell that times out is returned as error
text (never raised), with whatever files the notebook wrote before it failed.

Example:
    >>> make_executor("local").name
    'local'
    >>> failure_status("CUDA out of memory. Tried to allocate 2 GiB")
    'oom'
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import importlib
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from blaze_lab.errors import ConfigError, SweepError
from blaze_lab.sweep.collect import EXECUTED, RAW, SUMMARY

# ipykernel's own kernelspec: present wherever ipykernel is installed, and it runs this interpreter (jupyter_client
# substitutes sys.executable for "python"). The Makefile's "blaze-lab" kernelspec exists only after `make setup`.
DEFAULT_KERNEL = "python3"
_ERROR_TEXT_MAX = 4000
CONNECTION_FILE = "kernel-connection.json"


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
    return target(address=address)


def execute_group(task: GroupTask) -> GroupOutput:
    """Execute one group's notebook with papermill in a scratch folder and return what it wrote.

    Never raises for a failing notebook: a cell error, a dead kernel or a timeout is returned as ``error`` text,
    with whatever files the notebook wrote before it failed (a failing plot cell must not discard measurements).
    """
    import papermill
    from traitlets.config import Config

    from blaze_lab.sweep.kernel_env import kernel_environment

    remove_stale_scratch(task.group)
    with tempfile.TemporaryDirectory(prefix=scratch_prefix(task.group)) as scratch:
        out = Path(scratch)
        parameters = {
            **task.parameters,
            "summary_path": str(out / SUMMARY),
            "raw_path": str(out / RAW),
        }
        error = None
        try:
            with kernel_environment():  # thread count that survives a shared machine (see kernel_env)
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
                    # The connection file (it holds the kernel's signing key) lives in the scratch folder, so whatever
                    # removes the folder (normal exit, or the next start after a kill -9) removes it too.
                    config=Config(
                        {
                            "AsyncKernelManager": {
                                "transport_encryption": "auto",
                                "connection_file": str(out / CONNECTION_FILE),
                            }
                        }
                    ),
                )
        except Exception as exc:  # failure isolation: every failure becomes error rows, the sweep goes on
            error = describe_failure(exc)

        def read(name: str) -> bytes | None:
            path = out / name
            return path.read_bytes() if path.exists() else None

        return GroupOutput(task.group, read(SUMMARY), read(RAW), read(EXECUTED), error)


def scratch_prefix(group: str) -> str:
    """Name prefix of a group's scratch folder in the system temp directory; the pid says whose it is."""
    return f"blaze-{group}-pid{os.getpid()}-"


def remove_stale_scratch(group: str, temp_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove scratch folders of ``group`` left by processes that no longer exist (a ``kill -9``'d sweep).

    A live process's folder (a concurrent sweep running the same group) is left alone. Returns what was removed.
    """
    pattern = re.compile(rf"blaze-{re.escape(group)}-pid(\d+)-")
    removed = []
    for folder in Path(temp_dir or tempfile.gettempdir()).glob(f"blaze-{glob.escape(group)}-pid*"):
        match = pattern.match(folder.name)
        if match is None or not folder.is_dir() or _alive(int(match.group(1))):
            continue
        # A kernel launched just before its driver died may still be starting; it would write its connection file
        # again (recreating the folder) and waits for its parent poller to notice. Its driver is gone: stop it.
        for pid in _processes_using(folder):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _processes_using(folder: Path) -> list[int]:
    """Pids whose command line names ``folder`` (a kernel is started with ``-f <folder>/<connection file>``)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: leave orphans to their parent pollers
        return []
    needle = str(folder).encode()
    pids = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:  # exited meanwhile, or not ours to read
            continue
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


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


__all__ = [
    "DEFAULT_KERNEL",
    "EXECUTORS",
    "Executor",
    "GroupOutput",
    "GroupTask",
    "LocalExecutor",
    "describe_failure",
    "execute_group",
    "failure_status",
    "make_executor",
    "remove_stale_scratch",
    "scratch_prefix",
]
