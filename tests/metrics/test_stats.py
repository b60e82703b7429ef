import math

import numpy as np
import pytest

from blaze_lab.metrics.distributions import betainc, binom_cdf, t_cdf, t_crit, t_ppf
from blaze_lab.metrics.intervals import (
    binomial_ci,
    clustered_binomial_ci,
    mean_ci,
    quantile_ci,
    quantile_ci_ranks,
    quantile_min_n,
    ratio_ci,
)
from blaze_lab.metrics.stats import (
    STAT_SUFFIXES,
    ValidityRules,
    bootstrap_ci,
    ci_half_width,
    summarize,
    summarize_columns,
    summarize_ratio,
)

# Two-sided critical values from a printed t table (upper-tail probability p, df).
T_TABLE = [
    (0.975, 1, 12.7062),
    (0.975, 2, 4.3027),
    (0.975, 3, 3.1824),
    (0.975, 4, 2.7764),
    (0.975, 5, 2.5706),
    (0.975, 9, 2.2622),
    (0.975, 19, 2.0930),
    (0.975, 29, 2.0452),
    (0.975, 60, 2.0003),
    (0.975, 120, 1.9799),
    (0.995, 1, 63.6567),
    (0.995, 10, 3.1693),
    (0.95, 30, 1.6973),
    (0.90, 2, 1.8856),
    (0.999, 5, 5.8934),
]


@pytest.mark.parametrize(("p", "df", "expected"), T_TABLE)
def test_t_quantiles_match_table(p: float, df: int, expected: float) -> None:
    assert float(t_ppf(p, df)) == pytest.approx(expected, abs=1e-4)
    assert float(t_ppf(1 - p, df)) == pytest.approx(-expected, abs=1e-4)
    assert float(t_cdf(expected, df)) == pytest.approx(p, abs=2e-5)


def test_t_ppf_vectorized_fractional_df_and_limits() -> None:
    df = np.array([1.5, 2.5, 7.3, 1e6])
    t = t_ppf(np.full(4, 0.975), df)
    assert np.allclose(t_cdf(t, df), 0.975, atol=1e-10)
    assert float(t[-1]) == pytest.approx(1.959964, abs=1e-5)
    assert math.isnan(float(t_crit(0.95, 0)))
    assert float(betainc(1.0, 1.0, 0.3)) == pytest.approx(0.3)  # I_x(1,1) = x


def test_binom_cdf_matches_exact_sums() -> None:
    cdf = binom_cdf(0, 10, 0.3)
    exact = np.cumsum([math.comb(10, k) * 0.3**k * 0.7 ** (10 - k) for k in range(11)])
    assert np.allclose(cdf, exact)


def test_mean_ci_is_the_student_t_interval() -> None:
    x = np.array([9.8, 10.1, 10.4, 9.9, 10.3])
    _, lo, hi = mean_ci(x)
    half = 2.7764451 * x.std(ddof=1) / math.sqrt(5)
    assert float(lo) == pytest.approx(x.mean() - half) and float(hi) == pytest.approx(x.mean() + half)
    assert ci_half_width(x) == pytest.approx(half)
    assert math.isnan(ci_half_width([1.0]))
    rows = np.vstack([x, x + 1])
    assert mean_ci(rows)[0].shape == (2,)


def test_quantile_ci_ranks_and_bounds_by_exact_intervals() -> None:
    assert [quantile_min_n(q) for q in (0.5, 0.9, 0.95, 0.99)] == [6, 36, 72, 368]
    for q in (0.5, 0.9, 0.95, 0.99):
        n = quantile_min_n(q)
        assert quantile_ci_ranks(n - 1, q) is None and quantile_ci_ranks(n, q) is not None
    # The interpolated bounds lie between the neighbouring order statistics the binomial picks.
    x = np.sort(np.random.default_rng(3).lognormal(size=200))
    for q in (0.5, 0.9):
        lo_i, lo_w, hi_i, hi_w = quantile_ci_ranks(200, q)
        est, lo, hi = quantile_ci(x, q)
        assert x[lo_i] <= lo <= x[lo_i + 1] and x[hi_i - 1] <= hi <= x[hi_i]
        assert 0 <= lo_w <= 1 and 0 <= hi_w <= 1 and lo < est < hi
        cdf = binom_cdf(0, 200, q)
        # exact outer interval [x(l), x(u)] covers >= 95%, inner [x(l+1), x(u-1)] < 95%
        outer = cdf[hi_i] - cdf[lo_i]
        inner = cdf[hi_i - 1] - cdf[lo_i + 1]
        assert outer >= 0.95 > inner


def test_ratio_ci_with_constant_numerator_inverts_the_t_interval() -> None:
    secs = np.array([1.0, 1.2, 0.9, 1.1, 1.05])
    r, lo, hi = ratio_ci(np.full(5, 64.0), secs)
    _, mlo, mhi = mean_ci(secs)
    assert float(r) == pytest.approx(64.0 / secs.mean())
    assert float(lo) == pytest.approx(64.0 / float(mhi)) and float(hi) == pytest.approx(64.0 / float(mlo))
    # An unbounded Fieller set (mean denominator not significantly > 0) is reported as the ray holding the estimate:
    # with a constant numerator, exactly 1 / (upper t bound of the mean denominator) to infinity.
    r2, lo2, hi2 = ratio_ci([1.0, 1.0], [0.1, 5.0])
    _, _, mhi2 = mean_ci([0.1, 5.0])
    assert float(lo2) == pytest.approx(1.0 / float(mhi2)) and math.isinf(float(hi2)) and lo2 < r2
    s = summarize_ratio([1.0] * 5, [0.1, 5.0, 0.1, 5.0, 0.1])
    assert math.isinf(s["ci_high"]) and "mean CI unbounded" in s["validity_reason"]


def test_summary_matches_numpy_and_reports_tails_only_with_enough_samples() -> None:
    values = np.random.default_rng(1).normal(10, 1, 400)
    s = summarize(values)
    assert s["n"] == 400 and s["mean"] == pytest.approx(values.mean())
    assert s["p99"] == pytest.approx(np.percentile(values, 99)) and s["std"] == pytest.approx(values.std(ddof=1))
    assert s["ci_low"] < values.mean() < s["ci_high"] and s["ci_method"] == "t"
    assert s["p99_ci_low"] < s["p99"] < s["p99_ci_high"]
    assert s["valid"] and s["validity_reason"] == "" and s["unreported"] == ""
    small = summarize(values[:40])
    assert math.isnan(small["p95"]) and math.isnan(small["p99"]) and not math.isnan(small["p90"])
    assert small["unreported"] == "p95 needs n >= 72; p99 needs n >= 368" and small["valid"]
    three = summarize([1.0, 1.2, 1.1])
    assert three["p50"] == 1.1 and math.isnan(three["median_ci_low"]) and math.isnan(three["p90"])
    assert set(STAT_SUFFIXES) <= set(s)


def test_validity_reasons() -> None:
    assert summarize([1.0, 2.0])["validity_reason"] == "n=2 < 5 samples"
    noisy = summarize([1.0, 10.0, 0.1, 5.0, 3.0], rules=ValidityRules(cv_threshold=0.5))
    assert not noisy["valid"] and "cv=" in noisy["validity_reason"]
    short = summarize([1.0] * 5, duration_s=0.1, rules=ValidityRules(min_duration_s=1.0))
    assert "duration" in short["validity_reason"]
    p99 = summarize([1.0] * 100, report_p99=True)
    assert p99["validity_reason"] == "p99 needs >= 368 samples (n=100)"
    empty = summarize([])
    assert empty["n"] == 0 and not empty["valid"] and math.isnan(empty["mean"])


def test_summarize_ratio_is_total_over_total_and_keeps_the_per_call_mean() -> None:
    tokens = [10.0, 10.0, 10.0, 10.0, 10.0]
    secs = [1.0, 2.0, 1.0, 2.0, 1.0]
    s = summarize_ratio(tokens, secs)
    assert s["mean"] == pytest.approx(50 / 7) and s["call_mean"] == pytest.approx(8.0)
    assert s["ci_low"] < s["mean"] < s["ci_high"] and s["valid"]
    varying = summarize_ratio([10.0, 20.0, 10.0, 30.0, 10.0], secs)
    assert varying["validity_reason"] == "varying numerator: ratio CI needs n >= 10 (n=5)"
    with pytest.raises(ValueError, match="differ in length"):
        summarize_ratio([1.0], [1.0, 2.0])


def test_summarize_columns_validity_covers_every_metric_and_the_target() -> None:
    good = [1.0, 1.1, 0.9, 1.05, 0.95]
    cols = summarize_columns({"a_s": good, "b_s": [1.0, 2.0], "c_s": []}, primary="a_s")
    assert cols["n"] == 5 and cols["a_s_valid"] and not cols["b_s_valid"] and cols["c_s_valid"]
    assert not cols["valid"] and cols["validity_reason"] == "n=2 < 5 samples [b_s]"
    both_short = summarize_columns({"a_s": [1.0, 1.1], "b_s": [1.0, 2.0]})
    assert both_short["validity_reason"] == "n=2 < 5 samples [a_s, b_s]"
    missed = summarize_columns({"a_s": good}, ci_target_met=False, ci_rel_half_width=0.071)
    assert missed["validity_reason"] == "CI target not met: half-width 7.1% of mean > 5%" and not missed["valid"]
    assert summarize_columns({"a_s": good}, ci_target_met=True)["valid"]
    rate = summarize_columns({"latency_s": good}, ratios={"tokens_per_s": ([32.0] * 5, good)})
    assert rate["tokens_per_s_mean"] == pytest.approx(160 / sum(good)) and rate["tokens_per_s_ci_method"] == "fieller"
    assert rate["tokens_per_s_call_mean"] == pytest.approx(np.mean([32 / g for g in good]))
    assert summarize_columns({})["validity_reason"] == "no metrics"


def test_bootstrap_ci_still_available_for_plots() -> None:
    low, high = bootstrap_ci(np.arange(10.0), seed=1)
    assert low < 4.5 < high


# Clopper–Pearson bounds as R's binom.test(k, n)$conf.int prints them.
CP_TABLE = [
    (3000, 3000, 0.998771, 1.0),
    (7, 10, 0.347547, 0.933260),
    (95, 100, 0.887165, 0.983568),
    (1, 20, 0.001265, 0.248733),
    (0, 10, 0.0, 0.308497),
]


@pytest.mark.parametrize(("k", "n", "low", "high"), CP_TABLE)
def test_clopper_pearson_matches_known_values(k: int, n: int, low: float, high: float) -> None:
    est, lo, hi = binomial_ci(k, n)
    assert est == k / n
    assert lo == pytest.approx(low, abs=1e-6) and hi == pytest.approx(high, abs=1e-6)


def test_clopper_pearson_bounds_are_beta_quantiles_and_need_thousands_for_three_nines() -> None:
    # The bounds solve I_lo(k, n-k+1) = 2.5% and I_hi(k+1, n-k) = 97.5% (the Beta form of the same interval;
    # betainc's continued fraction is itself only ~1e-8 accurate at n = 10^6).
    for k, n in ((2990, 3000), (50, 60), (999_000, 1_000_000)):
        _, lo, hi = binomial_ci(k, n)
        assert float(betainc(k, n - k + 1, lo)) == pytest.approx(0.025, abs=1e-6)
        assert float(betainc(k + 1, n - k, hi)) == pytest.approx(0.975, abs=1e-6)
    # 99.9% is supported only when the lower bound clears it: 3688 clean requests, or 7223 with 2 failures.
    assert binomial_ci(3687, 3687)[1] < 0.999 < binomial_ci(3688, 3688)[1]
    assert binomial_ci(7220, 7222)[1] < 0.999 < binomial_ci(7221, 7223)[1]
    assert all(math.isnan(v) for v in binomial_ci(0, 0))
    with pytest.raises(ValueError):
        binomial_ci(5, 4)


def test_clustered_interval_widens_by_the_design_effect_only_for_bursts() -> None:
    # Independent-looking failures (spread evenly): design effect 1, the plain exact interval.
    spread = np.ones(4000)
    spread[::400] = 0.0
    est, lo, hi, deff = clustered_binomial_ci(spread)
    assert deff == 1.0 and (est, lo, hi) == binomial_ci(3990, 4000)
    # The same 10 failures in one burst: a design effect near the burst size, a much wider interval.
    burst = np.ones(4000)
    burst[2000:2010] = 0.0
    est_b, lo_b, hi_b, deff_b = clustered_binomial_ci(burst)
    assert est_b == est and deff_b > 5 and lo_b < lo - 0.002 and hi_b > hi
    # Nothing failed: no burst to measure, the exact interval.
    assert clustered_binomial_ci(np.ones(500))[1:] == (*binomial_ci(500, 500)[1:], 1.0)
