"""Statistics for measured samples: percentiles, dispersion, bootstrap confidence intervals and validity.

Every summary row carries these, so a reader can tell a real difference from noise: the 95% bootstrap CI of the
mean and of the median, and a ``valid`` flag with the reason when the sample cannot support what is reported
(too few samples for a high percentile, coefficient of variation above a threshold, run shorter than asked).

Example:
    >>> s = summarize([1.0, 1.1, 0.9, 1.05, 0.95])
    >>> s["n"], round(s["mean"], 3), s["valid"]
    (5, 1.0, True)
    >>> s["ci_low"] < 1.0 < s["ci_high"]
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

STAT_SUFFIXES = (
    "mean",
    "std",
    "cv",
    "p50",
    "p90",
    "p95",
    "p99",
    "ci_low",
    "ci_high",
    "median_ci_low",
    "median_ci_high",
)


@dataclass(frozen=True)
class ValidityRules:
    """When a summary is flagged ``valid=False``.

    Attributes:
        min_samples: fewer samples than this is never valid.
        cv_threshold: coefficient of variation (std/mean) above this marks the sample too noisy.
        p99_min_samples: p99 needs at least this many samples to be more than the maximum.
        min_duration_s: the measured window must last at least this long (when a duration is given).
    """

    min_samples: int = 3
    cv_threshold: float = 0.5
    p99_min_samples: int = 100
    min_duration_s: float = 0.0


DEFAULT_RULES = ValidityRules()


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    stat: str = "mean",
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean or median.

    Deterministic for a seed. With one sample the interval collapses to that value; with none it is NaN.

    >>> bootstrap_ci([2.0, 2.0, 2.0])
    (2.0, 2.0)
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return (math.nan, math.nan)
    if arr.size == 1:
        return (float(arr[0]), float(arr[0]))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    samples = arr[idx]
    reduced = samples.mean(axis=1) if stat == "mean" else np.median(samples, axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(reduced, [alpha, 1.0 - alpha])
    return (float(low), float(high))


def ci_half_width(values: Sequence[float] | np.ndarray, seed: int = 0, n_boot: int = 500) -> float:
    """Half-width of the bootstrap 95% CI of the mean (NaN with < 2 samples)."""
    if len(values) < 2:
        return math.nan
    low, high = bootstrap_ci(values, "mean", n_boot=n_boot, seed=seed)
    return (high - low) / 2.0


def summarize(
    values: Sequence[float] | np.ndarray,
    *,
    duration_s: float | None = None,
    rules: ValidityRules = DEFAULT_RULES,
    report_p99: bool = False,
    seed: int = 0,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Summary statistics of one metric's samples.

    Returns ``n`` and the keys of :data:`STAT_SUFFIXES` plus ``valid`` and ``validity_reason``.
    ``report_p99=True`` makes too few samples for p99 a validity failure (for metrics whose tail is the point).
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    n = int(arr.size)
    out: dict[str, Any] = {"n": n}
    if n == 0:
        out.update({k: math.nan for k in STAT_SUFFIXES})
        out.update(valid=False, validity_reason="no samples")
        return out
    mean = float(arr.mean())
    std = float(arr.std(ddof=1)) if n > 1 else 0.0
    p50, p90, p95, p99 = (float(x) for x in np.percentile(arr, [50, 90, 95, 99]))
    ci = bootstrap_ci(arr, "mean", n_boot=n_boot, seed=seed)
    mci = bootstrap_ci(arr, "median", n_boot=n_boot, seed=seed)
    out.update(
        mean=mean,
        std=std,
        cv=std / mean if mean else math.nan,
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        ci_low=ci[0],
        ci_high=ci[1],
        median_ci_low=mci[0],
        median_ci_high=mci[1],
    )
    reasons = validity_reasons(out, duration_s=duration_s, rules=rules, report_p99=report_p99)
    out["valid"] = not reasons
    out["validity_reason"] = "; ".join(reasons)
    return out


def summarize_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> dict[str, Any]:
    """The ratio estimator sum(numerator) / sum(denominator) with a delta-method t-interval (``mean``, CI)."""
    y = np.asarray(numerator, dtype=float)
    x = np.asarray(denominator, dtype=float)
    n = int(y.size)
    if n == 0 or x.sum() <= 0:
        return {"mean": math.nan, "ci_low": math.nan, "ci_high": math.nan, "call_mean": math.nan}
    ratio = float(y.sum() / x.sum())
    if n < 2:
        return {"mean": ratio, "ci_low": math.nan, "ci_high": math.nan, "call_mean": float(np.mean(y / x))}
    resid = y - ratio * x
    se = float(np.std(resid, ddof=1) / (math.sqrt(n) * x.mean()))
    from statistics import NormalDist

    t = NormalDist().inv_cdf(0.975) * (1 + 2.5 / n)  # rough t(0.975, n-1) until the exact quantile lands
    return {"mean": ratio, "ci_low": ratio - t * se, "ci_high": ratio + t * se, "call_mean": float(np.mean(y / x))}


def validity_reasons(
    summary: dict[str, Any],
    *,
    duration_s: float | None = None,
    rules: ValidityRules = DEFAULT_RULES,
    report_p99: bool = False,
) -> list[str]:
    """Why a summary is not trustworthy (empty list = valid)."""
    reasons: list[str] = []
    n = summary["n"]
    if n < rules.min_samples:
        reasons.append(f"n={n} < {rules.min_samples} samples")
    if report_p99 and n < rules.p99_min_samples:
        reasons.append(f"p99 needs >= {rules.p99_min_samples} samples (n={n})")
    cv = summary.get("cv", math.nan)
    if cv == cv and cv > rules.cv_threshold:  # NaN-safe
        reasons.append(f"cv={cv:.2f} > {rules.cv_threshold}")
    if duration_s is not None and duration_s < rules.min_duration_s:
        reasons.append(f"duration {duration_s:.3g}s < {rules.min_duration_s}s")
    return reasons


def summarize_columns(
    values_by_metric: dict[str, Sequence[float]],
    *,
    primary: str | None = None,
    duration_s: float | None = None,
    rules: ValidityRules = DEFAULT_RULES,
    seed: int = 0,
) -> dict[str, Any]:
    """Summaries of several metrics as flat ``<metric>_<stat>`` columns.

    ``n``, ``valid`` and ``validity_reason`` come from the ``primary`` metric (default: the first one).

    >>> cols = summarize_columns({"latency_s": [1.0, 1.2, 1.1]})
    >>> cols["latency_s_p50"], cols["n"]
    (1.1, 3)
    """
    row: dict[str, Any] = {}
    primary = primary or next(iter(values_by_metric), None)
    for metric, values in values_by_metric.items():
        s = summarize(values, duration_s=duration_s, rules=rules, seed=seed)
        for key in STAT_SUFFIXES:
            row[f"{metric}_{key}"] = s[key]
        if metric == primary:
            row["n"] = s["n"]
            row["valid"] = s["valid"]
            row["validity_reason"] = s["validity_reason"]
    if primary is None:
        row.update(n=0, valid=False, validity_reason="no metrics")
    return row


__all__ = [
    "DEFAULT_RULES",
    "STAT_SUFFIXES",
    "ValidityRules",
    "bootstrap_ci",
    "ci_half_width",
    "summarize",
    "summarize_columns",
    "validity_reasons",
]
