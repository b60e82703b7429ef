"""load_results: one call from a results folder to a typed frame; select and query by dotted config names."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import blaze_lab
from blaze_lab.errors import ConfigError, ReportError
from blaze_lab.results import load_results, select

SAMPLE = Path(__file__).resolve().parent / "data" / "sample_sweep"


def _mixed_sweep(root: Path) -> Path:
    """A two-kind sweep folder as the runner writes it (manifest + one parquet pair per group)."""
    llm = pd.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "engine": "llm",
            "status": ["ok", "ok", "unsupported"],
            "llm.dtype": ["fp32", "bf16", "fp32"],
            "llm.batch_size": [1, 8, 1],
            "llm.torch_compile": [False, False, True],
            "tokens_per_s_mean": [14.1, 127.3, None],
            "tokens_per_s_ci_low": [13.0, 120.0, None],
            "tokens_per_s_ci_high": [15.0, 130.0, None],
            "env.cpu": "cpu",
        }
    )
    diffusion = pd.DataFrame(
        {
            "run_id": ["d", "e"],
            "engine": "diffusion",
            "status": ["ok", "ok"],
            "diffusion.vae_slicing": [True, False],
            "diffusion.steps": [2, 2],
            "images_per_s_mean": [1.5, 1.4],
        }
    )
    sweep = root / "mixed"
    for group, frame in (("g-llm", llm), ("g-diffusion", diffusion)):
        (sweep / group).mkdir(parents=True)
        frame.to_parquet(sweep / group / "summary.parquet")
        frame.assign(iteration=0).to_parquet(sweep / group / "raw.parquet")
    groups = {"g-llm": {"kind": "llm", "run_ids": ["a", "b", "c"]}, "g-diffusion": {"kind": "diffusion"}}
    (sweep / "manifest.json").write_text(json.dumps({"sweep": "mixed", "groups": groups}))
    return sweep


def test_one_kind_has_its_columns_only_typed_from_the_config_class(tmp_path: Path) -> None:
    sweep = _mixed_sweep(tmp_path)
    llm = load_results(sweep, kind="llm")
    assert list(llm["run_id"]) == ["a", "b", "c"]
    assert not [c for c in llm.columns if c.startswith("diffusion.") or c == "images_per_s_mean"]
    assert llm["llm.torch_compile"].dtype == bool and llm["llm.batch_size"].dtype == "int64"
    diffusion = load_results(sweep, kind="diffusion")
    assert diffusion["diffusion.vae_slicing"].tolist() == [True, False]
    assert diffusion["diffusion.vae_slicing"].dtype == bool and diffusion["diffusion.steps"].dtype == "int64"


def test_mixed_kinds_use_nullable_types_where_other_kinds_leave_gaps(tmp_path: Path) -> None:
    both = load_results(_mixed_sweep(tmp_path))
    assert len(both) == 5
    assert str(both["diffusion.vae_slicing"].dtype) == "boolean" and str(both["llm.batch_size"].dtype) == "Int64"
    # the parquet round trip left these as object / float64: the loader is what types them
    raw = pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "mixed").glob("g-*/summary.parquet"))])
    assert raw["diffusion.vae_slicing"].dtype == object and raw["llm.batch_size"].dtype == "float64"


def test_select_and_backtick_query_by_dotted_config_names(tmp_path: Path) -> None:
    llm = load_results(_mixed_sweep(tmp_path), kind="llm")
    assert select(llm, **{"llm.dtype": "fp32"})["run_id"].tolist() == ["a", "c"]
    assert select(llm, **{"llm.dtype": ["fp32", "bf16"], "status": "ok"})["run_id"].tolist() == ["a", "b"]
    assert llm.query("`llm.dtype` == 'bf16' and `llm.batch_size` > 1")["run_id"].tolist() == ["b"]
    assert llm.query("not `llm.torch_compile`")["run_id"].tolist() == ["a", "b"]  # needs a real bool column
    with pytest.raises(ConfigError, match=r"select: invalid value 'dtype'; unknown column; allowed: run_id"):
        select(llm, dtype="fp32")


def test_headline_and_explicit_column_subsets(tmp_path: Path) -> None:
    sweep = _mixed_sweep(tmp_path)
    head = load_results(sweep, kind="llm", columns="headline")
    assert list(head.columns) == [
        "run_id", "engine", "status", "llm.dtype", "llm.batch_size", "llm.torch_compile",
        "tokens_per_s_mean", "tokens_per_s_ci_low", "tokens_per_s_ci_high",
    ]  # fmt: skip
    assert list(load_results(sweep, columns=["run_id", "status"]).columns) == ["run_id", "status"]
    with pytest.raises(ConfigError, match=r"columns: invalid value 'everything'; allowed: all, headline"):
        load_results(sweep, columns="everything")
    with pytest.raises(ConfigError, match=r"columns: invalid value 'nope'; unknown column"):
        load_results(sweep, columns=["nope"])


def test_raw_table_kind_and_folder_errors(tmp_path: Path) -> None:
    raw = load_results(_mixed_sweep(tmp_path), kind="diffusion", table="raw")
    assert list(raw["run_id"]) == ["d", "e"] and "iteration" in raw
    with pytest.raises(ConfigError, match=r"kind: invalid value 'asr'; allowed: diffusion, llm"):
        load_results(tmp_path / "mixed", kind="asr")
    with pytest.raises(ConfigError, match=r"table: invalid value 'rows'"):
        load_results(tmp_path / "mixed", table="rows")  # type: ignore[arg-type]
    with pytest.raises(ReportError, match="results folder not found"):
        load_results(tmp_path / "missing")


def test_public_one_call_loader_on_the_sample_sweep() -> None:
    summary = blaze_lab.load_results(SAMPLE, kind="llm", columns="headline")
    assert len(summary) == 9 and summary["llm.batch_size"].dtype == "int64"
    assert {"llm.dtype", "llm.quantization", "llm.batch_size"} <= set(summary.columns)
    assert "env.cpu" not in summary.columns and "tokens_per_s_ci_high" in summary.columns
