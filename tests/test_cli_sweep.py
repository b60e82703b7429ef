"""``blaze-lab sweep`` rerun flags and exit codes, the end-of-sweep tables, the dry run's estimates, and
``blaze-lab report`` over several sweeps. The fake kind is measured in-process (no kernel starts): seconds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from blaze_lab import kinds
from blaze_lab.cli import app
from blaze_lab.sweep import executor

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "data" / "sample_sweep"
runner = CliRunner()


@pytest.fixture
def fake_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A spec of the fake kind (groups mode=ok and mode=raise, 2 runs each; flavor b rows are flagged invalid with
    n=1), measured by the in-process executor standing in for "local"."""
    monkeypatch.syspath_prepend(str(HERE / "sweep"))
    from fake_kind import FAKE_KIND
    from inprocess import InProcessExecutor

    monkeypatch.setitem(kinds.KINDS, "fake", FAKE_KIND)
    monkeypatch.setitem(executor.EXECUTORS, "local", InProcessExecutor)
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump({"name": "flags", "kind": "fake", "grid": {"mode": ["ok", "raise"],
                                                                              "flavor": ["a", "b"]}}))  # fmt: skip
    return path


def _sweep(path: Path, *args: str) -> object:
    return runner.invoke(app, ["sweep", str(path), "--results", str(path.parent / "results"), "--no-report", *args])


def test_rerun_flags_only_and_exit_codes(fake_sweep: Path) -> None:
    first = _sweep(fake_sweep)
    assert first.exit_code == 1, first.output  # error rows: exit 1
    out = first.stdout
    assert "flags: 2 error, 2 ok (2 groups run, 0 already complete)" in out
    assert "invalid rows (1: measured, but flagged" in out and "n=1: too few samples" in out
    assert "rows without measurements (2)" in out and "RuntimeError: boom" in out
    assert out.strip().splitlines()[-1] == str(fake_sweep.parent / "results" / "flags")
    assert all(len(line) <= 120 for line in out.splitlines())

    bad = _sweep(fake_sweep, "--only", "nosuch")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    line = bad.stderr.strip()
    assert line.startswith("error: --only: invalid value 'nosuch'; matches no load-time group; allowed: fake-")
    assert "(fake mode=ok)" in line and "(fake mode=raise)" in line

    invalid = _sweep(fake_sweep, "--rerun-invalid", "--only", "mode=ok")
    assert invalid.exit_code == 1  # the error rows of the other group still count
    assert "resume: 1 rows complete (skipped); 1 invalid rows re-measured (--rerun-invalid)" in invalid.stderr
    assert "(1 groups run, 1 already complete, others left out by --only)" in invalid.stdout

    forced = _sweep(fake_sweep, "--force", "--only", "ok", "--allow-failures")
    assert forced.exit_code == 0 and "resume: 2 rows re-measured (--force)" in forced.stderr

    plain = _sweep(fake_sweep, "--no-retry-errors", "--allow-failures")
    assert plain.exit_code == 0 and "(0 groups run, 2 already complete)" in plain.stdout


def test_dry_run_estimates_from_stored_timings_and_force(fake_sweep: Path) -> None:
    before = runner.invoke(app, ["sweep", str(fake_sweep), "--dry-run", "--results", str(fake_sweep.parent / "r")])
    assert before.exit_code == 0, before.output
    assert "part fake (fake): 4 runs, 2 load-time groups, 2 kernels, ~" in before.output
    assert "(rough model)" in before.output
    assert "estimate: rough model (2-core CPU) per kernel: fake 10 s + 10 s/run" in before.output
    header = next(line for line in before.output.splitlines() if line.strip().startswith("run_id"))
    assert header.split() == ["run_id", "mode", "flavor", "group", "done"]  # only the varying fields
    _sweep(fake_sweep, "--results", str(fake_sweep.parent / "r"))
    results = ["--results", str(fake_sweep.parent / "r")]
    after = runner.invoke(app, ["sweep", str(fake_sweep), "--dry-run", *results])
    assert "2 kernels (1 to run), ~0 s (from earlier runs of these groups)" in after.output  # the error rows' group
    assert "estimate: earlier runs = the groups' last stored wall time per run" in after.output
    assert "1/1" in after.output and "0/1" in after.output
    trusted = runner.invoke(app, ["sweep", str(fake_sweep), "--dry-run", "--no-retry-errors", *results])
    assert "total: nothing to run (every run is complete; --force re-measures)" in trusted.output
    forced = runner.invoke(app, ["sweep", str(fake_sweep), "--dry-run", "--force", *results])
    assert "total: ~0 s for 4 run executions in 2 kernels (from earlier runs of these groups)" in forced.output
    only = runner.invoke(app, ["sweep", str(fake_sweep), "--dry-run", "--force", "--only", "ok", *results])
    assert "2 kernels (1 to run)" in only.output and "for 2 run executions in 1 kernel" in only.output
    # "done" = stored and trusted: the ok group's rows (forced anyway), not the error rows of the group left out
    assert only.output.count("1/1") == 2 and only.output.count("0/1") == 2


def test_dry_run_of_the_quickstart_is_one_compact_table_per_part(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["sweep", str(HERE.parent / "experiments" / "quickstart.yaml"), "--dry-run", "--results", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "sweep quickstart: 26 runs in 8 load-time groups, 15 kernel executions (replications included)"
    unbounded = ("spec: ", "dry run: ")  # lines that hold a path
    assert all(len(line) <= 120 for line in lines if not line.startswith(unbounded)), max(lines, key=len)
    parts = [line for line in lines if line.startswith("part ")]
    assert [p.split(":")[0] for p in parts] == ["part llm (llm)", "part sd (diffusion)", "part router (router)"]
    assert "10 runs, 5 load-time groups, 10 kernels" in parts[0] and "rough model" in parts[0]
    headers = [lines[lines.index(p) + 1].split() for p in parts]
    assert headers == [
        ["run_id", "dtype", "quantization", "batch_size", "group", "done"],
        ["run_id", "attention", "vae_slicing", "offload", "group", "done"],
        ["run_id", "strategy", "seed", "group", "done"],
    ]
    assert "llm bf16 · quant=torchao-int4-weight-only" in result.output  # the group label --only accepts
    assert any(line.startswith("total: ~") and "40 run executions in 15 kernels" in line for line in lines)
    assert not list(tmp_path.iterdir())


def test_report_over_two_sweeps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("blaze_lab.report.html.export_pngs", lambda *a, **k: [])
    for name in ("a", "b"):
        shutil.copytree(SAMPLE, tmp_path / name)
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        (tmp_path / name / "manifest.json").write_text(json.dumps({**manifest, "sweep": f"sweep-{name}"}))
    result = runner.invoke(app, ["report", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    page_path = Path(result.output.strip().splitlines()[-1])
    assert page_path == tmp_path / "report-a+b.html"
    page = page_path.read_text()
    from plotly.offline import get_plotlyjs

    assert page.count(get_plotlyjs()[:300]) == 1  # plotly.js once for both sweeps
    assert 'href="#sweep-sweep_a"' in page and 'id="sweep-sweep_b"' in page
    assert "<h1>Sweep sweep-a</h1>" in page and "<h1>Sweep sweep-b</h1>" in page
    ids = [part.split('"')[0] for part in page.split(' id="')[1:]]
    assert len(ids) == len(set(ids))  # no anchor of one sweep shadows the other's
    missing = runner.invoke(app, ["report", str(tmp_path / "a"), str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and missing.output.startswith("error: ")


def test_every_help_has_examples() -> None:
    root = runner.invoke(app, ["--help"], terminal_width=120)
    assert root.exit_code == 0 and "Examples:" in root.output
    sweep = runner.invoke(app, ["sweep", "--help"], terminal_width=120)
    for flag in ("--force", "--rerun-invalid", "--only"):
        assert flag in sweep.output
    assert "blaze-lab sweep SPEC --rerun-invalid" in sweep.output
