"""Live vs simulated routing on the router_strategies live scenario: rank agreement and p99 difference.

Runs the live part of experiments/router_strategies.yaml (4 replicas, 1,500 Poisson requests at load 0.7, replica
r0 crashes at 50% of the run and is restarted by the engine manager; live at time_scale 0.1) for every strategy
and seed, live and simulated with the same service model, faults, workload and seed, and prints per seed
Spearman's rho between the modes' p99 ranking of strategies, whether both pick the same best strategy, and the
relative p99 difference (live - sim) / sim, for live runs on the real clock and on a virtual clock (the same
asyncio code in virtual time: the semantic difference alone). Keep the machine otherwise idle for the real-clock
runs.

    PYTHONPATH=$PWD python benchmarks/router_parity.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse

from blaze_lab.router.config import STRATEGY_NAMES, RouterExperimentConfig
from blaze_lab.router.parity import parity


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGY_NAMES))
    ap.add_argument("--n-requests", type=int, default=1500)
    ap.add_argument("--time-scale", type=float, default=0.1, help="real seconds per model second (live)")
    args = ap.parse_args()
    base = RouterExperimentConfig(mode="live", replicas=4, n_requests=args.n_requests, fault="crash",
                                  time_scale=args.time_scale)
    runs, per_seed = parity(base, args.strategies, args.seeds)
    print(runs.round(4).to_string(index=False))
    print()
    print(per_seed.round(3).to_string(index=False))
    print(f"\nmean Spearman rho {per_seed['spearman'].mean():.3f}; same best strategy in "
          f"{int(per_seed['same_best'].sum())}/{len(per_seed)} seeds; mean |p99 diff| "
          f"{runs['rel_diff'].abs().mean():.1%} (max {runs['rel_diff'].abs().max():.1%}); live on a virtual clock: "
          f"mean rho {per_seed['spearman_virtual'].mean():.3f}, max |p99 diff| "
          f"{runs['rel_diff_virtual'].abs().max():.1%}")


if __name__ == "__main__":
    main()
