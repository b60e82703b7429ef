"""Export to MLflow: rows split into params / metrics / tags; a real file-store export when mlflow is installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.mlflow_export import export_mlflow, split_row

SAMPLE = Path(__file__).resolve().parent / "data" / "sample_sweep"
HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None


def test_row_split_puts_config_in_params_numbers_in_metrics_and_identity_in_tags() -> None:
    row = pd.Series(
        {
            "run_id": "r1", "sweep": "quick", "status": "unsupported", "valid": False, "llm.dtype": "bf16",
            "llm.torch_compile": False, "tokens_per_s_mean": float("nan"), "n": 0, "env.gpu_name": None,
            "error": "needs a GPU", "thumbnail_png": b"png",
        }
    )  # fmt: skip
    params, metrics, tags = split_row(row)
    assert params == {"llm.dtype": "bf16", "llm.torch_compile": "False"}
    assert metrics == {"n": 0.0}  # NaN, text, bytes and bools are not metrics
    assert tags == {"blaze_lab.run_id": "r1", "sweep": "quick", "status": "unsupported", "valid": "False"}


@pytest.mark.skipif(HAS_MLFLOW, reason="checks the message shown when the mlflow extra is missing")
def test_without_mlflow_the_error_names_the_extra(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mlflow: invalid; not installed; install the extra"):
        export_mlflow(SAMPLE, tracking_uri=tmp_path / "mlruns")


@pytest.mark.skipif(not HAS_MLFLOW, reason="the mlflow extra is not installed (pip install -e '.[mlflow]')")
def test_export_to_a_file_store_reads_back(tmp_path: Path) -> None:
    import mlflow

    store = tmp_path / "mlruns"
    ids = export_mlflow(SAMPLE, tracking_uri=store, kind="llm")
    assert len(ids) == 9
    client = mlflow.MlflowClient(tracking_uri=store.resolve().as_uri())
    experiment = client.get_experiment_by_name("sample_sweep")
    assert experiment is not None
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id], max_results=100)}
    summary = pd.read_parquet(SAMPLE / "g-bf16-none" / "summary.parquet")
    first = summary.iloc[0]
    logged = runs[first["run_id"]]
    assert logged.data.params["llm.dtype"] == "bf16"
    assert logged.data.metrics["tokens_per_s_mean"] == pytest.approx(first["tokens_per_s_mean"])
    assert logged.data.tags["status"] == first["status"]
