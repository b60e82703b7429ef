"""Resume and rerun flags on the fake kind, measured in-process: --force, --rerun-invalid, --only, the measurement
code fingerprint, stored group timings and the progress bar's group labels."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from inprocess import InProcessExecutor

from blaze_lab.errors import ConfigError
from blaze_lab.sweep import rerun, store
from blaze_lab.sweep.collect import collect, load_manifest
from blaze_lab.sweep.estimate import stored_timings
from blaze_lab.sweep.plan import expand, groups
from blaze_lab.sweep.runner import run_sweep
from blaze_lab.sweep.select import group_labels, select_groups
from blaze_lab.sweep.spec import load_spec

WriteSpec = Callable[..., Path]
SPEC = {"name": "rr", "kind": "fake", "grid": {"mode": ["ok", "oom"], "flavor": ["a", "b"], "x": [1, 2]}}


def _values(results: Path) -> dict[tuple[str, str, int], float]:
    summary, _ = collect(results / "rr", combine=False)
    return {(r["fake.mode"], r["fake.flavor"], int(r["fake.x"])): r["value_s_mean"] for _, r in summary.iterrows()}


def test_force_re_measures_every_run_and_resume_trusts_only_complete_rows(
    write_spec: WriteSpec, tmp_path: Path
) -> None:
    path = write_spec(SPEC)
    results = tmp_path / "results"
    exe = InProcessExecutor()
    first = run_sweep(path, results, executor=exe, progress=False)
    assert first.counts == {"ok": 4, "oom": 4} and len(exe.executions) == 2

    # A plain resume: ok rows (valid or not) and oom rows are complete; nothing runs.
    again = run_sweep(path, results, executor=exe, progress=False)
    assert again.executed == () and len(exe.executions) == 2

    lines: list[str] = []
    forced = run_sweep(path, results, executor=exe, progress=False, force=True, echo=lines.append)
    assert len(forced.executed) == 2 and [len(ids) for _, ids in exe.executions[2:]] == [4, 4]
    assert lines == ["resume: 8 rows re-measured (--force)"]
    values = _values(results)
    assert len(values) == 8 and {v for k, v in values.items() if k[0] == "ok"} == {3.0}  # the third execution's


def test_an_interrupted_force_loses_nothing(write_spec: WriteSpec, tmp_path: Path) -> None:
    path = write_spec({"name": "rr", "kind": "fake", "grid": {"mode": ["ok", "late"], "x": [1, 2]}})
    results = tmp_path / "results"
    run_sweep(path, results, executor=InProcessExecutor(), progress=False)
    before = _values(results)
    # Ctrl-C while the second group is measured: the first group has its new rows, the second its old ones.
    with pytest.raises(KeyboardInterrupt):
        run_sweep(path, results, executor=InProcessExecutor(interrupt_at=2, first=11), progress=False, force=True)
    after = _values(results)
    assert set(after) == set(before)
    assert {k[0]: v for k, v in after.items()} == {"ok": 11.0, "late": before[("late", "a", 1)]}
    # Interrupted while the group's files are written (the second file being staged): the old files stay whole.
    group = next(g for g in groups(expand(load_spec(path))) if g.runs[0].config.to_dict()["mode"] == "ok")
    folder = results / "rr" / group.group_id
    old = {name: (folder / name).read_bytes() for name in ("summary.parquet", "raw.parquet")}
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # 1: the manifest, 2: raw.parquet, 3: summary.parquet
            raise KeyboardInterrupt
        real_fsync(fd)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store.os, "fsync", fsync)
        with pytest.raises(KeyboardInterrupt):
            run_sweep(path, results, executor=InProcessExecutor(), progress=False, force=True, only=[group.group_id])
    assert {name: (folder / name).read_bytes() for name in old} == old
    resumed = run_sweep(path, results, executor=InProcessExecutor(), progress=False)
    assert resumed.executed == () and _values(results) == after  # leftover temporaries were never trusted


def test_rerun_invalid_re_measures_flagged_n1_and_oom_rows(write_spec: WriteSpec, tmp_path: Path) -> None:
    path = write_spec(SPEC)
    results = tmp_path / "results"
    exe = InProcessExecutor()
    run_sweep(path, results, executor=exe, progress=False)
    lines: list[str] = []
    run_sweep(path, results, executor=exe, progress=False, rerun_invalid=True, echo=lines.append)
    config = {r.run_id: r.config.to_dict() for r in expand(load_spec(path))}
    redone = sorted(sorted((config[i]["mode"], config[i]["flavor"]) for i in ids) for _, ids in exe.executions[2:])
    assert redone == [[("ok", "b")] * 2, [("oom", "a"), ("oom", "a"), ("oom", "b"), ("oom", "b")]]
    assert lines == ["resume: 2 rows complete (skipped); 2 invalid rows re-measured (--rerun-invalid); "
                     "4 oom rows re-measured (--rerun-invalid)"]  # fmt: skip


def test_rows_of_other_measurement_code_are_re_measured_and_said_so(
    write_spec: WriteSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_spec({"name": "rr", "kind": "fake", "grid": {"x": [1, 2, 3]}})
    results = tmp_path / "results"
    exe = InProcessExecutor()
    run_sweep(path, results, executor=exe, progress=False)
    summary, _ = collect(results / "rr")
    assert set(summary[rerun.CODE_COLUMN]) == {rerun.code_fingerprint()}
    monkeypatch.setattr(rerun, "code_fingerprint", lambda: "0.1.0+code.changed")
    lines: list[str] = []
    result = run_sweep(path, results, executor=exe, progress=False, echo=lines.append)
    assert len(result.executed) == 1 and len(exe.executions) == 2
    assert lines == ["resume: 3 rows measured by other code: re-measuring"]
    assert set(collect(results / "rr")[0][rerun.CODE_COLUMN]) == {"0.1.0+code.changed"}


def test_the_fingerprint_follows_measurement_sources_only(tmp_path: Path) -> None:
    (tmp_path / "metrics").mkdir()
    (tmp_path / "report").mkdir()
    (tmp_path / "metrics" / "timing.py").write_text("A = 1\n")
    (tmp_path / "report" / "html.py").write_text("B = 1\n")
    first = rerun.source_hash(tmp_path)
    (tmp_path / "report" / "html.py").write_text("B = 2\n")
    assert rerun.source_hash(tmp_path) == first  # the report changes no stored number
    (tmp_path / "metrics" / "timing.py").write_text("A = 2\n")
    assert rerun.source_hash(tmp_path) != first


def test_only_picks_groups_by_id_prefix_or_label(write_spec: WriteSpec, tmp_path: Path) -> None:
    path = write_spec({"name": "rr", "kind": "fake", "replications": 2, "grid": {"mode": ["ok", "late"]}})
    plan = groups(expand(load_spec(path)), 2)
    labels = group_labels(plan)
    assert sorted(labels.values()) == ["fake mode=late", "fake mode=late rep 2", "fake mode=ok", "fake mode=ok rep 2"]
    late = [g.group_id for g in select_groups(plan, ["MODE=LATE"])]
    assert len(late) == 2 and late[1] == f"{late[0]}-rep1"
    assert [g.group_id for g in select_groups(plan, [late[0][:8]])] == late
    with pytest.raises(ConfigError) as info:
        select_groups(plan, ["bf16"])
    message = str(info.value)
    assert message.startswith("--only: invalid value 'bf16'; matches no load-time group")
    assert f"{late[0]} (fake mode=late)" in message

    exe = InProcessExecutor()
    result = run_sweep(path, tmp_path / "results", executor=exe, progress=False, only=["late"])
    assert [g for g, _ in exe.executions] == late and result.counts == {"ok": 2}
    manifest = load_manifest(tmp_path / "results" / "rr")
    assert len(manifest["groups"]) == 4  # the others are still part of the sweep, pending
    with pytest.raises(ConfigError):
        run_sweep(path, tmp_path / "results", executor=exe, progress=False, only=["nothing-like-this"])


def test_group_timings_are_stored_and_the_bar_names_groups(
    write_spec: WriteSpec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_spec({"name": "rr", "kind": "fake", "grid": {"mode": ["ok", "late"], "x": [1, 2]}})
    results = tmp_path / "results"
    run_sweep(path, results, executor=InProcessExecutor(), progress=True)
    err = capsys.readouterr().err
    assert "fake mode=ok" in err and "fake mode=late" in err and "4/4 runs" in err
    manifest = json.loads((results / "rr" / "manifest.json").read_text())
    entries = list(manifest["groups"].values())
    assert all(e["measured"] == 2 and e["seconds"] >= 0 for e in entries)
    # A later invocation that runs nothing keeps them (the dry run's estimates read them).
    run_sweep(path, results, executor=InProcessExecutor(), progress=False)
    assert set(stored_timings(results)) == set(manifest["groups"])
