"""A real redis-server per test, on 127.0.0.1 and a free port, persistence off, in a tmp dir.

Tests that need it are marked ``redis``; without the binary they skip with the reason (CI installs it in
``.ci/run``). Readiness is a bounded PING poll, not a fixed sleep.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

START_TIMEOUT_S = 10.0


@dataclasses.dataclass
class RedisServer:
    url: str
    port: int
    args: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    password: str | None = None

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it answers PING."""
        self.process = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=self.log.parent
        )
        _wait_ready(self)

    def kill(self) -> None:
        """Terminate the server and wait for it to be gone (the 'outage' in degradation tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(server: RedisServer) -> None:
    assert server.process is not None
    client = redis.Redis(
        host="127.0.0.1", port=server.port, password=server.password, socket_timeout=0.2, socket_connect_timeout=0.2
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if server.process.poll() is not None:
                tail = server.log.read_text()[-2000:] if server.log.exists() else ""
                raise RuntimeError(f"redis-server exited with {server.process.returncode}: {tail}")
            try:
                if client.ping():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer PING within {START_TIMEOUT_S} s")
            time.sleep(0.02)  # poll interval, not a wait for a timeout
    finally:
        client.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server process; yields its handle (``.url``, ``.kill()``, ``.start()``) and stops it after."""
    yield from _serve(tmp_path, password=None)


PASSWORD = "s3cr3t-p@ss:w0rd"
"""Has '@' and ':' in it (unencoded, as users write them): what naive URL redaction gets wrong."""


@pytest.fixture
def redis_server_with_password(tmp_path: Path) -> Iterator[RedisServer]:
    """Like ``redis_server`` but ``--requirepass PASSWORD``; ``.url`` has no credentials (add them yourself)."""
    yield from _serve(tmp_path, password=PASSWORD)


def _serve(tmp_path: Path, password: str | None) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server binary not found (apt-get install -y redis-server; .ci/run installs it)")
    log = tmp_path / "redis.log"
    for attempt in range(3):  # another process may grab the free port between probe and bind: take a new one
        port = _free_port()
        args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
        args += ["--dir", str(tmp_path), "--logfile", str(log), "--protected-mode", "yes"]
        if password is not None:
            args += ["--requirepass", password]
        server = RedisServer(url=f"redis://127.0.0.1:{port}/0", port=port, args=args, log=log, password=password)
        try:
            server.start()
            break
        except RuntimeError:
            server.kill()
            if attempt == 2:
                raise
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of a running test redis-server."""
    return redis_server.url


@pytest.fixture
def dead_redis_url() -> str:
    """A 127.0.0.1 URL where nothing listens (port taken from the OS, then released)."""
    return f"redis://127.0.0.1:{_free_port()}/0"
