"""blaze-lab ls / export / --version / help examples / models prepare output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from blaze_lab.cli import app
from blaze_lab.cli_results import EXAMPLES

SAMPLE = Path(__file__).resolve().parent / "data" / "sample_sweep"
runner = CliRunner()


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    shutil.copytree(SAMPLE, root / "quick")
    manifest = json.loads((root / "quick" / "manifest.json").read_text())
    first = next(iter(manifest["groups"]))
    manifest["groups"][first]["status"] = "pending"  # an interrupted sweep
    manifest["started"] = "2026-11-20T10:00:00+00:00"
    (root / "published" / "old").mkdir(parents=True)
    (root / "published" / "old" / "manifest.json").write_text(json.dumps(manifest))
    (root / "broken").mkdir()
    (root / "broken" / "manifest.json").write_text("{not json")
    (root / "not-a-sweep").mkdir()
    return root


def test_ls_lists_each_sweep_with_status_start_groups_and_counts(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ls", str(_root(tmp_path))])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["sweep", "status", "started", "groups", "runs", "counts", "kinds"]
    assert lines[1].split() == ["quick", "complete", "2026-11-26", "04:00", "5/5", "9", "8", "ok,", "1", "unsupported",
                                "llm"]  # fmt: skip
    assert lines[2].split()[:5] == ["published/old", "incomplete", "2026-11-20", "10:00", "4/5"]
    assert lines[3].split()[:2] == ["broken", "unreadable"] and len(lines) == 4


def test_ls_of_an_empty_or_missing_root(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ls", str(tmp_path)])
    assert result.exit_code == 0 and "no sweeps under" in result.output
    result = runner.invoke(app, ["ls", str(tmp_path / "nope")])
    assert result.exit_code == 2 and result.output.startswith("error: ") and "results folder not found" in result.output


def test_export_csv_and_json_round_trip(tmp_path: Path) -> None:
    root = _root(tmp_path)
    result = runner.invoke(app, ["export", str(root / "quick"), "--csv"])
    assert result.exit_code == 0, result.output
    written = Path(result.output.strip())
    assert written == root / "quick" / "summary.csv"
    frame = pd.read_csv(written)
    assert len(frame) == 9 and frame["llm.batch_size"].dtype == "int64"
    out = tmp_path / "llm.json"
    result = runner.invoke(
        app, ["export", str(root / "quick"), "--json", "--kind", "llm", "--columns", "headline", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())
    assert len(records) == 9 and {"run_id", "llm.dtype", "tokens_per_s_ci_low"} <= set(records[0])
    assert isinstance(records[0]["llm.batch_size"], int) and "env.cpu" not in records[0]
    raw = runner.invoke(app, ["export", str(root / "quick"), "--csv", "--raw"])
    assert raw.exit_code == 0 and len(pd.read_csv(raw.output.strip())) == 80


def test_export_refuses_bad_choices_in_one_line(tmp_path: Path) -> None:
    root = _root(tmp_path)
    both = runner.invoke(app, ["export", str(root / "quick"), "--csv", "--json"])
    assert both.exit_code == 2 and both.output.strip() == "error: format: invalid value '--csv --json'; choose one"
    kind = runner.invoke(app, ["export", str(root / "quick"), "--kind", "asr"])
    assert kind.exit_code == 2 and "kind: invalid value 'asr'; allowed: diffusion, llm" in kind.output


def test_version_and_examples_in_every_help() -> None:
    from blaze_lab import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"blaze-lab {__version__}"
    for command in (["sweep"], ["report"], ["models"], ["models", "prepare"], ["env"], ["ls"], ["export"], ["compare"]):
        result = runner.invoke(app, [*command, "--help"], terminal_width=100)
        assert result.exit_code == 0, command
        assert "Examples:" in result.output, command
        first = EXAMPLES[command[-1]].splitlines()[0].split("#")[0].strip()
        assert first in result.output, command


def test_models_prepare_prints_its_path_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLAZE_LAB_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(app, ["models", "prepare", "random:tiny-llama"])
    assert result.exit_code == 0, result.output
    path = str(tmp_path / "cache")
    lines = [line for line in result.output.splitlines() if path in line]
    assert len(lines) == 1 and lines[0].startswith("random:tiny-llama: ") and lines[0].endswith("MB)")


def test_foreign_log_lines_are_dropped_only_inside_the_block(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from blaze_lab.models.quiet import quiet_foreign_output

    torchao = logging.getLogger("torchao")
    with caplog.at_level(logging.WARNING), quiet_foreign_output():
        torchao.warning("Failed to load /x/torchao/_C_mxfp8.cpython-310-x86_64-linux-gnu.so: Could not load")
        torchao.warning("something else went wrong")
        logging.getLogger("torch.utils._pytree").warning(
            "%s is an Enum subclass and is now natively supported by torch.compile as an opaque value type.",
            "<enum 'KernelPreference'>",
        )
    torchao.warning("Failed to load /x/y.so: after the block")
    kept = [r.getMessage() for r in caplog.records]
    assert kept == ["something else went wrong", "Failed to load /x/y.so: after the block"]
