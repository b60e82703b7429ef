"""Does the exact binomial interval of availability hold its 95% when failures come in bursts (around crashes)?

Clopper–Pearson assumes independent requests. Under a crash schedule they are not: the requests that fail cluster
around the crashes, so the effective sample is nearer the number of crashes than the number of requests, and the
interval may be too narrow. This measures it on the availability scenario itself (simulated, as in
``experiments/claims_availability.yaml``): ``--seeds`` independent runs of ``--n`` requests (each seed its own
arrivals, service noise and crash schedule); the truth is the availability pooled over all runs; the coverage is
the share of runs whose 95% interval holds it (Monte-Carlo SE ≈ √(0.95·0.05/seeds)), for the plain exact
interval and for :func:`~blaze_lab.metrics.intervals.clustered_binomial_ci` (design effect over time blocks).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/availability_coverage.py --seeds 300 --n 8000
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from blaze_lab.metrics.intervals import binomial_ci, clustered_binomial_ci
from blaze_lab.router.config import RouterExperimentConfig
from blaze_lab.router.simulate import experiment_model, simulate

SCENARIO = {
    "mode": "sim",
    "replicas": 3,
    "load": 0.3,
    "mtbf_s": 20.0,
    "restart_s": 1.0,
    "slo_latency_s": "50x",
    "base_latency_s": 0.013,
    "per_request_s": 0.0,
    "replica_slots": 1,
    "service_cv": 0.3,
}


def ok_within_slo(cfg: RouterExperimentConfig) -> np.ndarray:
    """Per request of one simulated run, in arrival order: answered ok within the SLO."""
    ledger = simulate(cfg).ledger.sort_values("request_id")
    slo = cfg.seconds("slo_latency_s", experiment_model(cfg).reference_s)
    return ((ledger["outcome"] == "ok") & (ledger["latency_s"] <= slo)).to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--n", type=int, default=8000, help="requests per run (the live run's n)")
    parser.add_argument("--mtbf", type=float, default=SCENARIO["mtbf_s"])
    parser.add_argument("--restart", type=float, default=SCENARIO["restart_s"])
    parser.add_argument("--blocks", type=int, nargs="+", default=[10, 20, 40], help="clustered interval's blocks")
    args = parser.parse_args()
    t0 = time.perf_counter()
    oks = []
    for seed in range(args.seeds):
        cfg = RouterExperimentConfig(**{**SCENARIO, "mtbf_s": args.mtbf, "restart_s": args.restart},
                                     n_requests=args.n, seed=seed)
        oks.append(ok_within_slo(cfg))
    counts = [int(o.sum()) for o in oks]
    truth = sum(counts) / (args.n * args.seeds)
    cis = [binomial_ci(k, args.n) for k in counts]
    covered = sum(lo <= truth <= hi for _, lo, hi in cis) / args.seeds
    below = sum(hi < truth for _, _, hi in cis) / args.seeds
    above = sum(lo > truth for _, lo, _ in cis) / args.seeds
    failures = [args.n - k for k in counts]
    mean_f = sum(failures) / len(failures)
    var_f = sum((f - mean_f) ** 2 for f in failures) / max(len(failures) - 1, 1)
    # Binomial variance of the failure count would be n·q·(1−q); the ratio is the design effect of the clustering.
    q = 1.0 - truth
    deff = var_f / (args.n * q * (1.0 - q)) if 0 < q < 1 else math.nan
    print(f"scenario: {SCENARIO | {'mtbf_s': args.mtbf, 'restart_s': args.restart}}")
    print(f"{args.seeds} runs x {args.n} requests in {time.perf_counter() - t0:.1f} s")
    print(f"pooled availability {truth:.5f}; failures per run mean {mean_f:.1f}, variance {var_f:.1f} "
          f"(design effect {deff:.1f} vs independent requests)")
    print(f"Clopper-Pearson 95% coverage {covered:.3f} (SE {math.sqrt(0.95 * 0.05 / args.seeds):.3f}); "
          f"truth above the interval {below:.3f}, below it {above:.3f}")
    for blocks in args.blocks:
        clustered = [clustered_binomial_ci(o, blocks) for o in oks]
        cov = sum(lo <= truth <= hi for _, lo, hi, _ in clustered) / args.seeds
        width = float(np.median([hi - lo for _, lo, hi, _ in clustered]))
        deffs = float(np.median([d for *_, d in clustered]))
        print(f"clustered interval, {blocks} blocks: coverage {cov:.3f}, median width {width:.5f}, "
              f"median design effect {deffs:.1f}")


if __name__ == "__main__":
    main()
