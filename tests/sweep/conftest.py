"""Fixtures for the sweep tests: the fake engine kind registered, a spec writer, an execution log."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_kind import FAKE_KIND

from blaze_lab import kinds

# The fake notebook is a fixture of the runner tests, not a product notebook: nbval must not execute it.
collect_ignore = ["notebooks"]


@pytest.fixture
def fake_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(kinds.KINDS, "fake", FAKE_KIND)


@pytest.fixture
def write_spec(tmp_path: Path, fake_kind: None) -> Callable[..., Path]:
    """write_spec({...}, name="s.yaml") -> path of a YAML spec in tmp_path."""

    def write(data: dict[str, Any], name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


@pytest.fixture
def execution_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[list[str]]]:
    """Each fake-notebook execution appends "<group> <run_id>..."; the fixture returns a reader."""
    log = tmp_path / "executions.log"
    monkeypatch.setenv("BLAZE_TEST_LOG", str(log))

    def read() -> list[list[str]]:
        return [line.split() for line in log.read_text().splitlines()] if log.exists() else []

    return read
