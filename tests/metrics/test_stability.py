import math

import numpy as np
import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.metrics.stability import StabilityRule, WarmupDetector, first_stop, stop_rule, warmup_verdict


def warmup_series(rng: np.random.Generator, calls: int, *, excess: float, tau: float, cv: float) -> np.ndarray:
    """Call times that start ``1 + excess`` times slower and relax to 1 with time constant ``tau`` calls."""
    i = np.arange(calls)
    return (1.0 + excess * np.exp(-i / tau)) * rng.lognormal(0.0, cv, calls)


def first_stable(values: np.ndarray, rule: StabilityRule | None = None) -> int | None:
    det = WarmupDetector(rule)
    for v in values:
        if det.add(v):
            return det.n
    return None


def test_warmup_ends_after_the_transient_and_not_before() -> None:
    # A 3x-slow start decaying with tau = 3 calls, 1% noise: the excess is < 2% after ~ 3·ln(200/2) ≈ 14 calls.
    ends = []
    for seed in range(40):
        values = warmup_series(np.random.default_rng(seed), 80, excess=2.0, tau=3.0, cv=0.01)
        end = first_stable(values)
        assert end is not None
        ends.append(end)
        excess_at_start_of_b = 2.0 * math.exp(-(end - 5) / 3.0)  # the oldest call in the last window
        assert excess_at_start_of_b < 0.10, (seed, end)
    assert 10 <= np.median(ends) <= 25


def test_stationary_noise_is_stable_soon_and_a_steady_trend_never_is() -> None:
    quick = [first_stable(np.random.default_rng(s).lognormal(0, 0.1, 60)) for s in range(40)]
    assert all(q is not None for q in quick) and np.mean([q == 10 for q in quick]) >= 0.8
    # +1% per call with 0.5% noise: never stable within 60 calls.
    for seed in range(10):
        rng = np.random.default_rng(seed)
        trend = (1.0 + 0.01 * np.arange(60)) * rng.lognormal(0, 0.005, 60)
        assert first_stable(trend) is None


def test_verdict_reasons_and_rule_validation() -> None:
    assert warmup_verdict([1.0] * 9).reason == "9 calls < 10 (two windows of 5)"
    v = warmup_verdict([2.0] * 5 + [1.0, 1.01, 0.99, 1.0, 1.0])
    assert not v.stable and v.reason.startswith("last 5 calls differ from the 5 before by")
    t = warmup_verdict([1.0] * 5 + [1.0, 1.1, 1.2, 1.3, 1.4])
    assert not t.stable and t.reason.startswith("trend in the last 5 calls")
    with pytest.raises(ConfigError, match=r"warmup\.window"):
        StabilityRule(window=2)
    det = WarmupDetector(StabilityRule(window=3))
    for v_ in [1.0] * 6:
        det.add(v_)
    assert det.stable and det.add(100.0)  # latched


def test_stop_rule_and_its_vectorized_twin_agree() -> None:
    rng = np.random.default_rng(0)
    x = rng.lognormal(0, 0.05, size=(50, 60))
    stops = first_stop(x, min_n=10, target_rel=0.02)
    for row, n in zip(x, stops, strict=True):
        assert stop_rule(row[:n], min_n=10, target_rel=0.02).stop or n == 60
        assert not any(stop_rule(row[:k], min_n=10, target_rel=0.02).stop for k in range(1, n))
    d = stop_rule([1.0, 1.0], min_n=10)
    assert not d.stop and d.reason == "n=2 < 10"
    ratio = stop_rule([64.0] * 10, denominators=[1.0, 1.01] * 5, min_n=10, target_rel=0.05)
    assert ratio.stop and ratio.estimate == pytest.approx(64.0 / 1.005)
