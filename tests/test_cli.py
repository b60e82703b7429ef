"""The blaze-lab CLI: dry runs write nothing, blaze_lab errors are one red line with exit code 2, a sweep ends
with the report path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from blaze_lab import kinds
from blaze_lab.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _fake_kind() -> kinds.Kind:
    """The sweep tests' fake engine kind (tests/sweep/fake_kind.py): a config class and a model-free notebook."""
    location = Path(__file__).resolve().parent / "sweep" / "fake_kind.py"
    module_spec = importlib.util.spec_from_file_location("cli_fake_kind", location)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["cli_fake_kind"] = module  # dataclasses resolve annotations through sys.modules
    module_spec.loader.exec_module(module)
    return module.FAKE_KIND  # type: ignore[no-any-return]


def test_dry_run_prints_runs_and_groups_and_writes_nothing(tmp_path: Path) -> None:
    results = tmp_path / "results"
    result = runner.invoke(
        app, ["sweep", str(ROOT / "experiments" / "quickstart.yaml"), "--dry-run", "--results", str(results)]
    )
    assert result.exit_code == 0, result.output
    # 10 LLM runs (5 groups) + 4 diffusion runs (2 groups) + 12 simulated router runs (1 group)
    assert "26 runs in 8 load-time groups" in result.output
    # one table per part, columns = the fields varying within it; groups named by the report's label formatter
    assert "llm bf16 · quant=torchao-int4-weight-only" in result.output and "sd offload=model" in result.output
    assert "dry run: nothing executed or written" in result.output
    assert not results.exists()


def test_malformed_spec_is_one_red_error_line_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"kind": "llm", "grid": {"quantization": ["none", "int3"]}}))
    result = runner.invoke(app, ["sweep", str(path), "--results", str(tmp_path / "results")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}:grid.quantization[1]: invalid value 'int3'")
    assert "allowed: none, bnb-8bit" in lines[0] and "Traceback" not in result.output
    assert not (tmp_path / "results").exists()


def test_unknown_executor_and_missing_results_are_errors(tmp_path: Path) -> None:
    spec = ROOT / "experiments" / "quickstart.yaml"
    result = runner.invoke(app, ["sweep", str(spec), "--executor", "slurm", "--results", str(tmp_path / "r")])
    assert result.exit_code == 2 and "error: executor: invalid value 'slurm'; allowed: local, ray" in result.output
    assert not (tmp_path / "r").exists()
    result = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and result.output.startswith("error: ")


def test_sweep_runs_and_prints_the_report_path_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(kinds.KINDS, "fake", _fake_kind())
    monkeypatch.delenv("BLAZE_TEST_LOG", raising=False)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "cli", "kind": "fake", "grid": {"x": [1, 2]}}))
    result = runner.invoke(app, ["sweep", str(path), "--results", str(tmp_path / "results")])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    report = tmp_path / "results" / "cli" / "report.html"
    assert lines[-1] == str(report) and report.is_file()
    assert "cli: 2 ok (1 groups run, 0 already complete)" in result.output


def test_env_and_models_list() -> None:
    result = runner.invoke(app, ["env"])
    assert result.exit_code == 0 and "env.python: " in result.output
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "smollm2-135m" in result.output and "random:tiny-llama" in result.output


def test_exit_codes_failed_runs_are_1_unless_allowed_and_png_failure_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blaze_lab.errors import ReportError

    monkeypatch.setitem(kinds.KINDS, "fake", _fake_kind())
    monkeypatch.delenv("BLAZE_TEST_LOG", raising=False)
    results = tmp_path / "results"
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump({"name": "failing", "kind": "fake", "grid": {"mode": ["ok", "raise"]}}))
    result = runner.invoke(app, ["sweep", str(path), "--results", str(results), "--no-report"])
    assert result.exit_code == 1, result.output
    # (stderr also carries the progress bar)
    assert result.stderr.strip().splitlines()[-1] == (
        "failed runs: 1 error (their error column says why; --allow-failures exits 0)"
    )
    assert result.stdout.strip().splitlines()[-1] == str(results / "failing")  # the results are still there
    result = runner.invoke(app, ["sweep", str(path), "--results", str(results), "--no-report", "--allow-failures"])
    assert result.exit_code == 0, result.output

    def broken_export(*args: object, **kwargs: object) -> None:
        raise ReportError("PNG export with chromium failed: it crashed")

    monkeypatch.setattr("blaze_lab.report.html.export_pngs", broken_export)
    path.write_text(yaml.safe_dump({"name": "pngfail", "kind": "fake", "grid": {"x": [1, 2]}}))
    result = runner.invoke(app, ["sweep", str(path), "--results", str(results)])
    assert result.exit_code == 0, result.output
    report = results / "pngfail" / "report.html"
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == str(report) and report.is_file()
    assert any(line.startswith("warning: PNG export with chromium failed") for line in lines)
