"""When to stop warming up and when to stop measuring: two pure rules the measurement loop feeds call by call.

**Warm-up until stable** (:func:`warmup_verdict`, :class:`WarmupDetector`). Let B be the last ``window`` calls and
A the ``window`` calls before them. The calls have stopped trending when both hold:

1. *no trend inside B*: the OLS slope of B's values against call index is not significantly different from zero
   (two-sided t-test, ``window − 2`` degrees of freedom, at ``confidence``), and
2. *B agrees with A*: |mean(B) − mean(A)| <= ``rel_tol`` × |mean(B)|, or the difference is within B's noise
   (|Δ| / (s_B·√(2/w)) <= t(w−1) at ``confidence``: a change smaller than the noise cannot be told from it, so
   waiting longer would not help; A's own spread is not used, a trend inside A would inflate it).

It needs 2 × ``window`` calls at least. The detector latches: once stable it stays stable. The caller bounds
warm-up (a maximum number of calls or seconds) and records that the bound, not the rule, ended it.

**Stop rule** (:func:`stop_rule`): stop measuring when n >= ``min_n`` and the 95% Student-t CI half-width of the
mean is <= ``target_rel`` × |mean| (with ``denominators``: the Fieller CI of the ratio estimator Σvalues/Σdenominators).
Stopping the first time the target is met favours samples whose spread happens to be small, which lowers the
coverage of the CI then reported: in the coverage harness 92% with ``min_n = 5`` when the target is reached
within ~5–17 calls, >= 94% with the default ``min_n = 10`` (docs/metrics.md, "Stop rule").

Example:
    >>> det = WarmupDetector(StabilityRule(window=3))
    >>> [det.add(v) for v in [5.0, 3.0, 2.0, 1.0, 1.01, 0.99, 1.0, 1.0, 1.01]]
    [False, False, False, False, False, False, False, False, True]
    >>> stop_rule([1.0, 1.01, 0.99, 1.0, 1.0] * 2, target_rel=0.05).stop
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from blaze_lab.config import BaseConfig, check_int, check_number
from blaze_lab.errors import ConfigError
from blaze_lab.metrics.distributions import t_crit
from blaze_lab.metrics.intervals import mean_ci, ratio_ci


@dataclass(frozen=True)
class StabilityRule(BaseConfig):
    """Parameters of the warm-up rule (module docstring).

    Attributes:
        window: calls per window (the rule needs 2 × window calls).
        rel_tol: windows whose means differ by at most this fraction count as equal.
        confidence: of the slope test and the window-shift test.
    """

    PREFIX = "warmup"
    window: int = 5
    rel_tol: float = 0.02
    confidence: float = 0.95

    def stable(self, values: Sequence[float]) -> bool:
        """Same interface as :class:`blaze_lab.metrics.warmup.WarmupRule`: ``warmup_verdict(values, self).stable``.

        >>> StabilityRule(window=3).stable([1.0, 1.0, 1.0, 1.0, 1.01, 0.99])
        True
        """
        return warmup_verdict(values, self).stable

    def validate(self) -> None:
        check_int(self, "window", minimum=3)
        check_number(self, "rel_tol", minimum=0)
        if not 0.0 < self.confidence < 1.0:
            raise ConfigError(self.field_name("confidence"), self.confidence, reason="must be in (0, 1)")


@dataclass(frozen=True)
class StabilityVerdict:
    """Outcome of :func:`warmup_verdict`: ``stable`` and why (``reason``), with the two test quantities."""

    stable: bool
    reason: str
    slope_t: float = math.nan
    mean_change_rel: float = math.nan


def _slope_t(y: np.ndarray) -> float:
    """|t| of the OLS slope of y against 0..w−1 (0 when the residuals vanish and the slope is 0)."""
    w = y.size
    x = np.arange(w, dtype=float) - (w - 1) / 2.0
    sxx = float((x * x).sum())
    slope = float((x * (y - y.mean())).sum()) / sxx
    resid = y - y.mean() - slope * x
    s2 = float((resid * resid).sum()) / (w - 2)
    if s2 <= 0.0:
        return 0.0 if slope == 0.0 else math.inf
    return abs(slope) / math.sqrt(s2 / sxx)


def _shift_significant(a: np.ndarray, b: np.ndarray, confidence: float) -> bool:
    """Whether mean(A) differs from mean(B) beyond B's noise: |Δ| / (s_B·√(2/w)) > t(w−1).

    B's spread is the noise of the regime being tested; A's own spread is not used because a warm-up trend
    inside A would inflate it and hide the shift. For iid normal windows the statistic is exactly t(w−1).
    """
    diff = abs(float(a.mean() - b.mean()))
    s_b = float(b.std(ddof=1))
    if s_b <= 0.0:
        return diff > 0.0
    return diff / (s_b * math.sqrt(1.0 / a.size + 1.0 / b.size)) > float(t_crit(confidence, b.size - 1))


def warmup_verdict(values: Sequence[float] | np.ndarray, rule: StabilityRule | None = None) -> StabilityVerdict:
    """Whether the last calls of ``values`` (per-call times, in call order) have stopped trending.

    >>> warmup_verdict([3.0, 2.0, 1.5, 1.2, 1.1, 1.0, 1.0, 1.0, 1.0, 1.0]).stable
    False
    >>> warmup_verdict([1.0, 1.01, 0.99, 1.0, 1.02, 1.0, 0.99, 1.01, 1.0, 1.0]).stable
    True
    """
    rule = rule or StabilityRule()
    w = rule.window
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size < 2 * w:
        return StabilityVerdict(False, f"{arr.size} calls < {2 * w} (two windows of {w})")
    a, b = arr[-2 * w : -w], arr[-w:]
    t_slope = _slope_t(b)
    crit = float(t_crit(rule.confidence, w - 2))
    mean_b = float(b.mean())
    change = abs(mean_b - float(a.mean())) / abs(mean_b) if mean_b else math.inf
    if t_slope > crit:
        return StabilityVerdict(
            False, f"trend in the last {w} calls (slope t={t_slope:.2f} > {crit:.2f})", t_slope, change
        )
    if change > rule.rel_tol and _shift_significant(a, b, rule.confidence):
        return StabilityVerdict(
            False, f"last {w} calls differ from the {w} before by {change:.1%} > {rule.rel_tol:.0%}", t_slope, change
        )
    return StabilityVerdict(True, "stable", t_slope, change)


class WarmupDetector:
    """Feed warm-up call times one at a time; ``add`` returns True from the first call at which they are stable.

    The caller owns the bound: e.g. ``while not det.add(run_call()) and det.n < max_warmup: ...``.
    """

    def __init__(self, rule: StabilityRule | None = None) -> None:
        self.rule = rule or StabilityRule()
        self.values: list[float] = []
        self.verdict = StabilityVerdict(False, "no calls")

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def stable(self) -> bool:
        return self.verdict.stable

    def add(self, value: float) -> bool:
        self.values.append(float(value))
        if not self.verdict.stable:
            self.verdict = warmup_verdict(self.values[-2 * self.rule.window :], self.rule)
        return self.verdict.stable


@dataclass(frozen=True)
class StopDecision:
    """Outcome of :func:`stop_rule`. ``rel_half_width`` = CI half-width / |estimate| (NaN when undefined)."""

    stop: bool
    n: int
    estimate: float
    half_width: float
    rel_half_width: float
    reason: str


def stop_rule(
    values: Sequence[float] | np.ndarray,
    *,
    min_n: int = 10,
    target_rel: float = 0.05,
    confidence: float = 0.95,
    denominators: Sequence[float] | np.ndarray | None = None,
) -> StopDecision:
    """Whether measuring may stop: n >= ``min_n`` and CI half-width <= ``target_rel`` × |estimate|.

    The estimate is the mean of ``values`` (Student-t CI) or, with ``denominators``, the ratio estimator
    Σvalues / Σdenominators (Fieller CI; its half-width is half the CI's length).

    >>> d = stop_rule([1.0, 1.5, 0.7, 1.2, 0.9], min_n=5, target_rel=0.05)
    >>> d.stop, d.reason
    (False, 'half-width 35.7% of mean > 5%')
    """
    arr = np.asarray(values, dtype=float)
    if denominators is None:
        arr = arr[~np.isnan(arr)]
        est, lo, hi = (float(v) for v in mean_ci(arr, confidence))
    else:
        den = np.asarray(denominators, dtype=float)
        keep = ~(np.isnan(arr) | np.isnan(den))
        arr, den = arr[keep], den[keep]
        est, lo, hi = (float(v) for v in ratio_ci(arr, den, confidence)) if arr.size else (math.nan,) * 3
    n = int(arr.size)
    half = (hi - lo) / 2.0
    rel = half / abs(est) if est and math.isfinite(half) else math.nan
    if n < min_n:
        return StopDecision(False, n, est, half, rel, f"n={n} < {min_n}")
    if not rel <= target_rel:  # NaN-safe: an undefined CI never stops the loop
        shown = "undefined" if rel != rel else f"{rel:.1%}"
        return StopDecision(False, n, est, half, rel, f"half-width {shown} of mean > {target_rel:.0%}")
    return StopDecision(True, n, est, half, rel, "ci_target")


def first_stop(
    samples: np.ndarray,
    *,
    min_n: int = 10,
    target_rel: float = 0.05,
    max_n: int | None = None,
    confidence: float = 0.95,
) -> np.ndarray:
    """For each row of ``samples`` (calls in order), the n at which :func:`stop_rule` first stops (mean version),
    or ``max_n`` (default: the row length) when it never does. Vectorized, for the coverage harness.

    >>> first_stop(np.array([[1.0, 1.0, 1.01, 0.99, 1.0, 1.0], [1.0, 3.0, 0.2, 2.0, 0.5, 4.0]]), min_n=3)
    array([3, 6])
    """
    x = np.asarray(samples, dtype=float)
    total = x.shape[-1]
    max_n = total if max_n is None else min(max_n, total)
    k = np.arange(1, total + 1, dtype=float)
    csum = np.cumsum(x, axis=1)
    csq = np.cumsum(x * x, axis=1)
    mean = csum / k
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.maximum(csq - k * mean * mean, 0.0) / (k - 1.0)
        half = t_crit(confidence, k - 1.0) * np.sqrt(var / k)
        ok = (half <= target_rel * np.abs(mean)) & (k >= min_n) & (k <= max_n)
    idx = np.where(ok.any(axis=1), ok.argmax(axis=1) + 1, max_n)
    return np.asarray(idx, dtype=int)


__all__ = [
    "StabilityRule",
    "StabilityVerdict",
    "StopDecision",
    "WarmupDetector",
    "first_stop",
    "stop_rule",
    "warmup_verdict",
]
