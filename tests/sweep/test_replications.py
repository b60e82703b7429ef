"""Replications: every load-time group runs k times in separate kernels, interleaved; collect combines them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.sweep.collect import collect
from blaze_lab.sweep.plan import expand, groups
from blaze_lab.sweep.runner import run_sweep
from blaze_lab.sweep.spec import load_spec

WriteSpec = Callable[..., Path]


def test_groups_are_replicated_interleaved_with_the_same_run_ids(write_spec: WriteSpec) -> None:
    spec = load_spec(write_spec({"kind": "fake", "grid": {"model": ["a", "b"]}, "replications": 3}))
    assert spec.replications == 3
    plan = groups(expand(spec), spec.replications)
    base = [g.group_id for g in plan[:2]]
    assert [g.group_id for g in plan] == [*base, *(f"{b}-rep1" for b in base), *(f"{b}-rep2" for b in base)]
    assert [g.replication for g in plan] == [0, 0, 1, 1, 2, 2]  # A B A B A B, not A A A B B B
    assert plan[0].run_ids == plan[2].run_ids


@pytest.mark.parametrize("value", [0, 21, "2", True])
def test_bad_replications_are_refused(write_spec: WriteSpec, value: object) -> None:
    with pytest.raises(ConfigError, match=r"spec\.yaml:replications: .*must be an integer in 1\.\.20"):
        load_spec(write_spec({"kind": "fake", "replications": value}))


def test_a_replicated_sweep_runs_each_group_in_its_own_kernel_and_collect_combines(
    write_spec: WriteSpec, tmp_path: Path, execution_log: Callable[[], list[list[str]]]
) -> None:
    path = write_spec({"name": "rep", "kind": "fake", "grid": {"model": ["a", "b"], "x": [1, 2]}})
    result = run_sweep(path, results_root=tmp_path / "results", progress=False, replications=2)
    executed = [line[0] for line in execution_log()]
    assert len(executed) == 4 and executed[2] == f"{executed[0]}-rep1" and executed[3] == f"{executed[1]}-rep1"
    per_rep, raw = collect(result.results_dir, combine=False)
    assert len(per_rep) == 8 and sorted(per_rep["replication"].unique()) == [0, 1]
    assert set(raw["replication"]) == {0, 1}
    combined, _ = collect(result.results_dir)
    assert len(combined) == 4 and combined["run_id"].is_unique and (combined["replications"] == 2).all()
    # resuming does nothing: every replication is complete
    again = run_sweep(path, results_root=tmp_path / "results", progress=False, replications=2)
    assert again.executed == () and len(execution_log()) == 4


def test_a_part_may_set_its_own_replications(write_spec: WriteSpec) -> None:
    spec = load_spec(write_spec({"replications": 2, "parts": [
        {"name": "timed", "kind": "fake", "base": {"model": "a"}},
        {"name": "sim", "kind": "fake", "base": {"model": "b"}, "replications": 1},
    ]}))  # fmt: skip
    assert spec.part_replications() == {"timed": 2, "sim": 1}
    plan = groups(expand(spec), spec.part_replications())
    assert [(g.part, g.replication) for g in plan] == [("timed", 0), ("sim", 0), ("timed", 1)]
    assert spec.part_replications(3) == {"timed": 3, "sim": 3}  # --replications wins
