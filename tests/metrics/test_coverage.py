"""Coverage harness: every interval blaze_lab reports holds 95% ± 2% at the n it is reported with.

4,000 simulated experiments per cell (Monte-Carlo SE ≈ 0.34%, so the [93%, 97%] band is ~6 SE wide); fixed
seeds. The known failure — the mean of a process with rare slow outliers at small n — is asserted as the number
docs/metrics.md states, not hidden.
"""

import pytest

from blaze_lab.metrics.coverage import (
    SAMPLERS,
    binomial_coverage,
    burst_coverage,
    compare_coverage,
    mean_coverage,
    quantile_coverage,
    ratio_coverage,
    stopped_mean_coverage,
)
from blaze_lab.metrics.stats import quantile_min_n

BAND = (0.93, 0.97)
WELL_BEHAVED = ["lognormal cv 2%", "lognormal cv 10%", "lognormal cv 30%", "drift +5%, cv 5%"]
OUTLIERS = "5% outliers 3x, cv 5%"


def in_band(value: float) -> bool:
    return BAND[0] <= value <= BAND[1]


@pytest.mark.parametrize("name", WELL_BEHAVED)
def test_mean_t_interval(name: str) -> None:
    for n in (2, 5, 30):
        cov = mean_coverage(SAMPLERS[name], n)
        assert in_band(cov), (name, n, cov)


def test_mean_t_interval_with_rare_outliers_needs_hundreds_of_calls() -> None:
    # Documented in docs/metrics.md: with 5% of calls 3x slower the sample mean is far from normal until n is in
    # the hundreds; 5 clean calls cannot reveal outliers they did not see.
    s = SAMPLERS[OUTLIERS]
    assert mean_coverage(s, 5) < 0.40 and mean_coverage(s, 30) < 0.85
    assert in_band(mean_coverage(s, 400))


@pytest.mark.parametrize("name", ["lognormal cv 10%", "drift +5%, cv 5%", OUTLIERS])
def test_percentile_order_statistic_intervals(name: str) -> None:
    for q in (0.5, 0.9, 0.95, 0.99):
        m = quantile_min_n(q)
        for n in (m, m + 1, 2 * m) if q < 0.99 else (m, m + 1):
            cov = quantile_coverage(SAMPLERS[name], q, n)
            assert in_band(cov), (name, q, n, cov)


@pytest.mark.parametrize("name", WELL_BEHAVED)
def test_ratio_estimator_fieller_interval(name: str) -> None:
    for n in (5, 30):
        cov = ratio_coverage(SAMPLERS[name], n)
        assert in_band(cov), (name, n, cov)
    for n in (10, 30):  # requests of varying length: valid from n = 10 (ValidityRules.ratio_min_samples_varying)
        cov = ratio_coverage(SAMPLERS[name], n, varying=True)
        assert in_band(cov), (name, n, cov)


@pytest.mark.parametrize("name", ["lognormal cv 2%", "lognormal cv 10%", "drift +5%, cv 5%"])
def test_mean_interval_after_the_stop_rule(name: str) -> None:
    for target in (0.01, 0.02, 0.05):
        cov, _ = stopped_mean_coverage(SAMPLERS[name], min_n=10, target_rel=target)
        assert in_band(cov), (name, target, cov)


def test_stop_rule_with_min_n_5_undercovers_as_documented() -> None:
    cov, mean_n = stopped_mean_coverage(SAMPLERS["lognormal cv 10%"], min_n=5, target_rel=0.05)
    assert cov < 0.93 and mean_n < 20


@pytest.mark.parametrize("name", WELL_BEHAVED)
def test_compare_intervals_and_a_a(name: str) -> None:
    for n in (3, 10):
        cov, alarms = compare_coverage(SAMPLERS[name], n, paired=True)  # A/A, interleaved
        assert in_band(cov) and 1 - alarms >= 0.94, (name, n, cov, alarms)
        cov, _ = compare_coverage(SAMPLERS[name], n, true_ratio=1.2, paired=True)
        assert in_band(cov), (name, n, cov)
        cov, alarms = compare_coverage(SAMPLERS[name], n, paired=False, round_cv=0.0)  # independent runs
        # Unpaired, a drift inside each run inflates its spread: Welch is conservative there (97.5% at n = 3).
        ok = in_band(cov) if not SAMPLERS[name].drift else BAND[0] <= cov <= 0.98
        assert ok and 1 - alarms >= 0.94, (name, n, cov, alarms)


def test_a_b_with_a_real_20_percent_difference_is_found() -> None:
    _, found = compare_coverage(SAMPLERS["lognormal cv 2%"], 3, true_ratio=1.2)
    assert found >= 0.99
    _, found = compare_coverage(SAMPLERS["lognormal cv 10%"], 10, true_ratio=1.2)
    assert found >= 0.90
    _, found = compare_coverage(SAMPLERS["lognormal cv 10%"], 10, true_ratio=1.2, paired=False, round_cv=0.0)
    assert found >= 0.90


@pytest.mark.parametrize(("n", "p"), [(20, 0.5), (100, 0.9), (3000, 0.999), (10_000, 0.999), (10_000, 0.9999)])
def test_clopper_pearson_never_undercovers(n: int, p: float) -> None:
    # Exact coverage (no simulation): the exact interval holds at least 95% at every n and p, conservatively
    # near 1 (98.8% at 3000 requests and p = 0.999), which is what a "supported" availability claim may rely on.
    cov = binomial_coverage(n, p)
    assert 0.95 <= cov <= 0.999, (n, p, cov)


@pytest.mark.slow  # ~20 s: 200 runs of 10,000 requests, two intervals each
def test_burst_aware_availability_interval_holds_where_clopper_pearson_does_not() -> None:
    # Failures in bursts (mean 10 requests at 50% failures, every ~200 requests: ~48 bursts per run): the exact
    # binomial interval assumes independent requests and misses the truth most of the time (40%); the
    # design-effect interval holds its 95% within Monte-Carlo error (94.5%; 200 runs: SE 1.5%).
    truth, cp, clustered = burst_coverage(10_000, mean_up=200.0, mean_burst=10.0, reps=200, seed=1)
    assert 0.97 < truth < 0.98
    assert cp < 0.7, cp
    assert clustered >= 0.91, clustered
