"""Arrival processes: when requests arrive (open loop) or how many run at once (closed loop).

Open loop: :func:`arrival_times` draws ``n`` arrival times for a rate — Poisson (exponential gaps), gamma
(gaps with a chosen coefficient of variation: CV > 1 is bursty, CV < 1 smoother than Poisson) or constant.
Closed loop: :func:`run_closed_loop` keeps ``concurrency`` requests in flight against any async submit function,
optionally with a think time between a user's requests. Everything is seeded, nothing reads the system clock.

Example:
    >>> t = arrival_times("constant", rate=10.0, n=3)
    >>> [round(float(x), 3) for x in t]
    [0.1, 0.2, 0.3]
    >>> len(arrival_times("gamma", rate=100.0, n=1000, cv=3.0, seed=1))
    1000
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import numpy as np

from blaze_lab.clock import Clock
from blaze_lab.errors import BlazeLabError, ConfigError

ARRIVAL_KINDS = ("poisson", "gamma", "constant")


def interarrival_gaps(kind: str, rate: float, n: int, cv: float = 1.0, seed: int = 0) -> np.ndarray:
    """``n`` gaps between arrivals with mean ``1 / rate``."""
    if kind not in ARRIVAL_KINDS:
        raise ConfigError("load.arrival", kind, allowed=ARRIVAL_KINDS)
    if not rate > 0:
        raise ConfigError("load.rate", rate, reason="must be > 0")
    if not cv > 0:
        raise ConfigError("load.burstiness_cv", cv, reason="must be > 0")
    rng = np.random.default_rng(seed)
    mean = 1.0 / rate
    if kind == "constant":
        return np.full(n, mean)
    if kind == "poisson":
        return rng.exponential(mean, n)
    shape = 1.0 / (cv * cv)  # gamma with shape k has CV 1/sqrt(k)
    return rng.gamma(shape, mean / shape, n)


def arrival_times(kind: str, rate: float, n: int, cv: float = 1.0, seed: int = 0, start: float = 0.0) -> np.ndarray:
    """Absolute arrival times (seconds, increasing) of ``n`` requests."""
    return start + np.cumsum(interarrival_gaps(kind, rate, n, cv, seed))


T = TypeVar("T")


async def run_closed_loop(
    submit: Callable[[T], Awaitable[Any]],
    requests: Iterable[T],
    concurrency: int,
    clock: Clock,
    think_s: float = 0.0,
) -> list[tuple[T, Any]]:
    """Closed loop: ``concurrency`` users each submit, wait for the answer, think, and submit the next request.

    Returns ``(request, result_or_exception)`` pairs in completion order; a BlazeLabError from ``submit`` is
    returned in place of a result (typed errors are outcomes, not crashes).
    """
    if concurrency < 1:
        raise ConfigError("load.concurrency", concurrency, reason="must be >= 1")
    it = iter(requests)
    out: list[tuple[T, Any]] = []

    async def user() -> None:
        for req in it:
            try:
                result: Any = await submit(req)
            except BlazeLabError as exc:
                result = exc
            out.append((req, result))
            if think_s:
                await clock.sleep(think_s)

    await asyncio.gather(*(user() for _ in range(concurrency)))
    return out


__all__ = ["ARRIVAL_KINDS", "arrival_times", "interarrival_gaps", "run_closed_loop"]
