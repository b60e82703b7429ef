"""Max SLO-meeting rate vs number of replicas: the saturation schedule's headline across a ``replicas`` sweep.

A sweep of router configs with ``schedule: saturation`` over ``replicas`` (1, 2, 4 … 64) and several ``seed`` s
gives one summary row per (replicas, seed) with ``max_rate_slo_rps`` and ``knee_rps``
(:mod:`blaze_lab.router.saturation`). :func:`replica_scaling` turns them into one row per replica count (and per
combination of any other varying ``router.*`` field, e.g. the strategy):

- ``max_rate_slo_rps_mean`` with its Student-t 95% interval over seeds (``max_rate_slo_rps_mean_ci_low`` /
  ``_ci_high``), likewise ``knee_rps_mean``;
- ``scaling_efficiency`` = mean rate(n) / (n · mean rate(1)) with a paired (by seed) 95% interval on the log scale
  (:func:`~blaze_lab.metrics.intervals.ratio_of_means_ci`; ``scaling_efficiency_ci_low`` / ``_ci_high``): 1 is
  linear scaling. rate(1) is the row's ``baseline_max_rate_slo_rps`` (``scaling_baseline: true``) or else the
  1-replica row of the same seed; ``knee_scaling_efficiency`` likewise from the knees;
- ``censored_runs``: rows whose SLO held at every rate (their max rate is a lower bound).

Example:
    >>> rows = pd.DataFrame({"router.replicas": [1, 1, 1, 2, 2, 2], "router.seed": [0, 1, 2] * 2,
    ...                      "status": ["ok"] * 6, "max_rate_slo_rps": [10.0, 11.0, 9.0, 19.0, 21.0, 17.0],
    ...                      "knee_rps": [8.0, 8.0, 8.0, 16.0, 16.0, 16.0]})
    >>> out = replica_scaling(rows)
    >>> out[["replicas", "max_rate_slo_rps_mean", "scaling_efficiency"]].values.tolist()
    [[1.0, 10.0, 1.0], [2.0, 19.0, 0.95]]
    >>> bool(out["scaling_efficiency_ci_low"].iloc[1] < 0.95 < out["scaling_efficiency_ci_high"].iloc[1])
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.errors import ConfigError
from blaze_lab.metrics.intervals import mean_ci, ratio_of_means_ci

REPLICAS = "router.replicas"
SEED = "router.seed"
SCALING_COLUMNS = ("replicas", "seeds", "max_rate_slo_rps_mean", "max_rate_slo_rps_mean_ci_low",
                   "max_rate_slo_rps_mean_ci_high", "knee_rps_mean", "knee_rps_mean_ci_low", "knee_rps_mean_ci_high",
                   "linear_rps", "scaling_efficiency", "scaling_efficiency_ci_low", "scaling_efficiency_ci_high",
                   "knee_scaling_efficiency", "knee_scaling_efficiency_ci_low", "knee_scaling_efficiency_ci_high",
                   "censored_runs")


def _mean_ci(values: pd.Series) -> tuple[float, float, float]:
    v = values.to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return math.nan, math.nan, math.nan
    m, lo, hi = mean_ci(v)
    return float(m), float(lo), float(hi)


def _efficiency(rates: pd.Series, baseline: pd.Series, replicas: int) -> tuple[float, float, float]:
    """mean(rates) / (replicas × mean(baseline)), paired by seed, with its interval."""
    pair = pd.DataFrame({"c": rates.to_numpy(dtype=float), "b": replicas * baseline.to_numpy(dtype=float)})
    pair = pair[np.isfinite(pair["c"]) & np.isfinite(pair["b"]) & (pair["b"] > 0) & (pair["c"] > 0)]
    if not len(pair):
        return math.nan, math.nan, math.nan
    if len(pair) < 2 or np.allclose(pair["c"] / pair["b"], pair["c"].iloc[0] / pair["b"].iloc[0]):
        ratio = float(pair["c"].mean() / pair["b"].mean())
        # one seed: no interval; identical ratios (e.g. 1 replica against itself): no spread to show
        return (ratio, math.nan, math.nan) if len(pair) < 2 else (ratio, ratio, ratio)
    r, lo, hi = ratio_of_means_ci(pair["c"].to_numpy(), pair["b"].to_numpy(), paired=True)
    return float(r), float(lo), float(hi)


def _baseline(group: pd.DataFrame, part: pd.DataFrame, column: str, baseline_column: str) -> pd.Series:
    """The one-replica value paired with each row of ``part``: its own baseline column, else the 1-replica row
    of the same seed."""
    if baseline_column in part.columns and part[baseline_column].notna().any():
        return part[baseline_column]
    ones = group[group[REPLICAS] == 1].drop_duplicates(SEED).set_index(SEED)[column]
    return part[SEED].map(ones)


def replica_scaling(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per replica count (per combination of the other varying ``router.*`` fields): see the module."""
    missing = [c for c in (REPLICAS, SEED, "max_rate_slo_rps", "knee_rps") if c not in summary.columns]
    if missing:
        raise ConfigError("replica_scaling", missing, reason="summary lacks these columns (run schedule: saturation)")
    df = summary[summary["status"] == "ok"] if "status" in summary.columns else summary
    fields = [c for c in df.columns if c.startswith("router.") and c not in (REPLICAS, SEED)
              and df[c].astype(str).nunique() > 1]
    rows: list[dict[str, Any]] = []
    groups = df.groupby([df[c].astype(str) for c in fields], sort=False) if fields else [((), df)]
    for key, group in groups:
        labels = dict(zip(fields, key if isinstance(key, tuple) else (key,), strict=True))
        for replicas, part in sorted(group.groupby(REPLICAS), key=lambda kv: int(kv[0])):
            n = int(replicas)
            rate = _mean_ci(part["max_rate_slo_rps"])
            knee_ = _mean_ci(part["knee_rps"])
            base = _baseline(group, part, "max_rate_slo_rps", "baseline_max_rate_slo_rps")
            eff = _efficiency(part["max_rate_slo_rps"], base, n)
            keff = _efficiency(part["knee_rps"], _baseline(group, part, "knee_rps", "baseline_knee_rps"), n)
            censored = part["max_rate_slo_censored"].astype(bool).sum() if "max_rate_slo_censored" in part else 0
            rows.append({**labels, "replicas": n, "seeds": int(part[SEED].nunique()),
                         "max_rate_slo_rps_mean": rate[0], "max_rate_slo_rps_mean_ci_low": rate[1],
                         "max_rate_slo_rps_mean_ci_high": rate[2], "knee_rps_mean": knee_[0],
                         "knee_rps_mean_ci_low": knee_[1], "knee_rps_mean_ci_high": knee_[2],
                         "linear_rps": n * float(np.nanmean(base.to_numpy(dtype=float))) if base.notna().any()
                         else math.nan,
                         "scaling_efficiency": eff[0], "scaling_efficiency_ci_low": eff[1],
                         "scaling_efficiency_ci_high": eff[2], "knee_scaling_efficiency": keff[0],
                         "knee_scaling_efficiency_ci_low": keff[1], "knee_scaling_efficiency_ci_high": keff[2],
                         "censored_runs": int(censored)})
    return pd.DataFrame(rows)


__all__ = ["SCALING_COLUMNS", "replica_scaling"]
