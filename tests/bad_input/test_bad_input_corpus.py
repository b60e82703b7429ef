"""Every spec of the bad-input corpus is refused the same way, by ``--dry-run`` and by a real run alike.

For each case: exit code 2, exactly one line on stderr naming the file and the field (or line), no traceback,
nothing written under the results folder. A few cases also run as a real subprocess (what a user sees), and the
two "denial of service" specs are timed: refused in under a second.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from corpus import CASES, Case
from typer.testing import CliRunner

from blaze_lab.cli import app
from blaze_lab.errors import ConfigError
from blaze_lab.sweep.spec import load_spec

runner = CliRunner()


def _write(tmp_path: Path, case: Case) -> Path:
    path = tmp_path / f"{case.id}.yaml"
    path.write_bytes(case.content)
    return path


def _check_refusal(path: Path, case: Case, exit_code: int, stderr: str, results: Path) -> None:
    assert exit_code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert "Traceback" not in stderr
    prefix = f"error: {path}" + (f":{case.where}" if case.where is not None else "")
    assert line.startswith(prefix), f"expected {prefix!r}, got {line!r}"
    assert case.detail in line, line
    assert len(line) < 700, f"{len(line)} characters"  # a bounded message, whatever the value
    assert not results.exists() or not any(results.rglob("*")), sorted(results.rglob("*"))


def test_the_corpus_is_large_and_distinct() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_spec_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, case: Case, dry_run: bool) -> None:
    path = _write(tmp_path, case)
    results = tmp_path / "results"
    args = ["sweep", str(path), "--results", str(results), "--no-report", *(["--dry-run"] if dry_run else [])]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, SystemExit), result.exception  # anything else would be a traceback
    _check_refusal(path, case, result.exit_code, result.stderr, results)


@pytest.mark.parametrize("case_id", ["not-utf8", "alias-bomb", "grid-1e9-runs", "seed-overflow"])
def test_as_a_user_sees_it_in_a_subprocess(tmp_path: Path, case_id: str) -> None:
    case = next(c for c in CASES if c.id == case_id)
    path = _write(tmp_path, case)
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "blaze_lab", "sweep", str(path), "--results", str(results)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout == ""
    _check_refusal(path, case, proc.returncode, proc.stderr, results)


@pytest.mark.parametrize("case_id", ["grid-1e9-runs", "alias-bomb"])
def test_denial_of_service_specs_are_refused_in_under_a_second(tmp_path: Path, case_id: str) -> None:
    path = _write(tmp_path, next(c for c in CASES if c.id == case_id))
    started = time.perf_counter()
    with pytest.raises(ConfigError) as exc:
        load_spec(path)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    assert ("1000000000 runs" in str(exc.value)) or ("100000 values" in str(exc.value))
