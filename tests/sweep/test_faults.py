"""Fault matrix: the sweep driver is ``kill -9``'d at each step that matters, then resumed.

Points: during the kernel start, during the measurement (the notebook is running), halfway through writing each
file of a group (raw.parquet, executed.ipynb, summary.parquet: the temporary file is half written when the process
dies) and halfway through a manifest write. After each, a rerun must give exactly one row per run (no duplicates,
none missing, raw rows complete), a finished manifest, and no leftovers: no temporary files in the results, no
scratch folder of the dead driver in the temp directory and no kernel connection file (it holds the kernel's
signing key).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from blaze_lab.sweep.collect import load_manifest
from blaze_lab.sweep.plan import expand
from blaze_lab.sweep.runner import run_sweep
from blaze_lab.sweep.spec import load_spec

HERE = Path(__file__).resolve().parent

# The fault is injected inside the driver process (a subprocess) by wrapping one function: the wrapper does the
# partial work of the step and then kills the driver's whole session with SIGKILL, like the OOM killer would.
DRIVER = """
import os, signal, sys
sys.path.insert(0, {here!r})
import fake_kind
fake_kind.register()
from blaze_lab.sweep import store
from blaze_lab.sweep.runner import run_sweep

fault = os.environ["FAULT"]

def die():
    os.killpg(0, signal.SIGKILL)

if fault.startswith("write:"):
    name, nth = fault.removeprefix("write:").split("@")
    calls = [0]
    real_write = store.atomic_write_all

    # every write goes through atomic_write_all (a group's files are staged together, then renamed): the files staged
    # before the hit one are complete temporaries, the hit one half written, nothing renamed
    def atomic_write_all(files):
        for i, (path, data) in enumerate(files):
            if path.name == name:
                calls[0] += 1
                if calls[0] == int(nth):
                    for done, done_data in files[:i]:
                        done.with_name(f".{{done.name}}.tmp-{{os.getpid()}}").write_bytes(done_data)
                    path.with_name(f".{{path.name}}.tmp-{{os.getpid()}}").write_bytes(data[: len(data) // 2])
                    die()
        real_write(files)

    store.atomic_write_all = atomic_write_all
elif fault == "kernel-start":
    from jupyter_client.manager import AsyncKernelManager

    real_launch = AsyncKernelManager._async_launch_kernel

    async def launch(self, cmd, **kw):
        await real_launch(self, cmd, **kw)
        die()  # the kernel process exists, its connection file is written; the driver dies

    AsyncKernelManager._async_launch_kernel = launch

run_sweep({spec!r}, results_root={results!r}, progress=False)
"""

FAULTS = {
    "kernel-start": "kernel-start",
    "measurement": "hold",
    "raw-write": "write:raw.parquet@2",  # the second group's raw file (the first group is complete)
    "notebook-write": "write:executed.ipynb@1",
    "summary-write": "write:summary.parquet@2",
    "manifest-write": "write:manifest.json@2",  # after the first group's rows: the manifest says pending
}


@pytest.mark.slow  # ~15-30 s each: a kernel start, a kill, a resume with two more kernel starts
@pytest.mark.parametrize("fault", list(FAULTS))
def test_kill_9_then_resume_gives_exact_rows_and_no_leftovers(
    fault: str, write_spec: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    runtime = tmp_path / "runtime"
    hold = tmp_path / "hold"
    for folder in (scratch, runtime, hold):
        folder.mkdir()
    # Scratch folders and connection files go to folders of this test, so leftovers can be counted exactly.
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("BLAZE_TEST_HOLD", str(hold))
    second = "hold" if fault == "measurement" else "ok"
    data = {"name": "faults", "kind": "fake", "zip": {"model": ["m1", "m2"], "mode": ["ok", second]}}
    data["grid"] = {"x": [1, 2]}
    spec = write_spec(data)  # type: ignore[operator]
    results = tmp_path / "results"
    script = textwrap.dedent(DRIVER.format(here=str(HERE), spec=str(spec), results=str(results)))
    env = {**os.environ, "FAULT": FAULTS[fault]}
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, env=env)
    try:
        if fault == "measurement":
            deadline = time.monotonic() + 120
            while not (hold / "started").exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)  # waiting for an event (the held notebook started), not for a timeout
            assert (hold / "started").exists(), f"the held group never started (exit code {proc.poll()})"
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"the driver was not killed by the fault ({proc.returncode})"
    kernel_pid = int((hold / "started").read_text() or 0) if (hold / "started").exists() else 0
    if kernel_pid:  # the held kernel would exit by itself (parent poller); do not wait for it
        with contextlib.suppress(ProcessLookupError):
            os.kill(kernel_pid, signal.SIGKILL)
    (hold / "release").touch()

    result = run_sweep(spec, results_root=results, progress=False)

    expected = {run.run_id for run in expand(load_spec(spec))}
    summary, raw = result.frames()
    assert sorted(summary["run_id"]) == sorted(expected)  # exactly one row per run: none missing, no duplicate
    assert (summary["status"] == "ok").all(), summary[["run_id", "status", "error"]]
    assert len(raw) == 2 * len(expected) and not raw.duplicated(["run_id", "iteration"]).any()
    manifest = load_manifest(result.results_dir)
    assert manifest["ended"] and manifest["counts"] == {"ok": len(expected)}
    assert all(group["status"] == "done" for group in manifest["groups"].values())
    assert not [p for p in results.rglob("*") if ".tmp-" in p.name]
    assert not list(scratch.glob("blaze-*")), sorted(scratch.iterdir())
    assert not list(runtime.glob("kernel-*.json")) and not list(scratch.rglob("*connection*.json"))
