"""Run a sweep's groups as Ray tasks on an existing cluster (``blaze-lab sweep SPEC --executor ray --address ...``).

Each load-time group becomes one Ray task that asks for the resources its configs need (:func:`group_resources`:
one GPU when a config says ``device: cuda``, or ``auto`` on a cluster that has GPUs; one CPU; optional memory and
custom resources). The task receives the notebook's *contents* (no shared filesystem is assumed), executes it with
papermill in a scratch folder on the worker (:func:`~blaze_lab.sweep.executor.execute_group`, exactly what the local
executor runs) and returns the produced files as bytes; the driver writes them into ``results/<sweep>/`` with the
runner's atomic writers, so resume, failure isolation and the manifest behave as with the local executor.

**Failures.** A failing notebook is an ``error``/``oom`` row as locally. A lost worker (its process or its whole
node died) is retried by Ray up to ``max_retries`` times; after that the group's runs become ``error`` rows naming
the cause. A group that no alive node can host (a GPU group on a CPU cluster, a custom resource whose node died)
waits ``infeasible_timeout_s`` (an autoscaler may add a node meanwhile), then becomes ``error`` rows too.

**Unreachable cluster.** Before anything runs, the GCS port is probed with a socket timeout and ``ray.init`` runs
under a deadline: a wrong address fails within seconds with :class:`~blaze_lab.errors.ClusterUnavailable` naming
it, instead of hanging.

Example:
    >>> from blaze_lab.sweep.runner import run_sweep
    >>> executor = RayExecutor("10.0.0.5:6379", num_cpus=2)  # doctest: +SKIP
    >>> run_sweep("experiments/quickstart.yaml", executor=executor).counts  # doctest: +SKIP
    {'ok': 8, 'unsupported': 2}
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from blaze_lab.clock import Clock, RealClock
from blaze_lab.errors import ClusterUnavailable, ConfigError
from blaze_lab.sweep.executor import GroupOutput, GroupTask, execute_group

DEFAULT_RAY_PORT = 6379
_TEXT_MAX = 2000


def parse_address(address: str) -> tuple[str, int]:
    """``HOST[:PORT]`` (optionally ``ray://`` or ``http(s)://`` prefixed) -> (host, port); port 6379 by default.

    Example:
        >>> parse_address("10.0.0.5:6380")
        ('10.0.0.5', 6380)
    """
    text = address.strip()
    for prefix in ("ray://", "http://", "https://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(DEFAULT_RAY_PORT)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("address", address, reason="expected HOST:PORT of a Ray cluster's head (GCS port)")
    return host, int(port)


def probe_address(address: str, timeout_s: float = 3.0) -> None:
    """Raise ClusterUnavailable unless something accepts TCP connections at the cluster's GCS address."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ClusterUnavailable(
            f"no Ray cluster reachable at {address} ({type(exc).__name__}: {exc}); start one with "
            f"`ray start --head --port={port}` or pass the head's address with --address HOST:PORT"
        ) from None


@dataclasses.dataclass(frozen=True)
class ResourceDefaults:
    """What each group's task asks Ray for, unless its configs say otherwise.

    Attributes:
        num_cpus: CPUs per group (a model load plus its measurement loop; 1 keeps groups from oversubscribing).
        num_gpus: None: derived per group (1 for ``device: cuda``, or ``auto`` on a cluster with GPUs, else 0);
            a number forces it for every group.
        memory_bytes: Ray's logical memory reservation per group (None: none; set it to the model's peak RSS to
            keep a node from running more groups than fit its RAM).
        resources: extra custom resources per group, e.g. ``{"accelerator_type:H100": 0.001}`` or a node label.
    """

    num_cpus: float = 1.0
    num_gpus: float | None = None
    memory_bytes: int | None = None
    resources: Mapping[str, float] = dataclasses.field(default_factory=dict)


def group_resources(task: GroupTask, defaults: ResourceDefaults, cluster_has_gpus: bool) -> dict[str, Any]:
    """Ray task options (``num_cpus``, ``num_gpus``, ``memory``, ``resources``) for one group.

    Example:
        >>> runs = [{"run_id": "a", "config": {"device": "cuda"}}]
        >>> task = GroupTask("s", "g", "llm", "nb.ipynb", {"runs": runs}, ("a",))
        >>> group_resources(task, ResourceDefaults(), cluster_has_gpus=False)
        {'num_cpus': 1.0, 'num_gpus': 1}
    """
    devices = {str(run.get("config", {}).get("device", "cpu")) for run in task.parameters.get("runs", [])}
    if defaults.num_gpus is not None:
        gpus: float = defaults.num_gpus
    else:
        # One model per group: a group whose configs run on CUDA needs one whole GPU for its model load.
        gpus = 1 if "cuda" in devices or ("auto" in devices and cluster_has_gpus) else 0
    options: dict[str, Any] = {"num_cpus": defaults.num_cpus, "num_gpus": gpus}
    if defaults.memory_bytes:
        options["memory"] = int(defaults.memory_bytes)
    if defaults.resources:
        options["resources"] = dict(defaults.resources)
    return options


def fits(options: Mapping[str, Any], node: Mapping[str, float]) -> bool:
    """Whether one node's total resources can ever host a task with these options."""
    wanted = {
        "CPU": float(options.get("num_cpus") or 0),
        "GPU": float(options.get("num_gpus") or 0),
        "memory": float(options.get("memory") or 0),
        **{k: float(v) for k, v in dict(options.get("resources") or {}).items()},
    }
    return all(node.get(name, 0.0) >= amount for name, amount in wanted.items() if amount > 0)


def run_on_worker(task: GroupTask, notebook: bytes) -> GroupOutput:
    """The Ray task body: write the shipped notebook to a scratch folder and execute it there."""
    with tempfile.TemporaryDirectory(prefix=f"blaze-ray-{task.group}-") as scratch:
        path = Path(scratch) / Path(task.notebook).name
        path.write_bytes(notebook)
        # The driver's cwd exists on a worker only when they share a filesystem; else run in the scratch folder.
        cwd = task.cwd if task.cwd and os.path.isdir(task.cwd) else scratch
        return execute_group(dataclasses.replace(task, notebook=str(path), cwd=cwd))


@dataclasses.dataclass
class _Pending:
    task: GroupTask
    options: dict[str, Any]
    infeasible_since: float | None = None


class RayExecutor:
    """Executor running each group as a Ray task on the cluster at ``address`` (see the module docstring).

    ``address=None`` uses ``$RAY_ADDRESS``. Keyword arguments override :class:`ResourceDefaults`; ``task_options``
    are passed to ``.options()`` as-is (e.g. a ``scheduling_strategy`` or a ``runtime_env``), or computed per group
    when a callable ``task -> options`` (e.g. to pin one group to a node); they override the derived resources.

    Example:
        >>> executor = RayExecutor("127.0.0.1:6379", num_cpus=2, memory_bytes=4 << 30)  # doctest: +SKIP
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: float = 1.0,
        num_gpus: float | None = None,
        memory_bytes: int | None = None,
        resources: Mapping[str, float] | None = None,
        max_retries: int = 2,
        infeasible_timeout_s: float = 60.0,
        connect_timeout_s: float = 60.0,
        poll_s: float = 0.5,
        task_options: Mapping[str, Any] | Callable[[GroupTask], Mapping[str, Any]] | None = None,
        clock: Clock | None = None,
    ) -> None:
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address is None:
            raise ConfigError(
                "address", None, reason="the ray executor needs the cluster's address: --address HOST:PORT"
            )
        parse_address(address)
        if max_retries < 0:
            raise ConfigError("max_retries", max_retries, reason="must be >= 0")
        if num_cpus < 0 or (num_gpus is not None and num_gpus < 0):
            raise ConfigError("num_cpus/num_gpus", (num_cpus, num_gpus), reason="must be >= 0")
        self.address = address
        memory = int(memory_bytes) if memory_bytes else None
        self.defaults = ResourceDefaults(num_cpus, num_gpus, memory, dict(resources or {}))
        self.max_retries = max_retries
        self.infeasible_timeout_s = infeasible_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.poll_s = poll_s
        self.task_options = task_options
        self.clock = clock or RealClock()
        self._owns_connection = False

    @classmethod
    def from_options(cls, address: str | None, options: Mapping[str, Any] | str | None) -> RayExecutor:
        """Build from the CLI's ``--ray-options`` (a JSON object of this class's keyword arguments).

        Example:
            >>> RayExecutor.from_options("head:6379", '{"num_cpus": 2, "max_retries": 1}').defaults.num_cpus
            2
        """
        import json

        parsed: Any = options
        if isinstance(options, str):
            try:
                parsed = json.loads(options)
            except ValueError as exc:
                raise ConfigError("--ray-options", options, reason=f"not JSON ({exc})") from None
        if parsed is not None and not isinstance(parsed, Mapping):
            raise ConfigError("--ray-options", options, reason="must be a JSON object")
        options = dict(parsed or {})
        allowed = sorted(_OPTION_TYPES)
        for key, value in options.items():
            if key not in _OPTION_TYPES:
                raise ConfigError(f"--ray-options.{key}", value, allowed=allowed)
            if value is not None and not isinstance(value, _OPTION_TYPES[key]):
                raise ConfigError(f"--ray-options.{key}", value, reason=f"must be {_OPTION_TYPES[key]}")
        return cls(address, **options)

    # -- connection -------------------------------------------------------------------------------------------
    def check(self, tasks: Sequence[GroupTask]) -> None:
        """Fail fast (ClusterUnavailable naming the address) when the cluster cannot be reached."""
        probe_address(self.address, timeout_s=min(self.connect_timeout_s, 3.0))
        if tasks:
            self._connect()

    def _connect(self) -> None:
        import ray

        if ray.is_initialized():
            return
        outcome: dict[str, BaseException | None] = {}

        def init() -> None:
            try:
                ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
                outcome["error"] = None
            except BaseException as exc:  # reported to the caller's thread below
                outcome["error"] = exc

        # ray.init retries a GCS that accepts TCP but does not answer for a minute or more: bound it by running it
        # in a thread. Ray then warns that it cannot install its SIGTERM handler (only the main thread may); that
        # handler only turns SIGTERM into sys.exit, so the warning is dropped rather than shown on every sweep.
        ray_logger = logging.getLogger("ray._private.worker")
        ray_logger.addFilter(_drop_sigterm_warning)
        thread = threading.Thread(target=init, name="blaze-ray-init", daemon=True)
        thread.start()
        thread.join(self.connect_timeout_s)
        ray_logger.removeFilter(_drop_sigterm_warning)
        if thread.is_alive() or "error" not in outcome:
            raise ClusterUnavailable(
                f"Ray cluster at {self.address} accepted a connection but ray.init did not finish within "
                f"{self.connect_timeout_s:g}s (is it a Ray GCS port, and the same Ray version?)"
            )
        error = outcome["error"]
        if error is not None:
            raise ClusterUnavailable(f"cannot connect to the Ray cluster at {self.address}: {error}") from None
        self._owns_connection = True

    def _disconnect(self) -> None:
        if self._owns_connection:
            import ray

            ray.shutdown()
            self._owns_connection = False

    # -- running --------------------------------------------------------------------------------------------
    def run(
        self, tasks: Sequence[GroupTask], on_start: Callable[[GroupTask], None] | None = None
    ) -> Iterator[GroupOutput]:
        """Submit every group at once (Ray queues what does not fit now); yield outputs as groups finish."""
        if not tasks:
            return
        import ray

        self._connect()
        remote = ray.remote(run_on_worker)
        pending: dict[Any, _Pending] = {}
        try:
            nodes = _alive_nodes()
            has_gpus = any(n.get("GPU", 0) > 0 for n in nodes.values())
            known = set(nodes)
            for task in tasks:
                options = {
                    **group_resources(task, self.defaults, has_gpus),
                    "max_retries": self.max_retries,
                    "retry_exceptions": False,  # run_on_worker never raises for a notebook: only lost workers retry
                    "name": f"blaze:{task.sweep}:{task.group}",
                    **self._extra_options(task),
                }
                ref = remote.options(**options).remote(task, Path(task.notebook).read_bytes())
                pending[ref] = _Pending(task, options)
                if on_start is not None:
                    on_start(task)
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=self.poll_s)
                for ref in ready:
                    yield self._collect(ref, pending.pop(ref))
                if not ready:
                    yield from self._expire_infeasible(pending, known)
        finally:
            for ref in pending:  # the driver stopped early (interrupt, error): do not leave groups running
                _cancel(ref)
            self._disconnect()

    def _extra_options(self, task: GroupTask) -> Mapping[str, Any]:
        if self.task_options is None:
            return {}
        return self.task_options(task) if callable(self.task_options) else self.task_options

    def _collect(self, ref: Any, item: _Pending) -> GroupOutput:
        import ray

        try:
            output = ray.get(ref)
        except ray.exceptions.OutOfMemoryError as exc:
            return _failed(item.task, f"out of memory: Ray's memory monitor killed the worker ({_first(exc)})")
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError) as exc:
            return _failed(
                item.task,
                f"worker lost after {self.max_retries + 1} attempt(s) on {self.address}: "
                f"{type(exc).__name__}: {_first(exc)}",
            )
        except ray.exceptions.TaskCancelledError:
            return _failed(item.task, f"group task cancelled on {self.address}")
        except Exception as exc:  # anything else Ray raises is this group's failure, not the sweep's
            return _failed(item.task, f"ray task failed on {self.address}: {type(exc).__name__}: {_first(exc)}")
        if not isinstance(output, GroupOutput):
            return _failed(item.task, f"ray task returned {type(output).__name__}, not GroupOutput")
        return output

    def _expire_infeasible(self, pending: dict[Any, _Pending], known: set[str]) -> Iterator[GroupOutput]:
        """Groups no alive node can host for ``infeasible_timeout_s`` become error outputs (cancelled in Ray)."""
        nodes = _alive_nodes()
        now = self.clock.now()
        for ref, item in list(pending.items()):
            if any(fits(item.options, res) for res in nodes.values()):
                item.infeasible_since = None
                continue
            if item.infeasible_since is None:
                item.infeasible_since = now
            if now - item.infeasible_since < self.infeasible_timeout_s:
                continue
            del pending[ref]
            _cancel(ref)
            lost = sorted(known - set(nodes))
            reason = (
                f"no alive node of the Ray cluster at {self.address} offers {_wanted(item.options)} "
                f"(waited {self.infeasible_timeout_s:g}s)"
            )
            if lost:
                reason += f"; node(s) lost during the sweep: {', '.join(n[:12] for n in lost)}"
            yield _failed(item.task, reason)


# The keyword arguments --ray-options may set (JSON types; ints are accepted where numbers are).
_OPTION_TYPES: dict[str, Any] = {
    "num_cpus": (int, float),
    "num_gpus": (int, float),
    "memory_bytes": (int, float),
    "resources": dict,
    "max_retries": int,
    "infeasible_timeout_s": (int, float),
    "connect_timeout_s": (int, float),
    "poll_s": (int, float),
}


def _drop_sigterm_warning(record: logging.LogRecord) -> bool:
    return "SIGTERM handler is not set" not in record.getMessage()


def _alive_nodes() -> dict[str, dict[str, float]]:
    import ray

    return {n["NodeID"]: dict(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")}


def _cancel(ref: Any) -> None:
    import ray

    # Already finished, or its owner is gone: nothing left to cancel.
    with contextlib.suppress(Exception):
        ray.cancel(ref, force=True)


def _wanted(options: Mapping[str, Any]) -> dict[str, float]:
    wanted = {"CPU": options.get("num_cpus"), "GPU": options.get("num_gpus"), "memory": options.get("memory")}
    wanted.update(dict(options.get("resources") or {}))
    return {k: float(v) for k, v in wanted.items() if v}


def _failed(task: GroupTask, error: str) -> GroupOutput:
    return GroupOutput(task.group, None, None, None, " ".join(error.split())[:_TEXT_MAX])


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = [
    "DEFAULT_RAY_PORT",
    "RayExecutor",
    "ResourceDefaults",
    "fits",
    "group_resources",
    "parse_address",
    "probe_address",
    "run_on_worker",
]
