"""Zipf-popularity request streams and a driver that runs them through a :class:`TieredCache`.

Real prompt traffic is skewed: a few prompts (system prompts, FAQ questions, benchmark prompts) repeat a lot and a
long tail appears once. ``zipf_keys`` draws such a stream (rank ``r`` has probability ∝ ``1 / r**s``; ``s`` near 1
is typical of web/LLM traffic, larger ``s`` is more skewed); ``simulate_cache_workload`` sends it through a cache
and returns one row per request (which tier answered, latency), so a notebook can compare tier configurations.

Example:
    >>> from blaze_lab.clock import VirtualClock
    >>> from blaze_lab.cache.memory import MemoryTier
    >>> from blaze_lab.cache.tiered import TieredCache
    >>> clock = VirtualClock()
    >>> cache = TieredCache([MemoryTier(clock=clock)], clock=clock)
    >>> keys = zipf_keys(n_unique=50, n_requests=500, s=1.1, seed=0)
    >>> def compute(key):
    ...     clock.sleep_sync(0.2)  # a simulated 200 ms generation
    ...     return {"text": key}
    >>> rows = simulate_cache_workload(cache, keys, compute, clock)
    >>> float(rows["hit"].mean()), round(float(rows.loc[~rows["hit"], "latency_s"].max()), 6)
    (0.902, 0.2)
    >>> sorted(summarize_cache_workload(rows).columns)[:4]
    ['hit_rate', 'latency_s_mean', 'latency_s_p50', 'latency_s_p90']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.cache.tiered import TieredCache
from blaze_lab.clock import Clock
from blaze_lab.errors import ConfigError

MISS = "miss"
"""``tier`` value of a request no tier could answer."""


def zipf_keys(n_unique: int, n_requests: int, s: float = 1.0, seed: int = 0, prefix: str = "k") -> list[str]:
    """``n_requests`` keys over ``n_unique`` distinct ones with Zipf(``s``) popularity; ``f"{prefix}{rank}"``.

    Rank 0 is the most popular. Bounded support (unlike ``numpy.random.zipf``) so every key can exist and ``s``
    may be any value >= 0 (``s=0`` is uniform). Same arguments, same stream.

    Example:
        >>> zipf_keys(3, 5, s=2.0, seed=1)
        ['k0', 'k2', 'k0', 'k2', 'k0']
    """
    if isinstance(n_unique, bool) or not isinstance(n_unique, int) or n_unique < 1:
        raise ConfigError("workload.n_unique", n_unique, reason="must be an integer >= 1")
    if isinstance(n_requests, bool) or not isinstance(n_requests, int) or n_requests < 0:
        raise ConfigError("workload.n_requests", n_requests, reason="must be an integer >= 0")
    if isinstance(s, bool) or not isinstance(s, int | float) or not np.isfinite(s) or s < 0:
        raise ConfigError("workload.s", s, reason="must be a finite number >= 0")
    weights = 1.0 / np.arange(1, n_unique + 1, dtype=float) ** s
    ranks = np.random.default_rng(seed).choice(n_unique, size=n_requests, p=weights / weights.sum())
    return [f"{prefix}{int(r)}" for r in ranks]


def simulate_cache_workload(
    cache: TieredCache,
    keys: Sequence[str | None],
    compute_fn: Callable[[str | None], Any],
    clock: Clock,
    *,
    tier_cost_s: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Serve ``keys`` in order through ``cache`` (``compute_fn(key)`` on a miss); one row per request.

    Latency is measured on ``clock``: with a :class:`~blaze_lab.clock.RealClock` it is the real cost of the
    lookups, the computation and the write-through; with a :class:`~blaze_lab.clock.VirtualClock`, time moves only
    when ``compute_fn`` advances it (e.g. ``clock.sleep_sync(service_time)``) and, if ``tier_cost_s`` is given,
    by that cost for every tier a lookup consults (all tiers down to the one that answered; all on a miss).

    Rows: ``request``, ``key``, ``tier`` (name of the answering tier or ``"miss"``), ``hit``, ``lookup_s``,
    ``compute_s``, ``latency_s`` (submit -> value available, including the write-through on a miss).
    """
    names = [t.name for t in cache.tiers]
    unknown = sorted(set(tier_cost_s or {}) - set(names))
    if unknown:
        raise ConfigError("workload.tier_cost_s", unknown, allowed=names)
    rows: list[dict[str, Any]] = []
    for i, key in enumerate(keys):
        start = clock.now()
        found = cache.lookup(key)
        if tier_cost_s:
            consulted = names[: names.index(found.tier) + 1] if found.tier is not None else names
            clock.sleep_sync(sum(tier_cost_s.get(n, 0.0) for n in consulted))
        looked_up = clock.now()
        compute_s = 0.0
        if not found.hit:
            value = compute_fn(key)
            compute_s = clock.now() - looked_up
            cache.set(key, value)
        rows.append(
            {
                "request": i,
                "key": key,
                "tier": found.tier or MISS,
                "hit": found.hit,
                "lookup_s": looked_up - start,
                "compute_s": compute_s,
                "latency_s": clock.now() - start,
            }
        )
    return pd.DataFrame(rows, columns=["request", "key", "tier", "hit", "lookup_s", "compute_s", "latency_s"])


def summarize_cache_workload(rows: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Per group (e.g. ``by="cache.tiers"`` after concatenating runs): requests, hit_rate, share answered by each
    tier (``share_<tier>``) and latency mean/p50/p90/p99.

    Example:
        >>> df = pd.DataFrame({"tier": ["miss", "memory"], "hit": [False, True], "latency_s": [0.2, 0.0]})
        >>> summarize_cache_workload(df)[["requests", "hit_rate", "share_memory"]].to_dict("records")
        [{'requests': 2, 'hit_rate': 0.5, 'share_memory': 0.5}]
    """
    groups = [by] if isinstance(by, str) else list(by or [])
    grouped = rows.groupby(groups, sort=False) if groups else [((), rows)]
    out = []
    for name, part in grouped:
        row: dict[str, Any] = dict(zip(groups, name if isinstance(name, tuple) else (name,), strict=True))
        lat = part["latency_s"].to_numpy(dtype=float)
        row["requests"] = len(part)
        row["hit_rate"] = float(part["hit"].mean()) if len(part) else float("nan")
        for tier, share in part["tier"].value_counts(normalize=True).items():
            row[f"share_{tier}"] = float(share)
        row["latency_s_mean"] = float(lat.mean()) if lat.size else float("nan")
        for q in (50, 90, 99):
            row[f"latency_s_p{q}"] = float(np.percentile(lat, q)) if lat.size else float("nan")
        out.append(row)
    return pd.DataFrame(out)


__all__ = ["MISS", "simulate_cache_workload", "summarize_cache_workload", "zipf_keys"]
