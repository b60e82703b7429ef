"""Spec loading: strict validation with file:field messages, expansion, run ids and load-time groups."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_kind import NOTEBOOK, FakeConfig

from blaze_lab.errors import ConfigError
from blaze_lab.sweep.notebook import NOTEBOOK_PARAMETERS
from blaze_lab.sweep.plan import expand, groups
from blaze_lab.sweep.spec import load_spec

WriteSpec = Callable[..., Path]


def _refused(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_single_kind_spec_expands_grid_times_zip(write_spec: WriteSpec) -> None:
    path = write_spec(
        {
            "name": "demo",
            "kind": "fake",
            "base": {"model": "m1"},
            "grid": {"x": [1, 2, 3]},
            "zip": {"mode": ["ok", "oom"], "flavor": ["a", "b"]},
            "measure": {"warmup": 0, "min_iters": 2},
        }
    )
    spec = load_spec(path)
    runs = expand(spec)
    assert spec.name == "demo" and spec.kinds == ("fake",)
    assert [(r.config.mode, r.config.flavor, r.config.x) for r in runs] == [
        ("ok", "a", 1), ("ok", "a", 2), ("ok", "a", 3), ("oom", "b", 1), ("oom", "b", 2), ("oom", "b", 3),
    ]  # fmt: skip
    assert all(isinstance(r.config, FakeConfig) and r.config.model == "m1" for r in runs)
    assert len({r.run_id for r in runs}) == 6
    grouped = groups(runs)
    assert [len(g.runs) for g in grouped] == [3, 3]  # mode is load-time, x is run-time
    assert grouped[0].group_id == f"fake-{runs[0].config.load_hash()}"
    assert runs[0].params() == {"run_id": runs[0].run_id, "config": runs[0].config.to_dict()}
    assert dict(runs[0].measure) == {"warmup": 0, "min_iters": 2}


def test_run_ids_are_stable_and_follow_code_and_measure(write_spec: WriteSpec, tmp_path: Path) -> None:
    data = {"kind": "fake", "grid": {"x": [1, 2]}}
    ids = [r.run_id for r in expand(load_spec(write_spec(data)))]
    assert ids == [r.run_id for r in expand(load_spec(write_spec(data, "again.yaml")))]
    measured = [r.run_id for r in expand(load_spec(write_spec({**data, "measure": {"warmup": 3}}, "m.yaml")))]
    assert set(measured).isdisjoint(ids)
    # Editing the notebook's code changes the code version; outputs/metadata do not.
    nb = json.loads(NOTEBOOK.read_text())
    nb["metadata"]["touched"] = True
    copy = tmp_path / "copy.ipynb"
    copy.write_text(json.dumps(nb))
    same = [r.run_id for r in expand(load_spec(write_spec({**data, "notebook": str(copy)}, "c.yaml")))]
    assert same == ids
    nb["cells"][2]["source"] += "\n# changed"
    copy.write_text(json.dumps(nb))
    changed = [r.run_id for r in expand(load_spec(write_spec({**data, "notebook": str(copy)}, "d.yaml")))]
    assert set(changed).isdisjoint(ids)


def test_parts_hold_several_sub_experiments(write_spec: WriteSpec) -> None:
    path = write_spec(
        {
            "name": "multi",
            "measure": {"warmup": 0},
            "parts": [
                {"kind": "fake", "grid": {"x": [1, 2]}},
                {"name": "second", "kind": "fake", "base": {"model": "m2"}, "measure": {"min_iters": 5}},
            ],
        }
    )
    spec = load_spec(path)
    runs = expand(spec)
    assert [p.name for p in spec.parts] == ["fake", "second"]
    assert [r.part for r in runs] == ["fake", "fake", "second"]
    assert dict(runs[2].measure) == {"warmup": 0, "min_iters": 5}
    assert [g.group_id.split("-")[0] for g in groups(runs)] == ["fake", "second"]


def test_reference_is_base_with_overrides(write_spec: WriteSpec) -> None:
    spec = load_spec(
        write_spec({"kind": "fake", "base": {"x": 4}, "grid": {"flavor": ["a", "b"]}, "reference": {"flavor": "b"}})
    )
    runs = expand(spec)
    assert runs[0].reference == FakeConfig(x=4, flavor="b")
    assert groups(runs)[0].reference == FakeConfig(x=4, flavor="b")


@pytest.mark.parametrize(
    ("data", "field", "detail"),
    [
        ({"kind": "fake", "grdi": {}}, "spec.yaml:grdi", "allowed: name, description, kind"),
        ({"kind": "fake", "grid": {"y": [1]}}, "spec.yaml:grid.y", "allowed: model, mode, x, flavor"),
        ({"kind": "fake", "base": {"x": "three"}}, "spec.yaml:base.x", "wrong type str"),
        ({"kind": "fake", "grid": {"x": 3}}, "spec.yaml:grid.x", "must be a list"),
        ({"kind": "fake", "grid": {"x": []}}, "spec.yaml:grid.x", "empty list"),
        ({"kind": "fake", "grid": {"mode": ["ok", "ok", "turbo"]}}, "spec.yaml:grid.mode[2]", "allowed: ok, raise"),
        (
            {"kind": "fake", "zip": {"x": [1, 2], "flavor": ["a"]}},
            "spec.yaml:zip.flavor",
            "has 1 values but zip.x has 2",
        ),
        ({"kind": "fake", "zip": {"flavor": ["a", "c"]}}, "spec.yaml:zip.flavor[1]", "allowed: a, b"),
        ({"kind": "fake", "reference": {"x": -1}}, "spec.yaml:reference.x", "must be >= 0"),
        ({"kind": "fake", "measure": {"warmup": "1"}}, "spec.yaml:measure.warmup", "wrong type str"),
        ({"kind": "fake", "measure": {"iters": 1}}, "spec.yaml:measure.iters", "warmup_max_s, min_iters"),
        ({"kind": "fast"}, "spec.yaml:kind", "allowed: diffusion, fake, llm, router, serving"),
        ({"base": {}}, "spec.yaml:kind", "required"),
        ({"kind": "fake", "name": "a b"}, "spec.yaml:name", "folder name"),
        ({"kind": "fake", "grid": {"x": [1, 1]}}, "spec.yaml:grid.x[1]", "same run as grid.x[0]"),
        ({"kind": "fake", "parts": []}, "spec.yaml:kind", "not allowed beside 'parts'"),
        ({"parts": [{"kind": "fake", "grid": {"x": [1, -2]}}]}, "spec.yaml:parts[0].grid.x[1]", "must be >= 0"),
        ({"kind": "fake", "notebook": "nope.ipynb"}, "spec.yaml:notebook", "notebook not found"),
    ],
)
def test_malformed_specs_are_refused_with_file_and_field(
    write_spec: WriteSpec, tmp_path: Path, data: dict, field: str, detail: str
) -> None:
    message = _refused(write_spec(data))
    assert message.startswith(f"{tmp_path}/{field}: "), message
    assert detail in message, message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: fake\ngrid: {x: [1, 2}\n")
    message = _refused(path)
    assert f"{path}:2" in message and "invalid YAML" in message


@pytest.mark.parametrize(
    ("edit", "detail"),
    [
        (lambda src: src.replace('raw_path = "raw.parquet"', ""), "lacks parameter 'raw_path'"),
        (lambda src: src + "\nbatch = 4", "unknown parameter 'batch'"),
    ],
)
def test_notebook_parameters_must_match_the_contract(
    write_spec: WriteSpec, tmp_path: Path, edit: Callable[[str], str], detail: str
) -> None:
    nb = json.loads(NOTEBOOK.read_text())
    nb["cells"][0]["source"] = edit("".join(nb["cells"][0]["source"]))
    bad = tmp_path / "bad.ipynb"
    bad.write_text(json.dumps(nb))
    path = write_spec({"kind": "fake", "notebook": str(bad)})
    message = _refused(path)
    assert message.startswith(f"{path}:notebook:"), message
    assert str(bad) in message and detail in message
    assert "allowed: " + ", ".join(NOTEBOOK_PARAMETERS) in message


def test_run_cap_is_configurable_and_checked_before_expansion(
    write_spec: WriteSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blaze_lab.sweep import plan

    built: list[str] = []
    real = plan._expand_part
    monkeypatch.setattr(plan, "_expand_part", lambda part: built.append(part.name) or real(part))
    path = write_spec({"kind": "fake", "grid": {"x": list(range(30))}, "max_runs": 20})
    with pytest.raises(ConfigError, match=r"spec\.yaml:grid: .*30 runs, more than max_runs=20"):
        load_spec(path)
    assert built == []  # refused from the axis lengths: nothing was built
    assert len(load_spec(path, max_runs=30).runs) == 30  # --max-runs overrides the spec's own cap
    built.clear()
    spec = load_spec(write_spec({"kind": "fake", "grid": {"x": [1, 2]}}))
    assert built == ["fake"]  # validation expands once ...
    runs = expand(spec)
    groups(runs)
    assert built == ["fake"] and runs == list(spec.runs)  # ... and later steps reuse those runs


def test_stale_scratch_of_dead_drivers_is_removed_and_live_ones_kept(tmp_path: Path) -> None:
    import subprocess
    import sys

    from blaze_lab.sweep.executor import remove_stale_scratch, scratch_prefix

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f"blaze-g1-pid{dead_pid}-abc"
    live = tmp_path / f"{scratch_prefix('g1')}def"  # this process: alive
    other = tmp_path / f"blaze-g10-pid{dead_pid}-abc"  # another group whose name starts alike
    for folder in (stale, live, other):
        folder.mkdir()
        (folder / "kernel-connection.json").write_text("{}")
    assert remove_stale_scratch("g1", tmp_path) == [stale]
    assert not stale.exists() and live.exists() and other.exists()
