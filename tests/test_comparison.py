"""blaze-lab compare: two sweeps config by config (independent samples), two configs of one sweep (paired by round)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from blaze_lab.cli import app
from blaze_lab.comparison import compare_configs, compare_sweeps
from blaze_lab.errors import ConfigError

SAMPLE = Path(__file__).resolve().parent / "data" / "sample_sweep"
runner = CliRunner()


def _sweep(root: Path, name: str, speeds: dict[str, float], rounds: int = 8) -> Path:
    """One group, two configs measured interleaved round by round; a shared drift per round."""
    rng = np.random.default_rng(0)
    drift = 1 + 0.3 * rng.standard_normal(rounds)  # large, shared by both configs in a round
    rows = []
    for run_id, speed in speeds.items():
        for r in range(rounds):
            noise = 1 + 0.01 * rng.standard_normal()
            rows.append({"run_id": run_id, "config_hash": f"h-{run_id}", "engine": "llm", "status": "ok",
                         "group": "g", "llm.dtype": run_id, "round": r, "warmup": False,
                         "tokens_per_s": speed * drift[r] * noise})  # fmt: skip
    folder = root / name
    (folder / "g").mkdir(parents=True)
    raw = pd.DataFrame(rows)
    raw.to_parquet(folder / "g" / "raw.parquet")
    raw.drop_duplicates("run_id").to_parquet(folder / "g" / "summary.parquet")
    (folder / "manifest.json").write_text(json.dumps({"groups": {"g": {"kind": "llm", "status": "done"}}}))
    return folder


def test_two_configs_of_one_group_are_paired_so_shared_drift_cancels(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, "s", {"fp32": 100.0, "bf16": 105.0})
    out = compare_configs(sweep, "fp32", "bf16")
    (row,) = out.to_dict("records")
    assert row["method"] == "paired" and row["verdict"] == "faster"
    assert row["ratio_ci_low"] > 1.0 and row["ratio"] == pytest.approx(1.05, abs=0.02)
    # the same calls without the pairing (as two sweeps): the 30% drift swamps a 5% difference
    independent = compare_sweeps(_sweep(tmp_path, "a", {"x": 100.0}), _sweep(tmp_path, "b", {"x": 105.0}))
    assert independent["method"].tolist() == ["welch"]
    assert independent["verdict"].tolist() == ["no difference at this precision"]


def test_two_sweeps_compare_the_configs_they_share(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "a")
    shutil.copytree(SAMPLE, tmp_path / "b")
    out = compare_sweeps(tmp_path / "a", tmp_path / "b", ["tokens_per_s", "ttft_s"])
    assert len(out) == 16 and set(out["verdict"]) == {"no difference at this precision"}  # 8 ok configs x 2
    assert (out["ratio"] == 1.0).all() and (out["ratio_ci_low"] < 1.0).all()


def test_cli_compare_prints_ratios_with_cis_and_refuses_bad_input(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, "s", {"fp32": 100.0, "bf16": 105.0})
    result = runner.invoke(app, ["compare", "fp32", "bf16", "--results", str(sweep)])
    assert result.exit_code == 0, result.output
    header, line = result.output.strip().splitlines()
    assert header.split() == ["config", "metric", "mean_a", "mean_b", "ratio", "95%", "CI", "method", "verdict"]
    assert line.split()[:3] == ["fp32", "vs", "bf16"] and line.split()[-2:] == ["paired", "faster"]
    bad = runner.invoke(app, ["compare", "fp32", "nope", "--results", str(sweep)])
    assert bad.exit_code == 2 and "compare: invalid value 'nope'; matches no run" in bad.output
    metric = runner.invoke(app, ["compare", "fp32", "bf16", "--results", str(sweep), "--metric", "speed"])
    assert metric.exit_code == 2 and "--metric: invalid value 'speed'; allowed: tokens_per_s" in metric.output
    neither = runner.invoke(app, ["compare", "x", "y"])
    assert neither.exit_code == 2 and "give two sweep folders, or two runs with --results" in neither.output
    with pytest.raises(ConfigError, match="no config measured"):
        compare_sweeps(sweep, _sweep(tmp_path, "other", {"zz": 1.0}))


def test_default_metric_falls_back_to_what_raw_rows_hold() -> None:
    import pandas as pd

    from blaze_lab.comparison import _metrics

    raw = pd.DataFrame({"engine": ["llm", "diffusion"], "tokens_per_s_call": [3.0, None], "latency_s": [1.0, 2.0]})
    assert _metrics(raw, None) == ["tokens_per_s_call", "latency_s"]
