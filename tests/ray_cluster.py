"""A real multi-node Ray cluster on this machine for the ``ray`` tests: ``ray start --block`` processes we own.

Each node is one ``ray start --block`` process in its own session (process group), with its own free ports and
the cluster's own temp dir, so it never collides with another Ray on the machine and is stopped by signalling its
group: never ``ray stop``, which would stop every Ray cluster of this user on the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RAY = str(Path(sys.executable).with_name("ray"))
START_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalRayCluster:
    """``cluster = LocalRayCluster(tmp); cluster.start_head(); node = cluster.add_node(resources={"worker": 1})``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.address = ""
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_IMPORT_WARNING": "1"}
        self._args: dict[str, list[str]] = {}

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        ports = [
            f"--node-manager-port={free_port()}",
            f"--object-manager-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--metrics-export-port={free_port()}",
        ]
        with open(self.root / f"{name}.log", "wb") as log:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                [RAY, "start", "--block", "--disable-usage-stats", "--num-gpus=0", "--object-store-memory=80000000",
                 "--node-ip-address=127.0.0.1", *ports, *args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.nodes[name] = proc
        return proc

    def start_head(self, num_cpus: int = 1) -> str:
        port = free_port()
        self._start(
            "head",
            ["--head", f"--port={port}", f"--num-cpus={num_cpus}", "--include-dashboard=false",
             f"--dashboard-port={free_port()}", f"--temp-dir={self.root / 'r'}"],
        )  # fmt: skip
        self.address = f"127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.nodes["head"].poll() is not None:
                raise RuntimeError(f"ray head exited: {(self.root / 'head.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return self.address
            time.sleep(0.2)
        raise RuntimeError("ray head did not open its GCS port in time")

    def add_node(self, name: str, num_cpus: int = 1, resources: dict[str, float] | None = None) -> None:
        """Start a node joining the head (in the background: see :meth:`wait_started`)."""
        args = [f"--address={self.address}", f"--num-cpus={num_cpus}"]
        if resources:
            args.append(f"--resources={json.dumps(resources)}")
        self._args[name] = args
        self._start(name, args)

    def wait_started(self, name: str, attempts: int = 3) -> None:
        """Block until node ``name`` says "Ray runtime started"; restart it when it gave up.

        `ray start` gives a node 30 s (hard-coded) to register with the GCS; on a loaded machine it can miss that
        and exit, so the node is started again (up to ``attempts`` starts in all).
        """
        for attempt in range(attempts):
            proc = self.nodes[name]
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                if "Ray runtime started" in (self.root / f"{name}.log").read_text(errors="replace"):
                    return
                if proc.poll() is not None:
                    break
                time.sleep(0.2)
            else:
                raise RuntimeError(f"ray node {name} did not start in {START_TIMEOUT_S}s")
            if attempt + 1 < attempts:
                self._start(name, self._args[name])
        raise RuntimeError(f"ray node {name} failed to start: {(self.root / f'{name}.log').read_text()[-2000:]}")

    def wait_for(self, predicate: Any, what: str) -> Any:
        """Poll ``predicate(alive_nodes)`` (needs ray.init in this process) until it returns something truthy."""
        import ray

        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            alive = [n for n in ray.nodes() if n["Alive"]]
            found = predicate(alive)
            if found:
                return found
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}")

    def kill_node(self, name: str) -> None:
        """What `ray stop` does on that one machine: signal the node's process group, then make sure it is gone."""
        proc = self.nodes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self) -> None:
        for name in [n for n in self.nodes if n != "head"] + (["head"] if "head" in self.nodes else []):
            proc = self.nodes.pop(name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # test cluster: no state worth a graceful shutdown
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        # Workers run in their own sessions and exit once their raylet is gone; make sure, by this cluster's dir.
        _kill_by_marker(str(self.root))


def _kill_by_marker(marker: str) -> None:
    """SIGKILL leftover processes whose command line names this cluster's temp dir (ours only, by pid)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)
