"""Sweep to saturation, the parts every kind shares: the rate schedule, an over-saturation detector that ends a rate
step early, the knee, and the highest rate meeting an SLO with its interval.

A saturation schedule measures one system as a sequence of steps (run live by
:mod:`blaze_lab.serving.saturation_run`, simulated or live by :mod:`blaze_lab.router.saturation`):

1. **synchronous** — one request at a time: the unloaded latency W₀ and the rate r_sync = 1 / W₀;
2. **throughput** — every request submitted at once: the most the system completes per second, r_max;
3. **rates** — ``steps`` open-loop rates evenly spaced from r_sync (excluded) up to ``overshoot``·r_max
   (:func:`rate_schedule`). With ``overshoot`` 1.5 the top steps offer more than the system can complete, so the
   schedule always reaches over-saturation: at 1.5·r_max the queue grows by ≥ λ/3 per second, still above the
   detector's 0.2·λ bar when the max-throughput probe underestimated the capacity by up to 20 %.

While a rate step runs, :class:`OversaturationDetector` watches the requests in flight L(t) at each arrival.
Little's law: a system that keeps up holds L = λ·W requests on average, so L has no trend; an over-saturated one
completes μ < λ per second and L grows at λ − μ. The step is stopped early (no more arrivals; those in flight
finish) and marked ``oversaturated`` with the reason when, over the last window, L's least-squares slope is at
least ``min_growth``·λ (completions lag arrivals by ≥ 20 %) **and** its mean exceeds ``littles_factor``·max(1, λ·W₀)
(by Little's law the requests in flight then take ≥ 3·W₀ on average: past the knee, which is at 2·W₀) — and both
have held at every sample for a whole window (``hold``). The window (:func:`detector_window`) spans at least 40
arrival gaps and 5·W₀. Why so long: a stable queue's L wanders by about its own spread whatever the window, while
a growing one rises by (λ − μ)·window and keeps rising, so a long, sustained rise separates the two; with a short
window or no hold a batching server's bunched completions and a busy spell near capacity look like growth. On
synthetic servers (one at a time, and batches of 4; Poisson arrivals, steps of 300 service times, 20 seeds;
 tests/serving/test_saturation.py) it fired in none of the steps at load 0.8, at most 1 in 20 at 0.9, in 7
to 19 of 20 at 1.1 (late: after ~150–250 service times) and in every one at 1.5 (after a median 2–3 windows).

The **knee** is the highest offered rate among rate steps that were not over-saturated and whose median latency
stays within ``knee_factor``·W₀. The **max rate meeting the SLO** is where SLO attainment (a binomial share per
step; over-saturated steps count 0) crosses the target, interpolated linearly between the steps' realized arrival
rates; its interval brackets it between measured steps whose Wilson 95% bounds confirm a hit and a miss
(:func:`max_rate_meeting_slo`).

Example:
    >>> rate_schedule(1.0, 4.0, 5)
    [2.0, 3.0, 4.0, 5.0, 6.0]
    >>> det = OversaturationDetector(rate_rps=10.0, ref_latency_s=0.1, window_s=1.0, min_samples=3)
    >>> [det.observe(t / 10, in_flight=int(t * 2)) for t in range(20)][-1]
    True
    >>> det.reason.split(";")[0]
    'in flight grew 20/s >= 0.2 x rate'
    >>> wilson_interval(9, 10)
    (0.5958..., 0.9821...)
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.errors import ConfigError

STEP_KINDS = ("synchronous", "throughput", "rate")
OVERSHOOT = 1.5
"""Default top rate of the schedule as a multiple of the max-throughput rate (see the module docstring)."""


def rate_schedule(sync_rps: float, max_rps: float, steps: int, overshoot: float = OVERSHOOT) -> list[float]:
    """``steps`` rates evenly spaced from ``sync_rps`` (excluded) to ``overshoot`` × ``max_rps`` (included).

    When batching gave nothing over one-at-a-time (``max_rps <= sync_rps``) the top is ``overshoot`` × r_sync·2.

    >>> rate_schedule(2.0, 8.0, 2, overshoot=1.0)
    [5.0, 8.0]
    """
    if steps < 0:
        raise ConfigError("saturation_steps", steps, reason="must be >= 0")
    if not overshoot > 0:
        raise ConfigError("saturation_overshoot", overshoot, reason="must be > 0")
    lo, hi = float(sync_rps), float(max_rps)
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0 or steps == 0:
        return []
    if hi <= lo:
        hi = 2.0 * lo
    top = overshoot * hi
    return [float(r) for r in lo + (top - lo) * np.arange(1, steps + 1) / steps]


def detector_window(rate_rps: float, ref_latency_s: float, floor_s: float = 0.0) -> float:
    """The detector's window: at least ``floor_s``, 40 mean arrival gaps and 5 unloaded latencies.

    >>> detector_window(2.0, 1.5, floor_s=2.0)
    20.0
    """
    return max(float(floor_s), 40.0 / rate_rps if rate_rps > 0 else 0.0, 5.0 * max(float(ref_latency_s), 0.0))


class OversaturationDetector:
    """Queue growth + Little's-law check over a sliding window of (time, requests in flight) samples."""

    def __init__(self, rate_rps: float, ref_latency_s: float, window_s: float = 2.0, min_growth: float = 0.2,
                 littles_factor: float = 3.0, min_samples: int = 5, hold: float = 1.0) -> None:
        self.rate = float(rate_rps)
        self.ref_latency = float(ref_latency_s)
        self.window_s = float(window_s)
        self.min_growth = float(min_growth)
        self.littles_factor = float(littles_factor)
        self.min_samples = int(min_samples)
        self.hold = float(hold)
        self._since = math.nan  # when the condition last became true (NaN: it is false)
        self.samples: deque[tuple[float, int]] = deque()
        self._origin = math.nan
        self._sums = (0.0, 0.0, 0.0, 0.0)  # sum of x, n, x^2, x*n over the window (least-squares slope)
        self.reason = ""
        self.fired_at_s = math.nan

    @property
    def oversaturated(self) -> bool:
        return bool(self.reason)

    def observe(self, t: float, in_flight: int) -> bool:
        """Record a sample; True (and ``reason`` set) once the window shows over-saturation."""
        if self.reason:
            return True
        t, n = float(t), float(in_flight)
        if math.isnan(self._origin):
            self._origin = t
        x = t - self._origin  # sums of times relative to the first sample: no cancellation late in a long step
        self.samples.append((t, int(in_flight)))
        self._add(x, n, 1.0)
        start = t - self.window_s
        while self.samples and self.samples[0][0] < start:  # running sums: O(1) per sample, also at 1e5 arrivals
            old_t, old_n = self.samples.popleft()
            self._add(old_t - self._origin, float(old_n), -1.0)
        count = len(self.samples)
        if count < self.min_samples or t - self.samples[0][0] < 0.5 * self.window_s:
            self._since = math.nan
            return False
        st, sn, stt, stn = self._sums
        var = count * stt - st * st
        slope = (count * stn - st * sn) / var if var > 0 else 0.0
        expected = self.rate * self.ref_latency  # Little's law: L = lambda W for a system that keeps up
        mean_in_flight = sn / count
        if not (slope >= self.min_growth * self.rate and mean_in_flight > self.littles_factor * max(expected, 1.0)):
            self._since = math.nan
            return False
        if math.isnan(self._since):
            self._since = t
        if t - self._since >= self.hold * self.window_s:  # sustained: a busy spell does not last a whole window
            self.reason = (f"in flight grew {slope:.3g}/s >= {self.min_growth:g} x rate; mean in flight "
                           f"{mean_in_flight:.3g} > {self.littles_factor:g} x max(1, lambda W0 = {expected:.3g})")
            self.fired_at_s = t
            return True
        return False

    def _add(self, x: float, n: float, sign: float) -> None:
        st, sn, stt, stn = self._sums
        self._sums = (st + sign * x, sn + sign * n, stt + sign * x * x, stn + sign * x * n)


def in_flight_at_arrivals(arrival_s: Sequence[float] | np.ndarray, finish_s: Sequence[float] | np.ndarray
                          ) -> np.ndarray:
    """Requests in flight just before each arrival (arrivals sorted), from each request's arrival and finish time.

    >>> in_flight_at_arrivals([0.0, 1.0, 2.0, 3.0], [2.5, 2.5, 2.6, 3.5]).tolist()
    [0, 1, 2, 0]
    """
    arrivals = np.asarray(arrival_s, dtype=float)
    finishes = np.sort(np.asarray(finish_s, dtype=float))
    # every request that finished by t_i arrived before it, so L_i = i - #finished by t_i
    return np.arange(len(arrivals)) - np.searchsorted(finishes, arrivals, side="right")


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (holds coverage near 0 and 1, unlike the Wald one)."""
    if n <= 0:
        return math.nan, math.nan
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _crossing(rates: Sequence[float], values: Sequence[float], target: float) -> float:
    """The rate where ``values`` (falling with rate) first drops below ``target``, interpolated linearly.

    Returns the top rate when it never drops, NaN when even the first rate is below.
    """
    if not len(rates) or values[0] < target:
        return math.nan
    for i in range(1, len(rates)):
        if values[i] < target:
            r0, r1, v0, v1 = rates[i - 1], rates[i], values[i - 1], values[i]
            return float(r0 + (v0 - target) * (r1 - r0) / (v0 - v1)) if v0 != v1 else float(r0)
    return float(rates[-1])


NO_SLO_RATE: dict[str, Any] = {"max_rate_slo_rps": math.nan, "max_rate_slo_ci_low": math.nan,
                               "max_rate_slo_ci_high": math.nan, "max_rate_slo_censored": False}


def max_rate_meeting_slo(steps: pd.DataFrame, target: float = 0.9, rate_column: str = "offered_rps"
                         ) -> dict[str, Any]:
    """Rate where SLO attainment crosses ``target`` over the ``rate`` steps (``rate_column``, ``slo_met``,
    ``requests_sent``, optional ``oversaturated``), with a bracketing interval between measured steps.

    The estimate interpolates the steps' attainment linearly. The interval does not interpolate: its low end is the
    highest step whose Wilson 95% lower bound still reaches the target (the SLO is confirmed there), its high end
    the lowest step whose Wilson upper bound is below it (a miss is confirmed there; ``inf`` when no step confirms
    one: the SLO may hold beyond the top rate). If attainment falls with the rate, the true max rate lies between
    them with probability >= 95% (two one-sided 97.5% bounds); its width is at least the step spacing, which is
    the resolution the schedule has. NaN low end: the target is not confirmed even at the lowest rate at this n
    (20 of 20 met has a Wilson lower bound of 0.84).

    A step marked ``oversaturated`` counts as attainment 0: its queue was growing without bound, so no latency SLO
    holds at that rate for long; what its requests measured describes a step cut short, not a sustainable rate.

    >>> steps = pd.DataFrame({"offered_rps": [1.0, 2.0, 3.0], "slo_met": [60, 60, 6], "requests_sent": [60] * 3})
    >>> out = max_rate_meeting_slo(steps)
    >>> round(out["max_rate_slo_rps"], 2), out["max_rate_slo_ci_low"], out["max_rate_slo_ci_high"]
    (2.11, 2.0, 3.0)
    """
    df = steps[steps[rate_column].notna()].sort_values(rate_column)
    rates = df[rate_column].astype(float).tolist()
    over = df["oversaturated"].astype(bool).tolist() if "oversaturated" in df.columns else [False] * len(df)
    met = [0 if o else int(k) for k, o in zip(df["slo_met"], over, strict=True)]
    sent = [int(n) for n in df["requests_sent"]]
    bounds = [wilson_interval(k, n) for k, n in zip(met, sent, strict=True)]
    share = [k / n if n else math.nan for k, n in zip(met, sent, strict=True)]
    missed = [r for r, (_, hi) in zip(rates, bounds, strict=True) if hi < target]
    high = min(missed) if missed else math.inf
    kept = [r for r, (lo, _) in zip(rates, bounds, strict=True) if lo >= target and r < high]
    return {
        "max_rate_slo_rps": _crossing(rates, share, target),
        # never below the target up to the top rate: the estimate is only a lower bound
        "max_rate_slo_censored": bool(len(share) and min(share) >= target),
        "max_rate_slo_ci_low": max(kept) if kept else math.nan,
        "max_rate_slo_ci_high": float(high) if rates else math.nan,
        "slo_target_attainment": target,
    }


def knee(steps: pd.DataFrame, ref_latency_s: float, knee_factor: float = 2.0) -> dict[str, Any]:
    """The highest offered rate among ``rate`` steps that were not over-saturated and whose median latency stays
    within ``knee_factor`` × the synchronous latency (``knee_step`` -1 and NaN when none qualifies).

    ``knee_rps`` is that offered rate; ``knee_achieved_rps`` / ``knee_tokens_per_s`` what the step completed (a
    short open-loop step completes fewer per second than offered: its window includes the last requests' tail).
    """
    rates = steps[steps["step_kind"] == "rate"] if "step_kind" in steps.columns else steps
    ok = rates[~rates["oversaturated"].astype(bool) & (rates["latency_s_p50"] <= knee_factor * ref_latency_s)]
    if not len(ok):
        return {"knee_step": -1, "knee_rps": math.nan, "knee_arrived_rps": math.nan, "knee_achieved_rps": math.nan,
                "knee_tokens_per_s": math.nan}
    best = ok.loc[ok["offered_rps"].idxmax()]
    return {"knee_step": int(best["step"]), "knee_rps": float(best["offered_rps"]),
            "knee_arrived_rps": float(best.get("arrived_rps", math.nan)),
            "knee_achieved_rps": float(best["requests_per_s"]),
            "knee_tokens_per_s": float(best.get("tokens_per_s", math.nan))}


__all__ = ["NO_SLO_RATE", "OVERSHOOT", "STEP_KINDS", "OversaturationDetector", "detector_window",
           "in_flight_at_arrivals", "knee", "max_rate_meeting_slo", "rate_schedule", "wilson_interval"]
