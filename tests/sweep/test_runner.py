"""The papermill runner on the fake kind: failure isolation, resume after kill -9, merging, atomic layout."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from blaze_lab.errors import ConfigError, SweepError
from blaze_lab.sweep.collect import load_manifest
from blaze_lab.sweep.executor import GroupOutput, describe_failure, failure_status, make_executor
from blaze_lab.sweep.plan import expand, groups
from blaze_lab.sweep.runner import run_sweep
from blaze_lab.sweep.spec import load_spec
from blaze_lab.sweep.store import exclusive

WriteSpec = Callable[..., Path]
ReadLog = Callable[[], list[list[str]]]
HERE = Path(__file__).resolve().parent


def test_failures_become_rows_and_the_sweep_goes_on(
    write_spec: WriteSpec, tmp_path: Path, execution_log: ReadLog
) -> None:
    path = write_spec({"name": "fail", "kind": "fake", "grid": {"mode": ["raise", "ok", "oom", "die", "late"]}})
    result = run_sweep(path, results_root=tmp_path / "results", progress=False)

    assert len(execution_log()) == 5
    assert result.counts == {"error": 2, "ok": 2, "oom": 1}
    summary, raw = result.frames()
    assert len(summary) == 5 and summary["run_id"].is_unique
    rows = {mode: frame.iloc[0] for mode, frame in summary.groupby("fake.mode")}
    assert rows["raise"]["status"] == "error"
    assert "RuntimeError: boom from the test notebook" in rows["raise"]["error"]
    assert rows["oom"]["status"] == "oom" and "out of memory" in rows["oom"]["error"]
    assert rows["die"]["status"] == "error" and rows["die"]["error"].startswith("kernel died")
    # A failure after the rows were written (a plot cell) keeps the measurements; the manifest keeps the error.
    assert rows["late"]["status"] == "ok" and rows["ok"]["status"] == "ok"
    # Error rows carry the common and config columns like engine rows do.
    assert rows["raise"]["sweep"] == "fail" and rows["raise"]["engine"] == "fake"
    assert rows["raise"]["config_hash"] and rows["raise"]["fake.x"] == 1 and "env.python" in summary.columns
    assert sorted(raw["run_id"].unique()) == sorted([rows["ok"]["run_id"], rows["late"]["run_id"]])

    manifest = load_manifest(result.results_dir)
    assert manifest["counts"] == result.counts and manifest["ended"] and manifest["started"]
    assert manifest["spec"]["grid"]["mode"][0] == "raise" and "env.python" in manifest["env"]
    late_group = rows["late"]["group"]
    assert "plot failed" in manifest["groups"][late_group]["error"]
    assert manifest["groups"][rows["raise"]["group"]]["status"] == "error"
    assert manifest["groups"][rows["ok"]["group"]]["status"] == "done"
    for group in manifest["groups"]:
        files = {p.name for p in (result.results_dir / group).iterdir()}
        assert files == {"summary.parquet", "raw.parquet", "executed.ipynb"}, (group, files)

    # Rerun without retrying errors: every group counts as complete, nothing executes.
    again = run_sweep(path, results_root=tmp_path / "results", progress=False, retry_errors=False)
    assert again.executed == () and len(again.skipped) == 5 and len(execution_log()) == 5
    history = load_manifest(again.results_dir)["history"]
    assert len(history) == 1 and len(history[0]["executed"]) == 5 and history[0]["counts"] == result.counts
    assert again.manifest["groups"][rows["raise"]["group"]]["status"] == "error"  # kept, still reported
    assert len(again.frames()[0]) == 5


def test_resume_after_kill_9_skips_completed_groups(
    write_spec: WriteSpec, tmp_path: Path, execution_log: ReadLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = tmp_path / "hold"
    hold.mkdir()
    monkeypatch.setenv("BLAZE_TEST_HOLD", str(hold))
    path = write_spec({"name": "resume", "kind": "fake", "grid": {"mode": ["ok", "hold"], "x": [1, 2]}})
    results = tmp_path / "results"
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        import fake_kind
        fake_kind.register()
        from blaze_lab.sweep.runner import run_sweep
        run_sweep({str(path)!r}, results_root={str(results)!r}, progress=False)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, env=dict(os.environ))
    try:
        started = hold / "started"
        deadline = time.monotonic() + 120
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for an event (the held group started), not for a timeout
        assert started.exists(), f"the held group never started (sweep exit code {proc.poll()})"
        os.killpg(proc.pid, signal.SIGKILL)
        kernel_pid = int(started.read_text() or 0)
        if kernel_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(kernel_pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    first_groups = [line[0] for line in execution_log()]
    assert len(first_groups) == 2  # ok finished, hold was killed mid-execution
    held_group = first_groups[1]
    assert not (results / "resume" / held_group / "summary.parquet").exists()
    # Debris a crash could leave must never be trusted.
    (results / "resume" / held_group).mkdir(parents=True, exist_ok=True)
    (results / "resume" / held_group / ".summary.parquet.tmp-99999").write_bytes(b"PAR1 half")

    (hold / "release").touch()
    result = run_sweep(path, results_root=results, progress=False)
    assert result.executed == (held_group,) and result.skipped == (first_groups[0],)
    assert [line[0] for line in execution_log()] == [first_groups[0], held_group, held_group]
    summary, raw = result.frames()
    expected = {r.run_id for r in expand(load_spec(path))}
    assert sorted(summary["run_id"]) == sorted(expected)
    assert (summary["status"] == "ok").all()
    assert len(raw) == 2 * len(expected) and not raw.duplicated(["run_id", "iteration"]).any()
    assert not list((results / "resume" / held_group).glob(".*tmp*"))


def test_added_runs_are_merged_into_a_partly_done_group(
    write_spec: WriteSpec, tmp_path: Path, execution_log: ReadLog
) -> None:
    results = tmp_path / "results"
    first = run_sweep(write_spec({"name": "merge", "kind": "fake", "grid": {"x": [1, 2]}}), results, progress=False)
    before = first.frames()[0].set_index("run_id")["value_s_mean"].to_dict()
    path = write_spec({"name": "merge", "kind": "fake", "grid": {"x": [1, 2, 3]}})
    new_id = expand(load_spec(path))[2].run_id
    second = run_sweep(path, results, progress=False)

    assert [len(line) - 1 for line in execution_log()] == [2, 1]  # second execution measured only the new run
    assert execution_log()[1][1] == new_id
    summary, raw = second.frames()
    assert sorted(summary["run_id"]) == sorted([*before, new_id]) and summary["run_id"].is_unique
    assert summary.set_index("run_id")["value_s_mean"].to_dict() == {**before, new_id: 3.0}
    assert len(raw) == 6 and second.counts == {"ok": 3}
    assert summary["measure_warmup"].eq(-1).all()  # no measure keys given -> the notebook got {}

    # Shrinking the grid drops the removed run from the group's files on the next execution.
    path = write_spec({"name": "merge", "kind": "fake", "grid": {"x": [1, 3, 4]}})
    third = run_sweep(path, results, progress=False)
    assert sorted(third.frames()[0]["fake.x"]) == [1, 3, 4]


def test_executor_registry_and_failure_texts() -> None:
    assert make_executor("local").name == "local"
    with pytest.raises(ConfigError, match="executor: invalid value 'slurm'; allowed: local, ray"):
        make_executor("slurm")
    with pytest.raises(ConfigError, match="address"):
        make_executor("local", address="10.0.0.1:6379")
    assert failure_status("torch.OutOfMemoryError: CUDA out of memory") == "oom"
    assert failure_status("RuntimeError: boom") == "error"
    assert describe_failure(ValueError("a\n  b")) == "ValueError: a b"


def test_unknown_kernel_is_refused_before_anything_is_written(write_spec: WriteSpec, tmp_path: Path) -> None:
    path = write_spec({"name": "k", "kind": "fake"})
    with pytest.raises(ConfigError, match=r"kernel_name: invalid value 'nope'; allowed: .*python3"):
        run_sweep(path, results_root=tmp_path / "results", kernel_name="nope", progress=False)
    assert not (tmp_path / "results").exists()
    assert groups(expand(load_spec(path)))  # the spec itself was fine
    assert GroupOutput("g", None, None, None).error is None


def test_a_second_sweep_on_the_same_folder_is_refused(
    write_spec: WriteSpec, tmp_path: Path, execution_log: ReadLog
) -> None:
    path = write_spec({"name": "locked", "kind": "fake"})
    root = tmp_path / "results" / "locked"
    root.mkdir(parents=True)
    with exclusive(root), pytest.raises(SweepError, match=f"{root}: another sweep \\(pid {os.getpid()}\\)"):
        run_sweep(path, results_root=tmp_path / "results", progress=False)
    assert execution_log() == [] and not (root / "manifest.json").exists()
