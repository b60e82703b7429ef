"""Load-balancing strategies: pure decision functions over replica state views, and their registry.

A strategy sees the replicas the router may use right now (healthy, breaker admitting, below their concurrency
limit), the request and a seeded :class:`random.Random`, and returns the chosen replica plus a short reason for
the decision ledger. No asyncio, no torch, no clock: the same objects run in live mode and in the simulator.

Registry :data:`STRATEGIES` maps names to classes; :func:`make_strategy` builds one. The base classes live in
:mod:`blaze_lab.router.strategy_base`; the prefix-cache-aware strategies (``prefix_affinity``, ``weighted_scorer``)
in :mod:`blaze_lab.router.prefix_strategies`.

Example:
    >>> import random
    >>> from blaze_lab.router.config import RouterConfig
    >>> replicas = [ReplicaState(i, f"r{i}") for i in range(4)]
    >>> replicas[0].outstanding = 5
    >>> p2c = make_strategy(RouterConfig(strategy="least_connections"), replicas)
    >>> chosen, why = p2c.choose(replicas, Request(0), random.Random(0))
    >>> chosen.index != 0
    True
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence

from blaze_lab.router.config import STRATEGY_NAMES, RouterConfig
from blaze_lab.router.prefix_strategies import PrefixAffinity, WeightedScorer
from blaze_lab.router.strategy_base import ReplicaState, Request, RequestLike, Strategy


class RoundRobin(Strategy):
    """Cycle through the candidates in order."""

    name = "round_robin"

    def __init__(self, config: RouterConfig, replicas: Sequence[ReplicaState]) -> None:
        super().__init__(config, replicas)
        self._next = 0

    def choose(self, candidates, request, rng):  # type: ignore[no-untyped-def]
        chosen = candidates[self._next % len(candidates)]
        self._next += 1
        return chosen, "rr"


class WeightedRoundRobin(Strategy):
    """Smooth weighted round robin (nginx): each replica gets traffic in proportion to its static weight,
    interleaved rather than in bursts."""

    name = "weighted_round_robin"

    def __init__(self, config: RouterConfig, replicas: Sequence[ReplicaState]) -> None:
        super().__init__(config, replicas)
        self._current = [0.0] * len(self.replicas)

    def choose(self, candidates, request, rng):  # type: ignore[no-untyped-def]
        current = self._current
        total = 0.0
        best = candidates[0]
        best_value = -math.inf
        for r in candidates:
            w = r.weight
            total += w
            value = current[r.index] + w
            current[r.index] = value
            if value > best_value:
                best, best_value = r, value
        current[best.index] -= total
        return best, "wrr"


class RandomChoice(Strategy):
    """Uniformly random candidate."""

    name = "random"

    def choose(self, candidates, request, rng):  # type: ignore[no-untyped-def]
        return candidates[int(rng.random() * len(candidates))], "random"


class LeastConnections(Strategy):
    """Fewest outstanding requests; ties broken uniformly at random."""

    name = "least_connections"

    def choose(self, candidates, request, rng):  # type: ignore[no-untyped-def]
        # Uniform among the tied minima (a scan from a random offset is not: the first minimum after a run of
        # busier replicas would win every start inside that run).
        low = min(r.outstanding for r in candidates)
        tied = [r for r in candidates if r.outstanding == low]
        best = tied[int(rng.random() * len(tied))] if len(tied) > 1 else tied[0]
        return best, f"least_conn out={best.outstanding}"


def sample_distinct(candidates: Sequence[ReplicaState], k: int, rng: random.Random) -> list[ReplicaState]:
    """``k`` distinct candidates uniformly at random (partial Fisher-Yates on the seeded RNG).

    >>> reps = [ReplicaState(i, f"r{i}") for i in range(5)]
    >>> len({r.index for r in sample_distinct(reps, 5, random.Random(0))})
    5
    """
    pool = list(candidates)
    n = len(pool)
    for i in range(min(k, n)):
        j = i + int(rng.random() * (n - i))
        pool[i], pool[j] = pool[j], pool[i]
    return pool[: min(k, n)]


class PowerOfTwoChoices(Strategy):
    """Sample two distinct candidates, keep the one with fewer outstanding requests (Mitzenmacher; Envoy, Ray)."""

    name = "power_of_two_choices"

    def choose(self, candidates, request, rng):  # type: ignore[no-untyped-def]
        n = len(candidates)
        if n == 1:
            return candidates[0], "p2c only"
        i = int(rng.random() * n)
        j = int(rng.random() * (n - 1))
        if j >= i:
            j += 1
        a, b = candidates[i], candidates[j]
        if b.outstanding < a.outstanding:
            a, b = b, a
        return a, f"p2c {a.outstanding}<={b.outstanding} vs {b.name}"


def _mix64(x: int) -> int:
    """splitmix64 finalizer: a stable integer hash (Python's str hash is salted per process)."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


class ConsistentHash(Strategy):
    """Session affinity on a hash ring (64 virtual nodes per replica).

    With ``bounded_load_c = c >= 1`` a replica accepts a request only while its outstanding count is below
    ``ceil(c * (total + 1) / n)`` (Mirrokni et al., "consistent hashing with bounded loads"); otherwise the walk
    continues clockwise, so one hot key cannot overload its home replica.
    """

    name = "consistent_hash"
    VNODES = 64

    def __init__(self, config: RouterConfig, replicas: Sequence[ReplicaState]) -> None:
        super().__init__(config, replicas)
        points = sorted(
            (_mix64(r.index * 1_000_003 + v), r.index) for r in self.replicas for v in range(self.VNODES)
        )
        self._hashes = [p[0] for p in points]
        self._owners = [p[1] for p in points]
        self._c = config.bounded_load_c

    def choose(self, candidates, request, rng):  # type: ignore[no-untyped-def]
        # Walk only the candidates the router offers (a retry or hedge excludes replicas already tried).
        allowed = {r.index for r in candidates} if len(candidates) < len(self.replicas) else None
        key = _mix64(request.session)
        pos = bisect.bisect_left(self._hashes, key)
        size = len(self._hashes)
        replicas = self.replicas
        cap = math.inf
        if self._c:
            total = sum(r.outstanding for r in candidates)
            cap = math.ceil(self._c * (total + 1) / len(candidates))
        home = -1
        for step in range(size):
            owner = replicas[self._owners[(pos + step) % size]]
            if not owner.eligible or (allowed is not None and owner.index not in allowed):
                continue
            if home < 0:
                home = owner.index
            if owner.outstanding < cap:
                return owner, "hash home" if owner.index == home else f"hash spill from {replicas[home].name}"
        # Every eligible replica is at the bound (cannot happen with c >= 1, kept as a safe fallback).
        return candidates[0], "hash fallback"


class Adaptive(Strategy):
    """Latency-aware: minimise expected latency = EWMA latency × (outstanding + 1).

    The effective weight of a replica is 1 / its measured EWMA, so weights follow measurements (static weights
    are not used: they would count a slow replica's slowness twice).
    Replicas without a measurement yet are scored with the mean EWMA of the measured ones (optimistic start);
    with probability ``adaptive_explore`` a random candidate is taken so a replica that recovered is re-measured.
    ``adaptive_choices = k > 0`` scores only k random candidates (O(k) decisions for large replica sets).
    """

    name = "adaptive"

    def choose(self, candidates, request, rng):  # type: ignore[no-untyped-def]
        n = len(candidates)
        explore = self.config.adaptive_explore
        if explore and rng.random() < explore:
            return candidates[int(rng.random() * n)], "adaptive explore"
        total = 0.0
        count = 0
        for r in candidates:  # prior for unmeasured replicas: mean EWMA of the measured ones
            if r.ewma_s > 0.0:
                total += r.ewma_s
                count += 1
        prior = total / count if count else 1.0
        k = self.config.adaptive_choices
        if k and k < n:
            # Score k distinct random candidates (k=2 is Linkerd's P2C + EWMA): O(k) instead of O(n) per decision.
            pool = sample_distinct(candidates, k, rng)
        else:
            start = int(rng.random() * n)
            pool = candidates[start:] + candidates[:start]
        best = min(pool, key=lambda r: (r.ewma_s or prior) * (r.outstanding + 1))
        score = (best.ewma_s or prior) * (best.outstanding + 1)
        return best, f"adaptive exp={score:.4f}s"


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        RoundRobin,
        WeightedRoundRobin,
        RandomChoice,
        LeastConnections,
        PowerOfTwoChoices,
        ConsistentHash,
        Adaptive,
        PrefixAffinity,
        WeightedScorer,
    )
}
assert tuple(STRATEGIES) == STRATEGY_NAMES, "config.STRATEGY_NAMES must list the registry"


def make_strategy(config: RouterConfig, replicas: Sequence[ReplicaState]) -> Strategy:
    """Build the strategy named by ``config.strategy`` over ``replicas``."""
    return STRATEGIES[config.strategy](config, replicas)


__all__ = ["STRATEGIES", "ReplicaState", "Request", "RequestLike", "Strategy", "make_strategy", "sample_distinct"]
