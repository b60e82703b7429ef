"""Router overhead: µs per routing decision per strategy, and simulated requests per second.

Decision overhead is measured two ways over 16 replicas with random outstanding counts and EWMAs:
``choose`` (the strategy alone) and ``round trip`` (RouterCore.submit + finish: candidate set, strategy, breaker
admit/record, health bookkeeping, retry budget and the ledger row). Each is the best of 5 repeats of N decisions.
Simulation speed is one full discrete-event simulation (arrivals, replicas, health checks, ledger frame).

    .venv/bin/python benchmarks/router_overhead.py                      # 16 replicas; 1M requests over 100 replicas
    .venv/bin/python benchmarks/router_overhead.py --sim-requests 100000 --sim-strategies all

Goals: <= 20 µs per decision at 16 replicas; 1M simulated requests over 100 replicas in <= 60 s.
"""

from __future__ import annotations

import argparse
import random
import time

from blaze_lab.clock import VirtualClock
from blaze_lab.router.config import STRATEGY_NAMES, HealthConfig, RouterConfig, RouterExperimentConfig
from blaze_lab.router.core import RouterCore
from blaze_lab.router.simulate import simulate
from blaze_lab.router.strategies import ReplicaState, Request, make_strategy


def choose_us(strategy: str, replicas: int, n: int) -> float:
    reps = [ReplicaState(i, f"r{i}") for i in range(replicas)]
    rng = random.Random(0)
    for r in reps:
        r.outstanding = rng.randint(0, 8)
        r.ewma_s = rng.uniform(0.01, 0.1)
    s = make_strategy(RouterConfig(strategy=strategy, bounded_load_c=1.25), reps)
    reqs = [Request(i, session=i % 1000) for i in range(n)]
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for req in reqs:
            s.choose(reps, req, rng)
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def round_trip_us(strategy: str, replicas: int, n: int) -> float:
    best = float("inf")
    for _ in range(5):
        clock = VirtualClock()
        core = RouterCore(RouterConfig(strategy=strategy, bounded_load_c=1.25, health=HealthConfig(interval_s=0.0)),
                          [f"r{i}" for i in range(replicas)], clock, seed=0)
        rng = random.Random(1)
        inflight = []
        reqs = [Request(i, session=i % 1000) for i in range(n)]
        t0 = time.perf_counter()
        for req in reqs:
            core.submit(req)
            inflight.append(core.outbox.pop())
            if len(inflight) > 4 * replicas:  # keep ~4 outstanding per replica, finish in random order
                a = inflight.pop(int(rng.random() * len(inflight)))
                core.finish(a, ok=True)
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=16)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--sim-requests", type=int, default=1_000_000)
    parser.add_argument("--sim-replicas", type=int, default=100)
    parser.add_argument("--sim-strategies", default="power_of_two_choices",
                        help="comma-separated strategy names, or 'all'")
    args = parser.parse_args()

    print(f"decision overhead, {args.replicas} replicas, best of 5 x {args.decisions} decisions")
    print(f"{'strategy':24s} {'choose µs':>10s} {'round trip µs':>14s}")
    for name in STRATEGY_NAMES:
        print(f"{name:24s} {choose_us(name, args.replicas, args.decisions):10.2f} "
              f"{round_trip_us(name, args.replicas, args.decisions):14.2f}")

    names = STRATEGY_NAMES if args.sim_strategies == "all" else tuple(args.sim_strategies.split(","))
    print(f"\nsimulation: {args.sim_requests} requests over {args.sim_replicas} replicas (heterogeneity 1.0, load 0.7)")
    print(f"{'strategy':24s} {'wall s':>8s} {'sim req/s':>10s} {'events':>9s} {'p99 s':>7s}")
    for name in names:
        cfg = RouterExperimentConfig(strategy=name, replicas=args.sim_replicas, heterogeneity=1.0, load=0.7,
                                     n_requests=args.sim_requests, seed=1)
        t0 = time.perf_counter()
        res = simulate(cfg)
        wall = time.perf_counter() - t0
        ok = res.ledger[res.ledger["outcome"] == "ok"]["latency_s"]
        print(f"{name:24s} {wall:8.1f} {args.sim_requests / wall:10.0f} {res.events:9d} {ok.quantile(0.99):7.3f}")


if __name__ == "__main__":
    main()
