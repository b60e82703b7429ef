"""Statistics for measured samples: means with Student-t CIs, percentiles with order-statistic CIs, throughput as a
ratio estimator with a Fieller CI, and validity per reported metric.

Every estimate a summary reports comes with a 95% CI that holds its nominal coverage at the n it is shown with
(docs/metrics.md "Statistics" has the measured coverage table); an estimate whose n cannot support that is NaN and
named in ``unreported``. ``valid`` says whether what *is* reported can be trusted.

- mean: Student-t interval, mean ± t(n−1) · s/√n, from n = 2 (``ci_method = "t"``).
- p50/p90/p95/p99: distribution-free binomial order-statistic interval, interpolated between adjacent order
  statistics (:func:`quantile_ci`); reported from :func:`quantile_min_n` samples (6, 36, 72, 368 at 95%). p90–p99
  themselves are NaN below that n; the median is shown from n = 1 (its CI from n = 6).
- ratio estimator (:func:`summarize_ratio`): Σ numerator / Σ denominator (tokens / seconds over all calls) with a
  Fieller interval (``ci_method = "fieller"``); the mean of per-call ratios stays available as ``call_mean``.

Example:
    >>> s = summarize([1.0, 1.1, 0.9, 1.05, 0.95])
    >>> s["n"], round(s["mean"], 3), s["valid"], s["ci_method"]
    (5, 1.0, True, 't')
    >>> s["ci_low"] < 1.0 < s["ci_high"]
    True
    >>> s["unreported"]
    'median CI needs n >= 6; p90 needs n >= 36; p95 needs n >= 72; p99 needs n >= 368'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from blaze_lab.metrics.distributions import t_crit
from blaze_lab.metrics.intervals import mean_ci, quantile_ci, quantile_ci_ranks, quantile_min_n, ratio_ci

QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}

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
    "p90_ci_low",
    "p90_ci_high",
    "p95_ci_low",
    "p95_ci_high",
    "p99_ci_low",
    "p99_ci_high",
)

# Per-metric columns of a summary that are not numbers of the sample (flattened as ``<metric>_<key>``).
METRIC_FLAGS = (
    "ci_method",
    "call_mean",
    "call_mean_ci_low",
    "call_mean_ci_high",
    "valid",
    "validity_reason",
    "unreported",
)


@dataclass(frozen=True)
class ValidityRules:
    """When a summary is flagged ``valid=False``.

    Attributes:
        min_samples: fewer samples than this is never valid (a t-interval from 2–4 samples is honest but too wide
            and too sensitive to a single odd call to base a decision on).
        cv_threshold: coefficient of variation above this marks a metric too noisy (off by default: the CI width
            already carries the noise, and the CI target below judges it).
        p99_min_samples: a metric whose tail is the point (``report_p99=True``) needs at least this many samples
            *and* enough for its p99 CI (:func:`quantile_min_n`, 368 at 95%).
        min_duration_s: the measured window must last at least this long (when a duration is given).
        target_ci_rel: the stop target: 95% CI half-width <= this × |mean|. A summary is invalid when the caller
            reports the target as not reached (``ci_target_met=False``).
        ratio_min_samples_varying: a ratio estimator whose numerator varies between calls (requests of different
            lengths) needs this many calls: its Fieller CI under-covers below (92.3% at n = 5, 2% noise, in
            the harness).
        confidence: coverage of every CI.
    """

    min_samples: int = 5
    cv_threshold: float = math.inf
    p99_min_samples: int = 0
    min_duration_s: float = 0.0
    target_ci_rel: float = 0.05
    ratio_min_samples_varying: int = 10
    confidence: float = 0.95


DEFAULT_RULES = ValidityRules()


# -- compatibility helpers ------------------------------------------------------------------------------------


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    stat: str = "mean",
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap CI of the mean or median (kept for plots; summaries use :func:`mean_ci`).

    Its coverage is below nominal at small n (at n = 3 it is [min, max], ~75%); do not use it for decisions.

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
    samples = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))]
    reduced = samples.mean(axis=1) if stat == "mean" else np.median(samples, axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(reduced, [alpha, 1.0 - alpha])
    return (float(low), float(high))


def ci_half_width(values: Sequence[float] | np.ndarray, confidence: float = 0.95, **_ignored: Any) -> float:
    """Half-width of the Student-t CI of the mean, t(n−1) · s/√n (NaN with < 2 samples).

    >>> round(ci_half_width([1.0, 2.0, 3.0]), 4)
    2.4841
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size < 2:
        return math.nan
    return float(t_crit(confidence, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size))


# -- summaries ------------------------------------------------------------------------------------------------


def _clean(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    return arr[np.isfinite(arr)]  # NaN (missing) and ±inf (a failed timing) are not samples


def _empty(n: int, reason: str) -> dict[str, Any]:
    out: dict[str, Any] = {"n": n, **{k: math.nan for k in STAT_SUFFIXES}}
    out.update(
        ci_method="",
        call_mean=math.nan,
        call_mean_ci_low=math.nan,
        call_mean_ci_high=math.nan,
        unreported="",
        valid=False,
        validity_reason=reason,
    )
    return out


def _spread_and_quantiles(arr: np.ndarray, out: dict[str, Any], confidence: float) -> None:
    n = arr.size
    if n == 0:  # a ratio whose every call had a zero denominator: no per-call rates
        out.update({k: math.nan for k in ("std", "cv", *QUANTILES, "median_ci_low", "median_ci_high")})
        out.update({f"{q}_ci_{side}": math.nan for q in ("p90", "p95", "p99") for side in ("low", "high")})
        out["unreported"] = "no per-call values"
        return
    std = float(arr.std(ddof=1)) if n > 1 else 0.0
    mean = float(arr.mean())
    out.update(std=std, cv=std / abs(mean) if mean else math.nan)
    missing = []
    for name, q in QUANTILES.items():
        est, lo, hi = quantile_ci(arr, q, confidence)
        ci_key = "median" if name == "p50" else name
        if name == "p50":  # the median itself is shown from n = 1; only its CI needs more
            est = np.percentile(arr, 50.0)
        out.update({name: float(est), f"{ci_key}_ci_low": float(lo), f"{ci_key}_ci_high": float(hi)})
        if n < quantile_min_n(q, confidence):
            what = "median CI" if name == "p50" else name
            missing.append(f"{what} needs n >= {quantile_min_n(q, confidence)}")
    out["unreported"] = "; ".join(missing)


def summarize(
    values: Sequence[float] | np.ndarray,
    *,
    duration_s: float | None = None,
    rules: ValidityRules = DEFAULT_RULES,
    report_p99: bool = False,
    **_ignored: Any,
) -> dict[str, Any]:
    """Summary statistics of one metric's per-call samples (NaN and ±inf dropped).

    Returns ``n``, the keys of :data:`STAT_SUFFIXES` (percentiles and their CIs NaN below their minimum n),
    ``ci_method``, ``unreported`` (which estimates are NaN for lack of samples), ``valid`` and
    ``validity_reason``. ``report_p99=True`` makes an unreported p99 a validity failure (metrics whose tail is the
    point). Extra keyword arguments of the former bootstrap version (``seed``, ``n_boot``) are accepted and unused.

    >>> summarize([1.0, 2.0])["validity_reason"]
    'n=2 < 5 samples'
    """
    arr = _clean(values)
    if arr.size == 0:
        return _empty(0, "no samples")
    mean, lo, hi = mean_ci(arr, rules.confidence)
    out: dict[str, Any] = {"n": int(arr.size), "mean": float(mean), "ci_low": float(lo), "ci_high": float(hi)}
    _spread_and_quantiles(arr, out, rules.confidence)
    out.update(ci_method="t", call_mean=float(mean), call_mean_ci_low=float(lo), call_mean_ci_high=float(hi))
    reasons = validity_reasons(out, duration_s=duration_s, rules=rules, report_p99=report_p99)
    out.update(valid=not reasons, validity_reason="; ".join(reasons))
    return out


def summarize_ratio(
    numerator: Sequence[float] | np.ndarray,
    denominator: Sequence[float] | np.ndarray,
    *,
    duration_s: float | None = None,
    rules: ValidityRules = DEFAULT_RULES,
) -> dict[str, Any]:
    """Summary of a rate measured per call as numerator / denominator (tokens / seconds, images / seconds).

    ``mean`` is the ratio estimator Σ numerator / Σ denominator — the throughput over all measured calls — with its
    Fieller CI (``ci_method = "fieller"``). The mean of the per-call rates, biased upwards by Jensen's inequality
    when the denominator varies, is kept as ``call_mean`` (with its t-CI). ``std``, ``cv`` and the percentiles are
    those of the per-call rates. Pairs with a NaN on either side are dropped.

    >>> s = summarize_ratio([10.0, 10.0, 10.0, 10.0, 10.0], [1.0, 2.0, 1.0, 2.0, 1.0])
    >>> round(s["mean"], 4), round(s["call_mean"], 4), s["ci_method"]
    (7.1429, 8.0, 'fieller')
    """
    y = np.asarray(numerator, dtype=float).ravel()
    x = np.asarray(denominator, dtype=float).ravel()
    if y.shape != x.shape:
        raise ValueError(f"numerator and denominator differ in length: {y.size} vs {x.size}")
    keep = ~(np.isnan(y) | np.isnan(x))
    y, x = y[keep], x[keep]
    if y.size == 0:
        return _empty(0, "no samples")
    with np.errstate(divide="ignore", invalid="ignore"):
        per_call = y / x
    per_call = per_call[np.isfinite(per_call)]  # a call with zero denominator has no rate of its own
    ratio, lo, hi = ratio_ci(y, x, rules.confidence)
    cm, cm_lo, cm_hi = mean_ci(per_call, rules.confidence)
    out: dict[str, Any] = {"n": int(y.size), "mean": float(ratio), "ci_low": float(lo), "ci_high": float(hi)}
    _spread_and_quantiles(per_call, out, rules.confidence)
    out.update(ci_method="fieller", call_mean=float(cm), call_mean_ci_low=float(cm_lo), call_mean_ci_high=float(cm_hi))
    reasons = validity_reasons(out, duration_s=duration_s, rules=rules)
    if y.size >= rules.min_samples and np.ptp(y) > 0 and y.size < rules.ratio_min_samples_varying:
        reasons.append(f"varying numerator: ratio CI needs n >= {rules.ratio_min_samples_varying} (n={y.size})")
    out.update(valid=not reasons, validity_reason="; ".join(reasons))
    return out


def validity_reasons(
    summary: Mapping[str, Any],
    *,
    duration_s: float | None = None,
    rules: ValidityRules = DEFAULT_RULES,
    report_p99: bool = False,
) -> list[str]:
    """Why a summary is not trustworthy (empty list = valid)."""
    reasons: list[str] = []
    n = int(summary["n"])
    if n < rules.min_samples:
        reasons.append(f"n={n} < {rules.min_samples} samples")
    elif not (math.isfinite(summary.get("ci_low", math.nan)) and math.isfinite(summary.get("ci_high", math.nan))):
        reasons.append("mean CI unbounded (denominator not significantly non-zero)")
    if report_p99:
        need = max(rules.p99_min_samples, quantile_min_n(0.99, rules.confidence))
        if n < need:
            reasons.append(f"p99 needs >= {need} samples (n={n})")
    cv = summary.get("cv", math.nan)
    if cv == cv and cv > rules.cv_threshold:  # NaN-safe
        reasons.append(f"cv={cv:.2f} > {rules.cv_threshold}")
    if duration_s is not None and duration_s < rules.min_duration_s:
        reasons.append(f"duration {duration_s:.3g}s < {rules.min_duration_s}s")
    return reasons


def target_reason(met: bool | None, rel_half_width: float | None, rules: ValidityRules = DEFAULT_RULES) -> str:
    """The validity reason for an unmet stop target ("" when met or not given).

    >>> target_reason(False, 0.073)
    'CI target not met: half-width 7.3% of mean > 5%'
    """
    if met is None or met:
        return ""
    achieved = "unknown" if rel_half_width is None or rel_half_width != rel_half_width else f"{rel_half_width:.1%}"
    return f"CI target not met: half-width {achieved} of mean > {rules.target_ci_rel:.0%}"


def summarize_columns(
    values_by_metric: Mapping[str, Sequence[float]],
    *,
    primary: str | None = None,
    duration_s: float | None = None,
    rules: ValidityRules = DEFAULT_RULES,
    ratios: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    ci_target_met: bool | None = None,
    ci_rel_half_width: float | None = None,
    tail_metrics: Sequence[str] = (),
    **_ignored: Any,
) -> dict[str, Any]:
    """Summaries of several metrics as flat ``<metric>_<stat>`` columns plus a row-level verdict.

    - ``values_by_metric``: per-call samples, summarized by :func:`summarize`.
    - ``ratios``: ``{metric: (numerators, denominators)}`` summarized by :func:`summarize_ratio` (replaces a
      same-named entry of ``values_by_metric``): ``<metric>_mean`` is then Σnum/Σden, ``<metric>_call_mean`` the
      mean of the per-call rates.
    - ``tail_metrics``: metrics whose p99 is the point (``report_p99``).
    - ``ci_target_met`` / ``ci_rel_half_width``: what the measurement loop's stop rule achieved; an unmet target
      makes the row invalid with the achieved relative half-width in the reason.

    Each metric gets ``<metric>_n``, ``<metric>_valid`` and ``<metric>_validity_reason``; the row's ``valid`` is
    True only when every metric with samples is valid, the duration rule holds and the target was met.
    ``validity_reason`` lists each distinct reason once with the metrics it applies to, e.g.
    ``n=3 < 5 samples [latency_s, ttft_s]``.
    ``n`` is the primary metric's sample count (default: the first metric).

    >>> cols = summarize_columns({"latency_s": [1.0, 1.2, 1.1, 1.0, 1.1, 1.2]})
    >>> cols["latency_s_p50"], cols["n"], cols["valid"]
    (1.1, 6, True)
    >>> summarize_columns({"a_s": [1.0] * 6}, ci_target_met=False, ci_rel_half_width=0.08)["validity_reason"]
    'CI target not met: half-width 8.0% of mean > 5%'
    """
    summaries: dict[str, dict[str, Any]] = {}
    for metric, values in values_by_metric.items():
        summaries[metric] = summarize(values, duration_s=None, rules=rules, report_p99=metric in tail_metrics)
    for metric, (num, den) in (ratios or {}).items():
        summaries[metric] = summarize_ratio(num, den, rules=rules)
    row: dict[str, Any] = {}
    by_reason: dict[str, list[str]] = {}
    primary = primary or next(iter(summaries), None)
    for metric, s in summaries.items():
        row[f"{metric}_n"] = s["n"]  # metrics of one row can differ in n (NaNs dropped per metric)
        for key in (*STAT_SUFFIXES, *METRIC_FLAGS):
            row[f"{metric}_{key}"] = s[key]
        if s["n"] == 0 and metric != primary:
            row[f"{metric}_valid"] = True  # nothing reported, nothing to distrust (a stage the pipeline lacks)
            row[f"{metric}_validity_reason"] = ""
            continue
        for reason in filter(None, str(s["validity_reason"]).split("; ")):
            by_reason.setdefault(reason, []).append(metric)
    reasons = [f"{r} [{', '.join(ms)}]" if len(summaries) > 1 else r for r, ms in by_reason.items()]
    if duration_s is not None and duration_s < rules.min_duration_s:
        reasons.append(f"duration {duration_s:.3g}s < {rules.min_duration_s}s")
    target = target_reason(ci_target_met, ci_rel_half_width, rules)
    if target:
        reasons.append(target)
    if primary is None:
        row.update(n=0, valid=False, validity_reason="no metrics")
        return row
    row.update(n=summaries[primary]["n"], valid=not reasons, validity_reason="; ".join(reasons))
    return row


__all__ = [
    "DEFAULT_RULES",
    "METRIC_FLAGS",
    "QUANTILES",
    "STAT_SUFFIXES",
    "ValidityRules",
    "bootstrap_ci",
    "ci_half_width",
    "mean_ci",
    "quantile_ci",
    "quantile_ci_ranks",
    "quantile_min_n",
    "ratio_ci",
    "summarize",
    "summarize_columns",
    "summarize_ratio",
    "target_reason",
    "validity_reasons",
]
