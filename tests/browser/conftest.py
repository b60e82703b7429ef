"""Browser-test fixtures: Debian's Chromium driven by Playwright, and a throw-away JupyterLab server.

* ``chromium_page``: a fresh page in headless Chromium (``/usr/bin/chromium``, never a downloaded browser) with
  the uncaught page errors and console errors it logs (``.page``, ``.errors``); skipped with the reason when there is no
  chromium binary (``.ci/run`` installs it) or no playwright.
* ``jupyterlab``: JupyterLab from this venv on 127.0.0.1, a free port, a random token, its root a temp folder
  holding a copy of ``notebooks/explore.ipynb`` set to the ``blaze-lab`` kernel (the one ``make setup`` installs;
  installed into a temp prefix for the server when this venv lacks it). Config, runtime, workspace and settings
  dirs are temp dirs, so no user state leaks in. The server and its kernels are always shut down.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, KERNEL_NAME, REPO, BrowserPage, Lab

LAB_START_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def playwright_browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("needs a chromium binary (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def chromium_page(playwright_browser: Any) -> Iterator[BrowserPage]:
    context = playwright_browser.new_context(viewport={"width": 1400, "height": 2000})
    page = context.new_page()
    seen = BrowserPage(page, [])
    page.on("pageerror", lambda exc: seen.errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: seen.errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    try:
        yield seen
    finally:
        context.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _has_kernel(name: str) -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    return name in KernelSpecManager().find_kernel_specs()


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if CHROMIUM is None:
        pytest.skip("needs a chromium binary (apt-get install chromium)")
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    notebook = json.loads((REPO / "notebooks" / "explore.ipynb").read_text())
    notebook["metadata"]["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "blaze-lab (.venv)",
        "language": "python",
    }
    (root / "explore.ipynb").write_text(json.dumps(notebook))
    env = dict(os.environ)
    for var, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
    ]:
        (base / sub).mkdir()
        env[var] = str(base / sub)
    # No "get Jupyter news?" prompt over the panel (and no fetch attempt: the machine is offline).
    news = base / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))
    if not _has_kernel(KERNEL_NAME):
        # The same command as the Makefile's set-up, into a temp prefix instead of the shared venv.
        prefix = base / "kernel-prefix"
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", KERNEL_NAME,
             "--display-name", "blaze-lab (.venv)"],
            check=True, capture_output=True,
        )  # fmt: skip
        env["JUPYTER_PATH"] = os.pathsep.join(
            filter(None, [str(prefix / "share" / "jupyter"), env.get("JUPYTER_PATH")])
        )
    port, token = _free_port(), secrets.token_hex(16)
    log = base / "jupyterlab.log"
    lab_bin = Path(sys.executable).parent / "jupyter-lab"
    cmd = [
        str(lab_bin), "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log)
    try:
        deadline = time.monotonic() + LAB_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                lab.api("/api/status")
                break
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab not up after {LAB_START_TIMEOUT_S:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)  # polling the server's readiness, not waiting out a timeout
        yield lab
    finally:
        _stop(lab, proc)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, ARTIFACTS / "jupyterlab.log")


def _stop(lab: Lab, proc: subprocess.Popen[bytes]) -> None:
    """Shut kernels down through the API, then the server; SIGKILL its process group if it lingers."""
    with contextlib.suppress(Exception):
        for kernel in lab.api("/api/kernels"):
            lab.api(f"/api/kernels/{kernel['id']}", method="DELETE")
    with contextlib.suppress(Exception):
        lab.api("/api/shutdown", method="POST")
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
