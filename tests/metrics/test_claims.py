"""Claim verdicts from intervals: each outcome, the n that would decide a "cannot tell", bad claims."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.metrics.claims import (
    CANNOT_TELL,
    NOT_MEASURED,
    NOT_SUPPORTED,
    SUPPORTED,
    Claim,
    assess,
    n_needed,
    verdict,
)
from blaze_lab.metrics.intervals import mean_ci

TEN_X = Claim("throughput", "10x", "ratio", "at_least", 10.0)
HALF = Claim("latency", "-50%", "ratio", "at_most", 0.5)


@pytest.mark.parametrize(
    ("claim", "interval", "expected"),
    [
        (TEN_X, (12.0, 10.5, 14.0), SUPPORTED),
        (TEN_X, (12.0, 10.0, 14.0), SUPPORTED),  # the bound on the claimed value clears it
        (TEN_X, (4.0, 3.0, 9.9), NOT_SUPPORTED),
        (TEN_X, (9.0, 7.0, 11.0), CANNOT_TELL),
        (HALF, (0.3, 0.25, 0.45), SUPPORTED),
        (HALF, (0.8, 0.6, 1.1), NOT_SUPPORTED),
        (HALF, (0.45, 0.3, 0.7), CANNOT_TELL),
        (TEN_X, (12.0, math.nan, math.nan), CANNOT_TELL),  # no interval at this n decides nothing
        (TEN_X, (math.nan, math.nan, math.nan), NOT_MEASURED),
    ],
)
def test_verdict_reads_only_the_interval(claim: Claim, interval: tuple[float, float, float], expected: str) -> None:
    assert verdict(claim, *interval) == expected


def test_n_needed_follows_the_square_of_half_width_over_distance() -> None:
    # log scale: the lower bound 9 must move up past 10 from 12: n · (log(12/9) / log(12/10))² = 3 · 2.5² ≈ 8.1
    assert n_needed(TEN_X, 12.0, 9.0, 16.0, n=3) == math.ceil(3 * (math.log(12 / 9) / math.log(1.2)) ** 2)
    linear = Claim("a", "99.9%", "availability", "at_least", 0.999, scale="linear")
    assert n_needed(linear, 0.998, 0.996, 0.9995, n=1000) == 2250  # 1000 · (0.0015 / 0.001)²
    assert math.isnan(n_needed(TEN_X, 12.0, 11.0, 13.0, n=3))  # decided: nothing needed
    assert n_needed(TEN_X, 10.0, 8.0, 12.0, n=3) == math.inf  # the estimate sits on the claim
    assert n_needed(TEN_X, 12.0, 9.99, 16.0, n=3) == 4  # never fewer than one more unit


def test_n_needed_is_about_right_for_a_mean() -> None:
    """Sampling more from the same distribution at the predicted n decides the claim most of the time."""
    rng = np.random.default_rng(2)
    claim = Claim("m", "at least 1.0", "mean", "at_least", 1.0, scale="linear")
    small = rng.normal(1.1, 0.3, 8)
    m, lo, hi = (float(v) for v in mean_ci(small))
    assert verdict(claim, m, lo, hi) == CANNOT_TELL
    need = int(n_needed(claim, m, lo, hi, n=8))
    decided = 0
    for _ in range(200):
        big = rng.normal(1.1, 0.3, need)
        m2, lo2, hi2 = (float(v) for v in mean_ci(big))
        decided += verdict(claim, m2, lo2, hi2) != CANNOT_TELL
    assert decided >= 100  # a rough size (the estimate moves too), not a guarantee: about 80% here


def test_assess_row_carries_everything_the_report_shows() -> None:
    row = assess(HALF, 0.45, 0.3, 0.7, n=3, unit="replications")
    assert row["verdict"] == CANNOT_TELL and row["claimed"] == "<= 0.5" and row["unit"] == "replications"
    assert row["n_needed"] > 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"direction": "more"}, "claim.direction"),
        ({"scale": "sqrt"}, "claim.scale"),
        ({"value": math.nan}, "claim.value"),
        ({"value": 0.0}, "claim.value"),
    ],
)
def test_bad_claims_name_the_field(kwargs: dict[str, object], field: str) -> None:
    args = {"key": "k", "statement": "s", "metric": "m", "direction": "at_least", "value": 1.0} | kwargs
    with pytest.raises(ConfigError, match=field):
        Claim(**args)  # type: ignore[arg-type]
