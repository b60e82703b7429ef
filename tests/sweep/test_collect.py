"""collect: a sweep's parquet files -> one summary and one raw frame; temporaries and dropped groups ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from blaze_lab.errors import ReportError
from blaze_lab.sweep.collect import collect, load_manifest


def test_collect_reads_only_the_manifest_groups(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    for name, rows in (("g1", [{"run_id": "a", "status": "ok"}]), ("old", [{"run_id": "z", "status": "ok"}])):
        (root / name).mkdir(parents=True)
        pd.DataFrame(rows).to_parquet(root / name / "summary.parquet")
    (root / "g1" / ".summary.parquet.tmp-1").write_bytes(b"half")
    assert sorted(collect(root)[0]["run_id"]) == ["a", "z"]  # no manifest: every group folder with a summary
    (root / "manifest.json").write_text(json.dumps({"groups": {"g1": {}, "g2": {}}}))
    summary, raw = collect(root)
    assert list(summary["run_id"]) == ["a"] and raw.empty  # g2 not run yet, "old" not in the sweep
    (root / "manifest.json").write_text(json.dumps({"groups": {"g1": {"run_ids": ["b"]}, "old": {}}}))
    assert list(collect(root)[0]["run_id"]) == ["z"]  # run "a" is from an earlier spec/code version


def test_missing_or_broken_results_raise_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="results folder not found"):
        collect(tmp_path / "nowhere")
    with pytest.raises(ReportError, match="no manifest"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{half")
    with pytest.raises(ReportError, match="unreadable manifest"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"groups": {"g": {}}}))
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "summary.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ReportError, match="unreadable parquet"):
        collect(tmp_path)
