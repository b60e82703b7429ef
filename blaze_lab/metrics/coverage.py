"""Coverage harness: how often each interval blaze_lab reports contains the truth, on synthetic call times.

Each :class:`Sampler` draws ``(reps, n)`` per-call times with a known true mean and true quantiles; the functions
below run the library's own estimators (:mod:`blaze_lab.metrics.stats`, :mod:`blaze_lab.metrics.compare`) on every
row at once and return the share of rows whose interval holds the truth. ``benchmarks/coverage_table.py`` prints
the table in docs/metrics.md; ``tests/metrics/test_coverage.py`` asserts it.

Example:
    >>> s = SAMPLERS["lognormal cv 10%"]
    >>> round(mean_coverage(s, n=5, reps=2000, seed=0), 2)
    0.95
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from blaze_lab.metrics.intervals import (
    binomial_ci,
    clustered_binomial_ci,
    mean_ci,
    quantile_ci,
    ratio_ci,
    ratio_of_means_ci,
)
from blaze_lab.metrics.stability import first_stop

_PHI = np.vectorize(NormalDist().cdf, otypes=[float])


def _lognormal_params(cv: float) -> tuple[float, float]:
    sigma = math.sqrt(math.log1p(cv * cv))
    return -sigma * sigma / 2.0, sigma  # mean exp(mu + sigma²/2) = 1


@dataclass(frozen=True)
class Sampler:
    """Synthetic per-call times: a lognormal base (mean 1, given CV), an optional linear drift over the n calls
    (from 1 to 1 + ``drift``), and an optional share of outlier calls ``outlier_factor`` times slower."""

    name: str
    cv: float
    drift: float = 0.0
    outlier_share: float = 0.0
    outlier_factor: float = 1.0
    _cache: dict[tuple[int, float], float] = field(default_factory=dict, compare=False, repr=False)

    def draw(self, rng: np.random.Generator, reps: int, n: int) -> np.ndarray:
        mu, sigma = _lognormal_params(self.cv)
        x = rng.lognormal(mu, sigma, size=(reps, n))
        x *= self._trend(n)
        if self.outlier_share:
            x *= np.where(rng.random((reps, n)) < self.outlier_share, self.outlier_factor, 1.0)
        return x

    def _trend(self, n: int) -> np.ndarray:
        return 1.0 + self.drift * (np.arange(n) / max(n - 1, 1))

    def true_mean(self, n: int) -> float:
        """Expected mean of the n calls (with drift: of the drifting means over the window)."""
        scale = 1.0 + self.outlier_share * (self.outlier_factor - 1.0)
        return float(self._trend(n).mean() * scale)

    def true_quantile(self, q: float, n: int) -> float:
        """q-quantile of one call drawn at a uniformly random position of the window (the mixture's quantile)."""
        key = (n, q)
        if key not in self._cache:
            self._cache[key] = self._solve_quantile(q, n)
        return self._cache[key]

    def _cdf(self, x: float, n: int) -> float:
        mu, sigma = _lognormal_params(self.cv)
        scales = [(1.0, 1.0 - self.outlier_share)]
        if self.outlier_share:
            scales.append((self.outlier_factor, self.outlier_share))
        total = 0.0
        for factor, weight in scales:
            z = (np.log(x / (self._trend(n) * factor)) - mu) / sigma
            total += weight * float(_PHI(z).mean())
        return total

    def _solve_quantile(self, q: float, n: int) -> float:
        lo, hi = 1e-6, 100.0
        for _ in range(200):
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if self._cdf(mid, n) < q else (lo, mid)
        return math.sqrt(lo * hi)


SAMPLERS: dict[str, Sampler] = {
    s.name: s
    for s in (
        Sampler("lognormal cv 2%", 0.02),
        Sampler("lognormal cv 10%", 0.10),
        Sampler("lognormal cv 30%", 0.30),
        Sampler("drift +5%, cv 5%", 0.05, drift=0.05),
        Sampler("5% outliers 3x, cv 5%", 0.05, outlier_share=0.05, outlier_factor=3.0),
    )
}


def _share(hit: np.ndarray) -> float:
    return float(np.mean(hit))


def mean_coverage(
    sampler: Sampler,
    n: int,
    *,
    reps: int = 4000,
    seed: int = 0,
    confidence: float = 0.95,
) -> float:
    """Share of samples whose t-CI of the mean holds the true mean."""
    x = sampler.draw(np.random.default_rng(seed), reps, n)
    _, lo, hi = mean_ci(x, confidence)
    truth = sampler.true_mean(n)
    return _share((lo <= truth) & (truth <= hi))


def quantile_coverage(sampler: Sampler, q: float, n: int, *, reps: int = 4000, seed: int = 0) -> float:
    """Share of samples whose order-statistic CI of the q-quantile holds the true quantile (NaN below min n)."""
    x = sampler.draw(np.random.default_rng(seed), reps, n)
    _, lo, hi = quantile_ci(x, q)
    if np.isnan(lo).all():
        return math.nan
    truth = sampler.true_quantile(q, n)
    return _share((lo <= truth) & (truth <= hi))


def ratio_coverage(sampler: Sampler, n: int, *, varying: bool = False, reps: int = 4000, seed: int = 0) -> float:
    """Share of samples whose Fieller CI of Σtokens/Σseconds holds E[tokens]/E[seconds].

    With ``varying=False`` every call generates 256 tokens and takes ``sampler`` seconds; with ``varying=True``
    each call generates :func:`uniform_tokens` tokens and takes 0.05 + tokens × 0.01 × the sampler's draw seconds
    (a fixed overhead plus a per-token cost).
    """
    rng = np.random.default_rng(seed)
    base = sampler.draw(rng, reps, n)
    if not varying:
        y = np.full_like(base, 256.0)
        x = base
        truth = 256.0 / sampler.true_mean(n)
    else:
        y = uniform_tokens(rng, (reps, n)).astype(float)
        x = 0.05 + y * 0.01 * base
        mean_tokens = 136.0  # E[uniform_tokens]
        truth = mean_tokens / (0.05 + 0.01 * mean_tokens * sampler.true_mean(n))
    _, lo, hi = ratio_ci(y, x)
    return _share((lo <= truth) & (truth <= hi))


def stopped_mean_coverage(
    sampler: Sampler, *, min_n: int = 10, target_rel: float = 0.05, max_n: int = 200, reps: int = 4000, seed: int = 0
) -> tuple[float, float]:
    """Coverage of the mean's t-CI when n is chosen by the stop rule (:func:`~blaze_lab.metrics.stability.
    first_stop`: stop at the first n >= min_n whose half-width <= target_rel × mean, else at max_n), and the mean
    n at which the runs stopped. Stopping on a small sample spread can lower coverage; this measures by how much.
    The truth is the sampler's mean over the n calls actually taken (drift: over that window)."""
    x = sampler.draw(np.random.default_rng(seed), reps, max_n)
    stop = first_stop(x, min_n=min_n, target_rel=target_rel, max_n=max_n)
    hits = np.zeros(reps, dtype=bool)
    for n in np.unique(stop):
        rows = stop == n
        _, lo, hi = mean_ci(x[rows, :n])
        truth = (
            sampler.true_mean(int(n))
            if not sampler.drift
            else float((1.0 + sampler.drift * np.arange(n) / max(max_n - 1, 1)).mean())
        )
        hits[rows] = (lo <= truth) & (truth <= hi)
    return _share(hits), float(stop.mean())


def compare_coverage(
    sampler: Sampler,
    n: int,
    *,
    true_ratio: float = 1.0,
    paired: bool = True,
    round_cv: float = 0.05,
    reps: int = 4000,
    seed: int = 0,
) -> tuple[float, float]:
    """A config vs a baseline, both drawing per-call times from ``sampler``, the config ``true_ratio`` times slower;
    interleaved so each round's two calls share a machine-state factor (lognormal, CV ``round_cv``).

    Returns (coverage of the true ratio by :func:`~blaze_lab.metrics.compare.ratio_of_means_ci`, share of runs whose
    CI excludes 1, i.e. that report a difference). With ``true_ratio = 1`` (A/A) the second is the false-alarm rate.
    """
    rng = np.random.default_rng(seed)
    mu, sigma = _lognormal_params(round_cv) if round_cv else (0.0, 0.0)
    shared = rng.lognormal(mu, sigma, size=(reps, n)) if round_cv else np.ones((reps, n))
    b = sampler.draw(rng, reps, n) * shared
    c = sampler.draw(rng, reps, n) * shared * true_ratio
    _, lo, hi = ratio_of_means_ci(c, b, paired=paired)
    covered = (lo <= true_ratio) & (true_ratio <= hi)
    return _share(covered), _share((lo > 1.0) | (hi < 1.0))


def binomial_coverage(n: int, p: float, confidence: float = 0.95) -> float:
    """Exact coverage of :func:`~blaze_lab.metrics.intervals.binomial_ci` (Clopper–Pearson) at n trials and true
    success probability p: the probability, summed over every success count k with its binomial weight, that the
    interval of k/n holds p. No simulation: counts whose probability is below 1e-15 are skipped.

    >>> round(binomial_coverage(3000, 0.999), 3)
    0.988
    """
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1)))])
    ks = np.arange(n + 1)
    with np.errstate(divide="ignore"):
        log_pmf = log_fact[n] - log_fact[ks] - log_fact[n - ks] + ks * np.log(p) + (n - ks) * np.log1p(-p)
    weights = np.exp(log_pmf)
    total = 0.0
    for k in np.flatnonzero(weights > 1e-15):
        _, lo, hi = binomial_ci(int(k), n, confidence)
        if lo <= p <= hi:
            total += float(weights[k])
    return total


def burst_coverage(
    n: int, *, mean_up: float = 2000.0, mean_burst: float = 20.0, fail_in_burst: float = 0.5, reps: int = 200,
    seed: int = 0, blocks: int = 20,
) -> tuple[float, float, float]:
    """Coverage of the plain exact interval and of the burst-aware one when failures come in bursts.

    Each sample is n requests of a two-state chain: up (no failure) for a geometric number of requests of mean
    ``mean_up``, then a burst (each request fails with probability ``fail_in_burst``) of mean ``mean_burst``
    requests, started from the stationary state; the true success probability is
    1 − fail_in_burst · mean_burst / (mean_up + mean_burst). Returns (truth, Clopper–Pearson coverage,
    :func:`~blaze_lab.metrics.intervals.clustered_binomial_ci` coverage) over ``reps`` samples.
    """
    rng = np.random.default_rng(seed)
    a, b = 1.0 / mean_up, 1.0 / mean_burst
    p_down = a / (a + b)
    truth = 1.0 - fail_in_burst * p_down
    down = rng.random(reps) < p_down
    out = np.empty((reps, n), dtype=bool)
    for i in range(n):
        u = rng.random(reps)
        out[:, i] = ~(down & (rng.random(reps) < fail_in_burst))
        down = np.where(down, u >= b, u < a)
    cp = clustered = 0
    for row in out:
        _, lo, hi = binomial_ci(int(row.sum()), n)
        cp += lo <= truth <= hi
        _, lo, hi, _ = clustered_binomial_ci(row, blocks)
        clustered += lo <= truth <= hi
    return truth, cp / reps, clustered / reps


def uniform_tokens(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Output lengths uniform on 16..256 (requests of a serving workload)."""
    return rng.integers(16, 257, size=shape)


__all__ = [
    "SAMPLERS",
    "Sampler",
    "binomial_coverage",
    "burst_coverage",
    "compare_coverage",
    "mean_coverage",
    "quantile_coverage",
    "ratio_coverage",
    "stopped_mean_coverage",
    "uniform_tokens",
]
