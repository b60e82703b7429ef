"""Live-vs-simulated parity: how far to trust the simulator for a scenario.

:func:`parity` runs each strategy of one scenario twice per seed — live (asyncio router, fake replicas sleeping
on a real clock, the engine manager restarting crashed replicas) and simulated (same service model, fault model,
workload and seed) — and reports per seed the rank agreement of the strategies by p99 (Spearman's rho, and
whether both modes pick the same best strategy) and per run the relative p99 difference (live − sim) / sim.

Live mode runs twice: on the real clock (what a user's live run sees, scheduler and timer jitter included) and on a
:class:`~blaze_lab.clock.VirtualClock` (the same asyncio code in virtual time). The virtual-clock column isolates
the *semantic* difference between the modes (it is zero when they implement the same model); the real-clock column
adds the harness's real-time noise, which grows as ``time_scale`` shrinks the real service time.

Example:
    >>> from blaze_lab.router.config import RouterExperimentConfig
    >>> base = RouterExperimentConfig(mode="live", replicas=2, n_requests=100, time_scale=0.01)
    >>> runs, seeds = parity(base, ["random", "least_connections"], seeds=[0])  # doctest: +SKIP
    >>> list(seeds.columns)[:3]  # doctest: +SKIP
    ['seed', 'spearman', 'same_best']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from blaze_lab.clock import VirtualClock
from blaze_lab.router.bench import run_one
from blaze_lab.router.config import RouterExperimentConfig


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties; NaN with fewer than 2 values or no spread).

    >>> spearman([1, 2, 3], [10, 30, 20])
    0.5
    """
    ra = pd.Series(list(a), dtype=float).rank().to_numpy()
    rb = pd.Series(list(b), dtype=float).rank().to_numpy()
    if len(ra) < 2 or ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def parity(
    base: RouterExperimentConfig, strategies: Sequence[str], seeds: Sequence[int], metric: str = "latency_s_p99"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(runs, per_seed)``: one row per (seed, strategy) with both modes' ``metric``, and the agreement per seed."""
    rows = []
    for seed in seeds:
        for strategy in strategies:
            cfg = base.replace(strategy=strategy, seed=seed)
            live, _ = run_one(cfg.replace(mode="live"))
            virtual, _ = run_one(cfg.replace(mode="live"), clock=VirtualClock())
            sim, _ = run_one(cfg.replace(mode="sim"))
            rows.append({"seed": seed, "strategy": strategy, "live": live[metric], "live_virtual": virtual[metric],
                         "sim": sim[metric], "rel_diff": (live[metric] - sim[metric]) / sim[metric],
                         "rel_diff_virtual": (virtual[metric] - sim[metric]) / sim[metric],
                         "live_valid": live["valid"], "sim_valid": sim["valid"], "live_lost": live.get("lost", 0)})
    runs = pd.DataFrame(rows)
    per_seed = []
    for seed, g in runs.groupby("seed", sort=True):
        per_seed.append({
            "seed": seed,
            "spearman": spearman(g["live"], g["sim"]),
            # a live run on a busy machine may have too few successes for a p99 (NaN): then no verdict
            "same_best": (
                g.loc[g["live"].idxmin(), "strategy"] == g.loc[g["sim"].idxmin(), "strategy"]
                if g["live"].notna().any() and g["sim"].notna().any()
                else None
            ),
            "p99_rel_diff_mean": float(g["rel_diff"].mean()),
            "p99_rel_diff_max": float(g["rel_diff"].abs().max()),
            "spearman_virtual": spearman(g["live_virtual"], g["sim"]),
            "p99_rel_diff_virtual_max": float(g["rel_diff_virtual"].abs().max()),
        })
    return runs, pd.DataFrame(per_seed)


__all__ = ["parity", "spearman"]
