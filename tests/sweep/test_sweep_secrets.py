"""Credentials never reach what a sweep writes: notebook parameters, the manifest, rows, error text, notebooks.

A spec names the credential's environment variable (``redis_url: {env: NAME}``); a literal credential is refused
at validation (and the refusal shows the redacted form). What the driver writes from free text (an error message
that quotes the URL, the executed notebook's outputs) is scrubbed too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from blaze_lab.cli import app
from blaze_lab.sweep.executor import GroupOutput
from blaze_lab.sweep.plan import expand, groups
from blaze_lab.sweep.runner import group_tasks
from blaze_lab.sweep.spec import load_spec
from blaze_lab.sweep.store import new_manifest, read_or_empty, store_output

PASSWORD = "hunter2-secret"
URL = f"redis://:{PASSWORD}@127.0.0.1:6390/0"


def _spec(tmp_path: Path, redis_url: object) -> Path:
    path = tmp_path / "s.yaml"
    data = {"name": "sec", "kind": "serving", "base": {"cache_tiers": ["redis"], "redis_url": redis_url}}
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_literal_credential_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = _spec(tmp_path, URL)
    result = CliRunner().invoke(app, ["sweep", str(path), "--dry-run", "--results", str(tmp_path / "r")])
    assert result.exit_code == 2 and f"{path}:base.redis_url" in result.stderr
    assert PASSWORD not in result.output and PASSWORD not in result.stderr


def test_env_credential_stays_out_of_parameters_manifest_rows_and_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWEEP_TEST_REDIS_URL", URL)
    spec = load_spec(_spec(tmp_path, {"env": "SWEEP_TEST_REDIS_URL"}))
    plan = groups(expand(spec))
    (group,) = plan
    assert group.runs[0].config.secret("redis_url").reveal() == URL  # type: ignore[attr-defined]
    (task,) = group_tasks(spec.name, plan, {group.group_id: set()}, "python3", None)
    parameters = json.dumps(task.parameters, default=str)
    assert PASSWORD not in parameters and "SWEEP_TEST_REDIS_URL" in parameters

    root = tmp_path / "results" / spec.name
    manifest = json.dumps(new_manifest(spec, root, plan, {}, "local", "python3", 0.0), default=str)
    assert PASSWORD not in manifest

    # A failing kernel whose error (and notebook output) quotes the connection URL.
    leak = f"ConnectionError: Error connecting to {URL}: AUTH {PASSWORD} refused"
    notebook = json.dumps({"cells": [{"outputs": [{"text": leak}]}]}).encode()
    output = GroupOutput(group.group_id, None, None, notebook, leak)
    error = store_output(root / group.group_id, spec.name, group, list(group.runs), output, {})
    assert error is not None and PASSWORD not in error and "127.0.0.1:6390" in error
    summary = read_or_empty(root / group.group_id / "summary.parquet")
    assert len(summary) == 1 and summary["status"].tolist() == ["error"]
    assert PASSWORD not in summary.to_json() and "127.0.0.1:6390" in summary.iloc[0]["error"]
    assert PASSWORD not in (root / group.group_id / "executed.ipynb").read_text()
