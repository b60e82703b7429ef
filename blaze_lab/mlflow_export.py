"""Export a sweep's summary rows to MLflow (a local file store by default): one MLflow run per blaze_lab run.

Needs the ``mlflow`` extra (``pip install -e '.[mlflow]'``). Each summary row becomes an MLflow run named by its
``run_id`` in the experiment named by the sweep, with

- **params**: the config columns (``llm.dtype``, ``llm.batch_size`` …), as MLflow stores params: text;
- **metrics**: every finite numeric column that is not a config or ``env.*`` column (``tokens_per_s_mean``,
  ``tokens_per_s_ci_low`` …);
- **tags**: ``status``, ``valid``, ``engine``, ``group``, ``config_hash`` and the ``env.*`` fingerprint.

Exporting the same sweep again adds new MLflow runs (MLflow runs are append-only); the ``blaze_lab.run_id`` tag
says which blaze_lab run each one is.

Example:
    >>> export_mlflow("results/quickstart", tracking_uri="mlruns")   # doctest: +SKIP
    ['3f0c…', …]
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from blaze_lab.errors import ConfigError

TAG_COLUMNS = ("status", "valid", "engine", "group", "config_hash", "sweep")


def export_mlflow(
    results_dir: str | Path,
    *,
    tracking_uri: str | Path = "mlruns",
    experiment: str | None = None,
    kind: str | None = None,
) -> list[str]:
    """Log every summary row of ``results_dir`` as an MLflow run; returns the MLflow run ids in row order.

    ``tracking_uri``: a folder (an MLflow file store, created if missing; MLflow 3 keeps that backend in maintenance
    mode, so this export opts in for its own duration) or any MLflow tracking URI, e.g. ``sqlite:///mlflow.db``.
    ``experiment``: default the sweep's folder name.
    """
    try:
        import mlflow
    except ImportError:
        raise ConfigError("mlflow", reason="not installed; install the extra: pip install -e '.[mlflow]'") from None
    from blaze_lab.results import load_results

    frame = load_results(results_dir, kind=kind)
    uri = str(tracking_uri)
    if "://" not in uri and not uri.startswith("file:"):
        uri = Path(uri).resolve().as_uri()
    with _file_store_allowed(uri.startswith("file:")):
        return _log_rows(mlflow.MlflowClient(tracking_uri=uri), frame, experiment or Path(results_dir).resolve().name)


@contextlib.contextmanager
def _file_store_allowed(needed: bool) -> Iterator[None]:
    """MLflow 3 refuses a folder store unless MLFLOW_ALLOW_FILE_STORE is set (it keeps that backend in maintenance
    mode); a folder is what was asked for here, so allow it for this export only (a set value is left alone)."""
    if not needed or "MLFLOW_ALLOW_FILE_STORE" in os.environ:
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def _log_rows(client: Any, frame: pd.DataFrame, name: str) -> list[str]:
    found = client.get_experiment_by_name(name)
    experiment_id = found.experiment_id if found is not None else client.create_experiment(name)
    ids = []
    for _, row in frame.iterrows():
        params, metrics, tags = split_row(row)
        run = client.create_run(experiment_id, run_name=str(row.get("run_id", "")), tags=tags)
        for key, text in params.items():
            client.log_param(run.info.run_id, key, text)
        for key, number in metrics.items():
            client.log_metric(run.info.run_id, key, number)
        client.set_terminated(run.info.run_id, status="FINISHED" if row.get("status") == "ok" else "FAILED")
        ids.append(run.info.run_id)
    return ids


def split_row(row: pd.Series) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """(params, metrics, tags) of one summary row, as MLflow takes them.

    >>> row = pd.Series({"run_id": "r1", "status": "ok", "llm.dtype": "bf16", "llm.batch_size": 8,
    ...                  "tokens_per_s_mean": 127.3, "perplexity": float("nan"), "env.cpu": "x86", "error": ""})
    >>> params, metrics, tags = split_row(row)
    >>> params, metrics
    ({'llm.dtype': 'bf16', 'llm.batch_size': '8'}, {'tokens_per_s_mean': 127.3})
    >>> tags
    {'blaze_lab.run_id': 'r1', 'status': 'ok', 'env.cpu': 'x86'}
    """
    from blaze_lab import kinds

    prefixes = set(kinds.names())
    params: dict[str, str] = {}
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {"blaze_lab.run_id": str(row.get("run_id", ""))}
    for column, value in row.items():
        name = str(column)
        prefix = name.partition(".")[0] if "." in name else ""
        if prefix in prefixes:
            params[name] = str(value)
        elif name in TAG_COLUMNS or prefix == "env":
            if not _missing(value):
                tags[name] = str(value)
        elif _is_number(value):
            metrics[name] = float(value)
    return params, metrics, tags


def _is_number(value: Any) -> bool:
    if isinstance(value, bool | str | bytes) or value is None:
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


__all__ = ["TAG_COLUMNS", "export_mlflow", "split_row"]
