"""``blaze-lab compare``: two sweeps config by config, or two configs of one sweep, as ratios with 95% CIs and verdicts.

Both read the sweeps' raw rows (one per measured call) and hand them to :func:`blaze_lab.metrics.compare.compare`:

- **two sweeps** (A, B): every config measured in both (same ``config_hash``) gives one row per metric, B against
  A. Calls of different sweeps were not interleaved, so they are compared as independent samples (``welch``).
- **two configs of one sweep** (run ids or config hashes, or a unique prefix): B against A; calls measured in the same
  load-time group were interleaved round by round, so they are paired by round (``paired``), cancelling drift.

A verdict is ``faster`` / ``slower`` (``higher`` / ``lower`` for a non-speed metric) only when the ratio's CI
excludes 1, else ``no difference at this precision``.

Example:
    >>> compare_sweeps("results/quick-old", "results/quick-new")              # doctest: +SKIP
    >>> compare_configs("results/quickstart", "r-77f7a081c1ae", "r-c9680c75049e", ["tokens_per_s"])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from blaze_lab.errors import ConfigError

COLUMNS = ("config", "metric", "mean_a", "mean_b", "ratio", "ratio_ci_low", "ratio_ci_high", "method", "verdict")
# Per-call metric compared by default, per kind (the metric of the explorer's live figure).
DEFAULT_METRICS = {"llm": "tokens_per_s", "diffusion": "step_latency_s", "router": "latency_s", "serving": "ttft_s"}
# When a kind's raw rows lack its default metric, the first of these they hold (the LLM engine names its per-call
# throughput tokens_per_s_call; the diffusion engine's raw rows time whole calls).
FALLBACK_METRICS = {"llm": ("tokens_per_s_call", "latency_s"), "diffusion": ("latency_s",)}


def compare_sweeps(a: str | Path, b: str | Path, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Sweep B against sweep A, config by config (configs measured in both), one row per config and metric."""
    from blaze_lab.results import load_results

    raw_a, raw_b = load_results(a, table="raw"), load_results(b, table="raw")
    common = [h for h in _ok_hashes(raw_a) if h in set(_ok_hashes(raw_b))]
    if not common:
        raise ConfigError("compare", f"{a} {b}", reason="no config measured (status ok) in both sweeps")
    rows = []
    both = pd.concat([raw_a[raw_a["config_hash"].isin(common)], raw_b[raw_b["config_hash"].isin(common)]])
    labels = _labels(both)
    for config_hash in common:
        pair = pd.concat(
            [
                raw_a[raw_a["config_hash"] == config_hash].assign(side="A"),
                raw_b[raw_b["config_hash"] == config_hash].assign(side="B"),
            ],
            ignore_index=True,
        )
        # Different sweeps: their rounds were not interleaved with each other, so nothing may be paired.
        pair = pair.drop(columns=[c for c in ("round", "replication") if c in pair.columns])
        for metric in _metrics(pair, metrics):
            rows.append(_one(pair, "side", "A", "B", metric, labels.get(config_hash, config_hash)))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def compare_configs(results_dir: str | Path, a: str, b: str, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Config B against config A of one sweep (run ids, config hashes or unique prefixes), one row per metric."""
    from blaze_lab.results import load_results

    raw = load_results(results_dir, table="raw")
    run_a, run_b = _run(raw, a), _run(raw, b)
    pair = raw[raw["run_id"].isin([run_a, run_b])].copy()
    groups = set(pair.groupby("run_id")["group"].first()) if "group" in pair.columns else set()
    if len(groups) != 1:  # different load-time groups were not interleaved: no pairing by round
        pair = pair.drop(columns=[c for c in ("round", "replication") if c in pair.columns])
    label = " vs ".join(_labels(pair, by="run_id").get(r, r) for r in (run_a, run_b))
    return pd.DataFrame(
        [_one(pair, "run_id", run_a, run_b, metric, label) for metric in _metrics(pair, metrics)],
        columns=list(COLUMNS),
    )


def _one(frame: pd.DataFrame, by: str, a: str, b: str, metric: str, label: str) -> dict[str, object]:
    from blaze_lab.metrics.compare import compare

    result = compare(frame, a, metric, by=by)
    found = result[result[by] == b]
    if not len(found):
        raise ConfigError("compare", b, reason=f"no ok calls with {metric}")
    row = found.iloc[0]
    return {
        "config": label, "metric": metric, "mean_a": row["baseline_mean"], "mean_b": row["mean"],
        "ratio": row["ratio"], "ratio_ci_low": row["ratio_ci_low"], "ratio_ci_high": row["ratio_ci_high"],
        "method": row["method"], "verdict": row["verdict"],
    }  # fmt: skip


def _metrics(frame: pd.DataFrame, metrics: Sequence[str] | None) -> list[str]:
    if metrics:
        missing = [m for m in metrics if m not in frame.columns]
        if missing:
            numeric = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
            raise ConfigError("--metric", missing[0], allowed=numeric)
        return list(metrics)
    kinds = list(dict.fromkeys(frame["engine"])) if "engine" in frame.columns else []
    chosen = []
    for kind in kinds:
        candidates = [DEFAULT_METRICS.get(kind, ""), *FALLBACK_METRICS.get(kind, ())]
        present = [m for m in candidates if m in frame.columns and frame[m].notna().any()]
        chosen += present[:1]
    if not chosen:
        raise ConfigError("--metric", reason="no default metric for these rows; name one")
    return list(dict.fromkeys(chosen))


def _ok_hashes(raw: pd.DataFrame) -> list[str]:
    if raw.empty or "config_hash" not in raw.columns:
        return []
    ok = raw[raw["status"] == "ok"] if "status" in raw.columns else raw
    return list(dict.fromkeys(ok["config_hash"].astype(str)))


def _run(raw: pd.DataFrame, key: str) -> str:
    """The run id named by ``key``: a run id or config hash, or a unique prefix of one."""
    runs = raw.drop_duplicates("run_id")[["run_id", "config_hash"]].astype(str) if len(raw) else raw
    hits = runs[(runs["run_id"].str.startswith(key)) | (runs["config_hash"].str.startswith(key))] if len(runs) else runs
    if len(hits) != 1:
        reason = "matches no run" if not len(hits) else f"matches {len(hits)} runs"
        raise ConfigError("compare", key, reason=f"{reason} (run ids: {', '.join(runs['run_id'][:8]) or 'none'})")
    return str(hits["run_id"].iloc[0])


def _labels(frame: pd.DataFrame, by: str = "config_hash") -> dict[str, str]:
    """key -> the report's config label (only the fields that differ between these configs)."""
    from blaze_lab.report.labels import config_labels

    firsts = frame.drop_duplicates(by).reset_index(drop=True)
    config_cols = [c for c in firsts.columns if "." in c and not c.startswith("env.")]
    labels = config_labels(firsts[config_cols]) if config_cols else firsts[by].astype(str)
    return dict(zip(firsts[by].astype(str), labels.astype(str), strict=True))


__all__ = ["COLUMNS", "DEFAULT_METRICS", "compare_configs", "compare_sweeps"]
