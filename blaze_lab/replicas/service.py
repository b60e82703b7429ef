"""The service-time model every replica follows, simulated or live: one law, one sampler, one RNG layout.

A request that starts while ``k`` requests run on a replica (itself included) takes

    ``(base_s + per_request_s·(k−1)) · speed · fault factor · noise + added latency``

model seconds (an LLM replica adds ``prefill_s_per_token · prefill tokens`` inside the parenthesis, before its first
token, and ``decode_s_per_token · output tokens`` after it, under the same factors: see
:meth:`ServiceModel.sample_split`), where ``noise`` has mean 1 and follows :attr:`ServiceModel.distribution`:

* ``lognormal``     – CV ``cv`` (the default; multiplicative noise of a measured engine);
* ``exponential``   – CV 1 whatever ``cv`` says (the textbook M/M/c service);
* ``deterministic`` – no noise;
* ``empirical``     – resampled from :attr:`ServiceModel.samples` (ratios measured/fitted of calibration rows,
  normalised to mean 1): the calibration path that keeps a real engine's tail.

:meth:`ServiceModel.sample` makes exactly one draw from the replica's service stream per request, and
:func:`replica_rngs` gives replica ``i`` of a run seeded ``seed`` the same two streams (service, faults) in both
modes, so a simulated replica and a live fake replica with the same seed draw the same service times.

Example:
    >>> m = ServiceModel(base_s=0.05, per_request_s=0.01, cv=0.0)
    >>> m.mean_s(3), m.reference_s
    (0.07, 0.05)
    >>> service_rng, _ = replica_rngs(seed=1, index=0)
    >>> m.sample(1, service_rng, speed=2.0)
    0.1
    >>> llm = ServiceModel(base_s=0.02, per_request_s=0.0, cv=0.0, prefill_s_per_token=0.001, decode_s_per_token=0.01)
    >>> [round(t, 3) for t in llm.sample_split(1, service_rng, prefill_tokens=100, output_tokens=8)]  # TTFT, total
    [0.12, 0.2]
    >>> expo = ServiceModel(distribution="exponential")
    >>> expo.sample(1, replica_rngs(1, 0)[0]) == expo.sample(1, replica_rngs(1, 0)[0])  # same seed, same draw
    True
"""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pandas as pd

from blaze_lab.errors import ConfigError

DISTRIBUTIONS = ("lognormal", "exponential", "deterministic", "empirical")


def replica_rngs(seed: int, index: int) -> tuple[random.Random, random.Random]:
    """(service stream, fault stream) of replica ``index`` in a run seeded ``seed`` — identical in both modes.

    Separate streams keep the service times of a replica independent of how many error draws a fault made.
    """
    return random.Random(seed * 1_000_003 + 2 * index), random.Random(seed * 1_000_003 + 2 * index + 1)


@dataclasses.dataclass(frozen=True)
class ServiceModel:
    """Service time of one request as a function of how many run on the replica at once.

    Attributes:
        base_s: mean latency of a lone request on a speed-1 replica (the reference for relative time knobs).
        per_request_s: added mean latency per other concurrent request.
        cv: coefficient of variation of lognormal noise (ignored by the other distributions).
        distribution: one of :data:`DISTRIBUTIONS`.
        samples: mean-1 noise values resampled by ``empirical``.
        prefill_s_per_token: added latency per prompt token that is prefilled (not reused from a KV cache).
        decode_s_per_token: added latency per output token (after the first token).
        reference_prompt_tokens, reference_output_tokens: the workload's mean lengths: :attr:`reference_s` (what
            relative time knobs multiply) is a lone request of these lengths, all of its prompt prefilled.
    """

    base_s: float = 0.05
    per_request_s: float = 0.01
    cv: float = 0.2
    distribution: str = "lognormal"
    samples: tuple[float, ...] = ()
    prefill_s_per_token: float = 0.0
    decode_s_per_token: float = 0.0
    reference_prompt_tokens: float = 0.0
    reference_output_tokens: float = 0.0

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise ConfigError("router.service_dist", self.distribution, allowed=DISTRIBUTIONS)
        if not self.base_s > 0:
            raise ConfigError("router.base_latency_s", self.base_s, reason="must be > 0")
        if self.per_request_s < 0 or self.cv < 0:
            raise ConfigError("router.per_request_s", self.per_request_s, reason="slope and cv must be >= 0")
        for name in ("prefill_s_per_token", "decode_s_per_token"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"router.{name}", getattr(self, name), reason="must be >= 0")
        if self.distribution == "empirical":
            if not self.samples or min(self.samples) < 0:
                raise ConfigError("router.calibration", len(self.samples),
                                  reason="empirical service times need measured rows (non-negative)")
            mean = sum(self.samples) / len(self.samples)
            object.__setattr__(self, "samples", tuple(s / mean for s in self.samples))
        sigma2 = math.log(1.0 + self.cv * self.cv)
        object.__setattr__(self, "_mu", -sigma2 / 2.0)
        object.__setattr__(self, "_sigma", math.sqrt(sigma2))

    @property
    def reference_s(self) -> float:
        """The mean service time relative time knobs ("4x") multiply: a lone request on a speed-1 replica."""
        return self.mean_s(1, self.reference_prompt_tokens, self.reference_output_tokens)

    def mean_s(self, active: int, prefill_tokens: float = 0, output_tokens: float = 0) -> float:
        out = self.base_s + self.per_request_s * (active - 1)
        if prefill_tokens or output_tokens:
            out += self.prefill_s_per_token * prefill_tokens + self.decode_s_per_token * output_tokens
        return out

    def capacity_rps(self, slots: int, speed: float = 1.0, prompt_tokens: float = 0,
                     output_tokens: float = 0) -> float:
        """Requests/s a replica sustains with every slot busy (every prompt token prefilled: no cache hits)."""
        return slots / (self.mean_s(slots, prompt_tokens, output_tokens) * speed)

    def noise(self, rng: random.Random) -> float:
        """One mean-1 noise draw (exactly one ``rng`` call, none when deterministic)."""
        dist = self.distribution
        if dist == "lognormal":
            return rng.lognormvariate(self._mu, self._sigma) if self.cv else 1.0  # type: ignore[attr-defined]
        if dist == "exponential":
            return rng.expovariate(1.0)
        if dist == "empirical":
            return self.samples[int(rng.random() * len(self.samples))]
        return 1.0

    def sample(self, active: int, rng: random.Random, speed: float = 1.0, factor: float = 1.0,
               added_s: float = 0.0) -> float:
        """Service time of a request starting with ``active`` requests running (itself included)."""
        return self.mean_s(active) * speed * factor * self.noise(rng) + added_s

    def sample_split(self, active: int, rng: random.Random, speed: float = 1.0, factor: float = 1.0,
                     added_s: float = 0.0, prefill_tokens: int = 0, output_tokens: int = 0) -> tuple[float, float]:
        """``(time to first token, service time)`` of an LLM request: one noise draw scales both parts.

        With no tokens this is :meth:`sample` (the same draw, the same value).
        """
        noise = self.noise(rng)
        # Same operation order as sample(): without tokens, simulated and older runs draw bit-identical times.
        first = self.mean_s(active, prefill_tokens) * speed * factor * noise + added_s
        if not output_tokens or not self.decode_s_per_token:
            return first, first
        return first, first + self.decode_s_per_token * output_tokens * speed * factor * noise

    @classmethod
    def fit(cls, df: pd.DataFrame, latency_col: str = "latency_s", concurrency_col: str = "batch_size",
            distribution: str = "lognormal") -> ServiceModel:
        """Least-squares ``latency = base + slope·(concurrency − 1)`` from measured rows.

        Accepts raw rows (``latency_s``) or summary rows (``latency_s_mean`` / ``latency_s_p50``); the noise CV is
        the mean of ``latency_s_cv`` when present, else the residual CV. Column names may be dotted
        (``llm.batch_size``): the first column ending with ``concurrency_col`` is used. ``distribution=
        "empirical"`` keeps every row's measured/fitted ratio as the noise to resample (raw rows give a tail).

        >>> rows = pd.DataFrame({"batch_size": [1, 2, 4, 8], "latency_s": [0.10, 0.12, 0.16, 0.24]})
        >>> m = ServiceModel.fit(rows)
        >>> round(m.base_s, 3), round(m.per_request_s, 3)
        (0.1, 0.02)
        """
        lat = next((c for c in (latency_col, f"{latency_col}_mean", f"{latency_col}_p50") if c in df.columns), None)
        conc = next((c for c in df.columns if c == concurrency_col or c.endswith("." + concurrency_col)), None)
        if lat is None or conc is None:
            raise ConfigError("router.calibration", list(df.columns),
                              reason=f"need a {latency_col!r} (or _mean/_p50) and a {concurrency_col!r} column")
        data = df[[conc, lat]].dropna()
        x = data[conc].to_numpy(dtype=float) - 1.0
        y = data[lat].to_numpy(dtype=float)
        if len(y) == 0:
            raise ConfigError("router.calibration", len(y), reason="no rows with both columns")
        if np.ptp(x) > 0:
            slope, base = np.polyfit(x, y, 1)
        else:
            slope, base = 0.0, float(y.mean())
        base = max(float(base), 1e-6)
        slope = max(float(slope), 0.0)
        pred = base + slope * x
        cv_col = f"{latency_col}_cv"
        if cv_col in df.columns and df[cv_col].notna().any():
            cv = float(df[cv_col].mean())
        else:
            cv = float(np.std(y / pred)) if len(y) > 2 else 0.1
        samples = tuple(float(v) for v in y / pred) if distribution == "empirical" else ()
        return cls(base_s=base, per_request_s=slope, cv=max(cv, 0.0), distribution=distribution, samples=samples)


def fit_token_costs(df: pd.DataFrame, latency_col: str = "latency_s", prompt_col: str = "prompt_tokens",
                    output_col: str = "new_tokens") -> dict[str, float]:
    """Least squares ``latency = a + b·prompt_tokens + c·output_tokens`` on measured rows (one request each).

    Returns ``base_s`` (a), ``prefill_s_per_token`` (b), ``decode_s_per_token`` (c), ``r2``, the relative error of
    the fit (``rel_err_median`` / ``rel_err_max`` of ``|fit − measured| / measured``) and ``n``: the fit and its error
    to document beside the numbers a simulation uses.

    >>> rows = pd.DataFrame({"prompt_tokens": [32, 256, 32, 256], "new_tokens": [1, 1, 9, 9],
    ...                      "latency_s": [0.05, 0.12, 0.21, 0.28]})
    >>> fit = fit_token_costs(rows)
    >>> [round(fit[k], 5) for k in ("base_s", "prefill_s_per_token", "decode_s_per_token")]
    [0.02, 0.00031, 0.02]
    """
    missing = [c for c in (latency_col, prompt_col, output_col) if c not in df.columns]
    if missing:
        raise ConfigError("router.calibration", list(df.columns), reason=f"missing columns {missing}")
    data = df[[latency_col, prompt_col, output_col]].dropna().to_numpy(dtype=float)
    if len(data) < 4:
        raise ConfigError("router.calibration", len(data), reason="need at least 4 measured rows for 3 coefficients")
    y = data[:, 0]
    x = np.column_stack([np.ones(len(y)), data[:, 1], data[:, 2]])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    pred = x @ coef
    rel = np.abs(pred - y) / y
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {"base_s": float(coef[0]), "prefill_s_per_token": float(coef[1]), "decode_s_per_token": float(coef[2]),
            "r2": 1.0 - float(((y - pred) ** 2).sum()) / ss_tot if ss_tot else float("nan"),
            "rel_err_median": float(np.median(rel)), "rel_err_max": float(rel.max()), "n": float(len(y))}


__all__ = ["DISTRIBUTIONS", "ServiceModel", "fit_token_costs", "replica_rngs"]
