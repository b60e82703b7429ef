"""Live-vs-simulated parity: how far to trust the simulator for a scenario.

:func:`parity` runs each strategy of one scenario twice per seed — live (asyncio router, fake replicas sleeping
on a real clock, the engine manager restarting crashed replicas) and simulated (same service model, fault model,
workload and seed) — and reports per seed the rank agreement of the strategies by p99 (Spearman's rho, and
whether both modes pick the same best strategy) and per run the relative p99 difference (live − sim) / sim.

:func:`parity_runs` keeps every summary metric of every (seed, strategy, mode) run, and :func:`agreement` ranks the
strategies by any of them (Spearman, Kendall's tau-b, same best): one set of runs answers for p99 latency, TTFT and
cache hit rate alike.

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

import math
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


def kendall(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b between two rankings (pairs with a NaN are left out; NaN with no untied pair).

    >>> kendall([1, 2, 3], [10, 30, 20]), kendall([1, 2, 3, 4], [4, 3, 2, 1])
    (0.3333333333333333, -1.0)
    """
    pairs = [(float(u), float(v)) for u, v in zip(a, b, strict=True) if not (math.isnan(u) or math.isnan(v))]
    x, y = [u for u, _ in pairs], [v for _, v in pairs]
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    n0 = concordant + discordant
    denom = math.sqrt((n0 + ties_x) * (n0 + ties_y))
    return (concordant - discordant) / denom if denom else float("nan")


MODES = ("live", "live_virtual", "sim")


def parity_runs(base: RouterExperimentConfig, strategies: Sequence[str], seeds: Sequence[int],
                modes: Sequence[str] = MODES) -> pd.DataFrame:
    """One row per (seed, strategy, mode) with every summary metric of that run (``mode`` ``live`` on the real
    clock, ``live_virtual`` on a virtual clock, ``sim``)."""
    rows = []
    for seed in seeds:
        for strategy in strategies:
            cfg = base.replace(strategy=strategy, seed=seed)
            for mode in modes:
                if mode == "sim":
                    row, _ = run_one(cfg.replace(mode="sim"))
                else:
                    row, _ = run_one(cfg.replace(mode="live"), clock=VirtualClock() if mode == "live_virtual" else None)
                rows.append({"seed": seed, "strategy": strategy, "mode": mode, **row})
    return pd.DataFrame(rows)


def agreement(runs: pd.DataFrame, metric: str, a: str = "live", b: str = "sim", lower_is_better: bool = True
              ) -> pd.DataFrame:
    """Per seed: how modes ``a`` and ``b`` of :func:`parity_runs` rank the strategies by ``metric``: Spearman's rho,
    Kendall's tau-b and whether both pick the same best (lowest, or highest with ``lower_is_better=False``, e.g. a
    hit rate; None when either has no value).

    >>> runs = pd.DataFrame({"seed": [0] * 6, "strategy": ["x", "y", "z"] * 2, "mode": ["live"] * 3 + ["sim"] * 3,
    ...                      "ttft_s_p50": [1.0, 2.0, 3.0, 1.5, 2.5, 2.0]})
    >>> agreement(runs, "ttft_s_p50")[["spearman", "kendall", "same_best"]].values.tolist()
    [[0.5, 0.3333333333333333, True]]
    """
    out = []
    for seed, g in runs.groupby("seed", sort=True):
        wide = g.pivot(index="strategy", columns="mode", values=metric)
        x, y = wide[a].astype(float), wide[b].astype(float)
        if not lower_is_better:  # the ranks flip together: rho and tau unchanged, the best is the highest
            x, y = -x, -y
        both = x.notna().any() and y.notna().any()
        out.append({"seed": seed, "metric": metric, "spearman": spearman(x, y), "kendall": kendall(x, y),
                    "same_best": bool(x.idxmin() == y.idxmin()) if both else None,
                    "best_" + a: x.idxmin() if x.notna().any() else None,
                    "best_" + b: y.idxmin() if y.notna().any() else None})
    return pd.DataFrame(out)


def parity(
    base: RouterExperimentConfig, strategies: Sequence[str], seeds: Sequence[int], metric: str = "latency_s_p99"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(runs, per_seed)``: one row per (seed, strategy) with both modes' ``metric``, and the agreement per seed."""
    every = parity_runs(base, strategies, seeds)
    rows = []
    for seed in seeds:
        for strategy in strategies:
            pick = every[(every["seed"] == seed) & (every["strategy"] == strategy)].set_index("mode")
            live, virtual, sim = (pick.loc[m] for m in MODES)
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
            "kendall": kendall(g["live"].tolist(), g["sim"].tolist()),
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


__all__ = ["MODES", "agreement", "kendall", "parity", "parity_runs", "spearman"]
