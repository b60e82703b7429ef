"""The simulator against an independent reference: a few-line FIFO queueing simulation with exponential service.

The reference shares no code with blaze_lab (its own RNG, event logic and policies): Poisson arrivals, one server
per replica (M/M/1 queues), join-the-shortest-queue (least connections, uniform ties) or power of two choices
(two distinct replicas, fewer outstanding wins). p99 of the response time must agree within 5%.
"""

from __future__ import annotations

import heapq
import random

import numpy as np
import pytest

from blaze_lab.router.config import RouterExperimentConfig
from blaze_lab.router.simulate import simulate


def reference_p99(policy: str, speeds: list[float], rate: float, n: int, seed: int, mean_s: float = 1.0) -> float:
    rng = random.Random(seed)
    k = len(speeds)
    free_at = [0.0] * k  # FIFO single server: a job starts when the previous one finished
    departures: list[list[float]] = [[] for _ in range(k)]  # min-heaps of finish times (jobs in system)
    t = 0.0
    out = np.empty(n)
    for i in range(n):
        t += rng.expovariate(rate)
        for q in departures:
            while q and q[0] <= t:
                heapq.heappop(q)
        if policy == "jsq":
            low = min(len(q) for q in departures)
            tied = [j for j in range(k) if len(departures[j]) == low]
            j = tied[rng.randrange(len(tied))]
        else:
            a, b = rng.sample(range(k), 2)
            j = b if len(departures[b]) < len(departures[a]) else a
        start = max(t, free_at[j])
        finish = start + rng.expovariate(1.0 / (mean_s * speeds[j]))
        free_at[j] = finish
        heapq.heappush(departures[j], finish)
        out[i] = finish - t
    return float(np.percentile(out[n // 10:], 99))  # without the empty-system start


def router_p99(strategy: str, speeds: list[float], load: float, n: int, seed: int) -> float:
    cfg = RouterExperimentConfig(
        strategy=strategy, replicas=len(speeds), speeds=tuple(speeds), replica_slots=1, base_latency_s=1.0,
        per_request_s=0.0, service_dist="exponential", load=load, n_requests=n, seed=seed, breaker="off",
        health_interval_s=0.0, attempt_timeout_s=0.0, max_attempts=1)
    ledger = simulate(cfg).ledger
    assert (ledger["outcome"] == "ok").all()
    return float(np.percentile(ledger["latency_s"].to_numpy()[n // 10:], 99))


# p99 at 90% load converges slowly: four seeds of 200k requests per side keep sampling noise near 1-2%.
CASES = [
    ("least_connections", "jsq", [1.0] * 8, 0.9, 200_000),
    ("power_of_two_choices", "p2c", [1.0] * 8, 0.9, 200_000),
    ("least_connections", "jsq", [1.0] * 6 + [3.0] * 2, 0.8, 100_000),
    ("power_of_two_choices", "p2c", [1.0] * 6 + [3.0] * 2, 0.8, 100_000),
]


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "policy", "speeds", "load", "n"), CASES)
def test_simulator_matches_independent_queueing_reference(
    strategy: str, policy: str, speeds: list[float], load: float, n: int
) -> None:
    rate = load * sum(1.0 / s for s in speeds)
    ours = np.mean([router_p99(strategy, speeds, load, n, seed) for seed in (1, 2, 3, 4)])
    ref = np.mean([reference_p99(policy, speeds, rate, n, seed) for seed in (101, 102, 103, 104)])
    assert ours == pytest.approx(ref, rel=0.05), (ours, ref)
