import math

import numpy as np
import pytest

from blaze_lab.metrics.stats import ValidityRules, bootstrap_ci, summarize, summarize_columns


def test_summary_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(10, 1, 200)
    s = summarize(values)
    assert s["n"] == 200
    assert s["mean"] == pytest.approx(values.mean())
    assert s["p99"] == pytest.approx(np.percentile(values, 99))
    assert s["std"] == pytest.approx(values.std(ddof=1))
    assert s["ci_low"] < values.mean() < s["ci_high"]
    assert s["median_ci_low"] < np.median(values) < s["median_ci_high"]
    assert s["valid"] and s["validity_reason"] == ""


def test_bootstrap_ci_covers_true_mean_about_95_percent() -> None:
    rng = np.random.default_rng(0)
    hits = 0
    for seed in range(200):
        sample = rng.normal(0.0, 1.0, 30)
        low, high = bootstrap_ci(sample, seed=seed, n_boot=400)
        hits += low <= 0.0 <= high
    assert 0.88 <= hits / 200 <= 0.99


def test_validity_reasons() -> None:
    assert summarize([1.0, 2.0])["validity_reason"] == "n=2 < 3 samples"
    noisy = summarize([1.0, 10.0, 0.1, 5.0])
    assert not noisy["valid"] and "cv=" in noisy["validity_reason"]
    short = summarize([1.0, 1.0, 1.0], duration_s=0.1, rules=ValidityRules(min_duration_s=1.0))
    assert "duration" in short["validity_reason"]
    p99 = summarize([1.0] * 10, report_p99=True)
    assert "p99 needs" in p99["validity_reason"]
    empty = summarize([])
    assert empty["n"] == 0 and not empty["valid"] and math.isnan(empty["mean"])


def test_summarize_columns_flattens_and_uses_primary() -> None:
    cols = summarize_columns({"a_s": [1.0, 1.0, 1.0], "b_s": [1.0]}, primary="b_s")
    assert cols["a_s_mean"] == 1.0 and cols["n"] == 1 and not cols["valid"]
