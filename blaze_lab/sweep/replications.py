"""Combine the replications of a sweep: one summary row per run with the between-replication CI beside the within.

Within one process (kernel) the calls of a config agree within a few %, but two kernels minutes apart differ by up to
~1.5× on these machines: the within-run CI says nothing about that. A sweep with ``replications: k`` runs every
load-time group k times in separate kernels, interleaved in time; :func:`combine_replications` then gives each run
one summary row where, for every sampled metric and ratio estimator m:

- ``m_rep_mean``, ``m_rep_ci_low``, ``m_rep_ci_high``, ``m_rep_std``: the mean of the k per-replication estimates and
  its Student-t CI (k − 1 degrees of freedom) — the between-replication interval; for a positive quantity (a time, a
  throughput) the interval is taken on the log scale (a t-interval of the log estimates, exponentiated), so it never
  reaches below zero — with k = 2 the arithmetic one did (bf16 throughput "[−528, 839] tokens/s");
- ``m_within_ci_low``, ``m_within_ci_high``: the combined mean ± the widest within-run half-width of the k runs;
- ``m_mean`` = ``m_rep_mean``, and ``m_ci_low`` / ``m_ci_high`` = the **wider** of the two intervals, with
  ``m_ci_source`` = ``between replications`` or ``within run`` — what the report, ``compare`` and ``valid`` use;
- ``replications`` = k; ``n`` = the measured calls of all replications.

``valid`` is False when any replication was invalid, or when the wider interval of the row's primary metric is more
than 5% of its mean (the default CI target) — with the figures in ``validity_reason``. Rows of a single replication
pass through unchanged (``replications`` = 1).

Example:
    >>> import pandas as pd
    >>> summary = pd.DataFrame({"run_id": ["a", "a"], "replication": [0, 1], "status": ["ok", "ok"],
    ...     "n": [3, 3], "valid": [True, True], "validity_reason": ["", ""], "primary_metric": ["latency_s"] * 2,
    ...     "ratio_metrics": ["", ""], "latency_s_mean": [1.0, 1.2], "latency_s_ci_low": [0.99, 1.19],
    ...     "latency_s_ci_high": [1.01, 1.21]})
    >>> raw = pd.DataFrame({"run_id": ["a"] * 6, "replication": [0, 0, 0, 1, 1, 1], "status": ["ok"] * 6,
    ...     "latency_s": [1.0, 0.99, 1.01, 1.2, 1.19, 1.21]})
    >>> row = combine_replications(summary, raw).iloc[0]
    >>> round(float(row["latency_s_mean"]), 2), row["latency_s_ci_source"], bool(row["valid"]), int(row["replications"])
    (1.1, 'between replications', False, 2)
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.metrics.compare import replication_columns
from blaze_lab.metrics.distributions import t_crit

TARGET_CI_REL = 0.05


def _ratios(text: Any) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for item in str(text or "").split(";"):
        if "=" in item and "/" in item:
            name, _, frac = item.partition("=")
            num, _, den = frac.partition("/")
            out[name] = (num, den)
    return out


def _estimates(raw: pd.DataFrame, metric: str, ratio: tuple[str, str] | None) -> np.ndarray:
    measured = raw[~raw["warmup"].astype(bool)] if "warmup" in raw.columns else raw
    if "status" in measured.columns:
        measured = measured[measured["status"] == "ok"]
    if ratio is None:
        return measured.groupby("replication")[metric].mean().to_numpy(float)
    sums = measured.groupby("replication")[[ratio[0], ratio[1]]].sum()
    return (sums[ratio[0]] / sums[ratio[1]]).to_numpy(float)


def _log_interval(estimates: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    logs = np.log(estimates)
    k = logs.size
    half = float(t_crit(confidence, k - 1)) * float(logs.std(ddof=1)) / math.sqrt(k)
    return float(np.exp(logs.mean() - half)), float(np.exp(logs.mean() + half))


def combine_replications(summary: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """One row per run: replications combined as the module docstring says (a frame without them is unchanged)."""
    if summary.empty or "replication" not in summary.columns or summary["replication"].nunique() <= 1:
        return summary
    rows: list[pd.Series] = []
    for _, reps in summary.groupby("run_id", sort=False):
        rows.append(reps.iloc[0].copy() if len(reps) == 1 else _combine(reps, raw))
    out = pd.DataFrame(rows).reset_index(drop=True)
    out["replications"] = out["replications"].fillna(1).astype("int64") if "replications" in out else 1
    for column in summary.columns:  # rows built as Series lose dtypes (ints become floats): restore them
        if column in out.columns and out[column].dtype != summary[column].dtype:
            with contextlib.suppress(TypeError, ValueError):
                out[column] = out[column].astype(summary[column].dtype)
    return out


def _combine(reps: pd.DataFrame, raw: pd.DataFrame) -> pd.Series:
    base = reps.iloc[0].copy()
    run_id = base["run_id"]
    failed = reps[reps["status"] != "ok"]
    if len(failed):  # a replication that failed makes the run's status that failure
        first = failed.iloc[0]
        base["status"], base["error"] = first["status"], first.get("error", "")
    if "n" in reps.columns:
        base["n"] = int(pd.to_numeric(reps["n"], errors="coerce").fillna(0).sum())
    base["replications"] = int(reps["replication"].nunique())
    if (reps["status"] != "ok").all():
        return base  # nothing was measured: the first replication's row says why
    mine = raw[(raw["run_id"] == run_id)] if "run_id" in raw.columns else raw.iloc[0:0]
    ratios = {k: v for k, v in _ratios(base.get("ratio_metrics")).items() if set(v) <= set(mine.columns)}
    sampled = [
        c[: -len("_mean")]
        for c in reps.columns
        if c.endswith("_mean") and c[: -len("_mean")] in mine.columns and f"{c[:-5]}_ci_low" in reps.columns
    ]
    reasons = [str(r) for r in reps["validity_reason"].fillna("") if r] if "validity_reason" in reps.columns else []
    valid = bool(reps["valid"].astype(bool).all()) if "valid" in reps.columns else False
    if mine.empty or not (sampled or ratios) or "replication" not in mine.columns:
        base["valid"] = False
        base["validity_reason"] = "; ".join(dict.fromkeys([*reasons, "no raw rows to combine replications"]))
        return base
    rep = replication_columns(mine, sampled, ratios=ratios).iloc[0]
    primary = str(base.get("primary_metric") or (sampled[0] if sampled else next(iter(ratios))))
    for m in [*sampled, *ratios]:
        lows, highs = pd.to_numeric(reps[f"{m}_ci_low"], errors="coerce"), pd.to_numeric(reps[f"{m}_ci_high"])
        within = float(((highs - lows) / 2).max())
        mean, lo, hi = float(rep[f"{m}_rep_mean"]), float(rep[f"{m}_rep_ci_low"]), float(rep[f"{m}_rep_ci_high"])
        estimates = _estimates(mine, m, ratios.get(m))
        if len(estimates) >= 2 and (estimates > 0).all():
            lo, hi = _log_interval(estimates)
            rep[f"{m}_rep_ci_low"], rep[f"{m}_rep_ci_high"] = lo, hi
        for key in ("rep_mean", "rep_ci_low", "rep_ci_high", "rep_std"):
            base[f"{m}_{key}"] = rep[f"{m}_{key}"]
        base[f"{m}_within_ci_low"], base[f"{m}_within_ci_high"] = mean - within, mean + within
        between = (hi - lo) / 2 if hi == hi and lo == lo else math.inf
        use_between = within != within or between >= within
        base[f"{m}_mean"] = mean
        base[f"{m}_ci_low"], base[f"{m}_ci_high"] = (lo, hi) if use_between else (mean - within, mean + within)
        base[f"{m}_ci_source"] = "between replications" if use_between else "within run"
        if m == primary and mean:
            half = max(between, within if within == within else 0.0) / abs(mean)
            if half > TARGET_CI_REL:
                valid = False
                reasons.append(
                    f"{base['replications']} replications: {primary} CI half-width {half:.1%} of mean > "
                    f"{TARGET_CI_REL:.0%}"
                )
    base["valid"] = valid and base["status"] == "ok"
    base["validity_reason"] = "; ".join(dict.fromkeys(reasons))
    return base


__all__ = ["combine_replications"]
