"""Prefix-cache-aware strategies: route a request to the replica that already holds its prompt's KV blocks.

Both keep a :class:`PrefixView`: the router's own estimate of every replica's KV prefix cache, built from what it
routed (as SGLang's gateway keeps a radix tree per worker of the prompts it sent there) — a
:class:`~blaze_lab.router.prefix_index.PrefixIndex` of block hashes, each replica's share bounded by a
least-recently-routed shadow of ``kv_cache_tokens`` (the same :class:`~blaze_lab.replicas.prefix_cache.PrefixCacheModel`
the replicas run), plus the tokens of the attempts each replica is running (its estimated KV use). No replica
reports anything back, so a replica that restarted is forgotten when it returns to rotation (:meth:`Strategy.reset`).

* ``prefix_affinity`` (SGLang ``cache_aware``): while the load is imbalanced (max − min outstanding >
  ``balance_abs_threshold`` and max > ``balance_rel_threshold`` × min) → the least-loaded candidate; else, if the
  longest cached prefix among the candidates covers more than ``affinity_threshold`` of the prompt → that replica;
  else → the candidate holding the fewest cached tokens (room for a new prefix).
* ``weighted_scorer`` (llm-d's scorer chain): the candidate maximising
  ``score_affinity · match share + score_queue · queue headroom + score_kv · (1 − KV use)``, where queue headroom is
  ``(max − outstanding) / (max − min)`` over the candidates (1 when all are equal) and KV use is the running
  attempts' prompt + output tokens over ``kv_cache_tokens``.

Only the candidates the router offers are scored, so breakers, health ejection, concurrency limits and retries
("not a replica already tried") apply as for every strategy. A request without ``blocks`` has no match: prefix
affinity then balances by cached tokens and load, the scorer by load alone.

Example:
    >>> import random
    >>> from blaze_lab.router.settings import RouterConfig
    >>> from blaze_lab.router.strategy_base import ReplicaState
    >>> class Req:
    ...     def __init__(self, id, blocks):
    ...         self.id, self.session, self.blocks, self.prompt_tokens, self.output_tokens = id, 0, blocks, 64, 8
    >>> reps = [ReplicaState(i, f"r{i}") for i in range(3)]
    >>> aff = PrefixAffinity(RouterConfig(strategy="prefix_affinity"), reps)
    >>> aff.routed(reps[2], Req(0, (7, 8, 9)))         # r2 now holds blocks 7, 8, 9
    >>> aff.choose(reps, Req(1, (7, 8, 5, 6)), random.Random(0))
    (ReplicaState(r2, out=0, ewma=0.0000), 'affinity match=0.50')
    >>> reps[2].outstanding = 20                       # r2 far busier than the others: balance first
    >>> aff.choose(reps, Req(2, (7, 8, 5, 6)), random.Random(0))[1]
    'affinity imbalance 20-0: least loaded'
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from blaze_lab.replicas.prefix_cache import PrefixCacheModel
from blaze_lab.router.prefix_index import PrefixIndex
from blaze_lab.router.settings import RouterConfig
from blaze_lab.router.strategy_base import ReplicaState, Strategy


def _blocks(request: Any) -> tuple[int, ...]:
    return tuple(getattr(request, "blocks", ()) or ())


def _tokens(request: Any) -> int:
    return int(getattr(request, "prompt_tokens", 0) or 0) + int(getattr(request, "output_tokens", 0) or 0)


class PrefixView:
    """The router's estimate of each replica's cached prefixes and running KV (see the module docstring).

    >>> view = PrefixView(2, capacity_tokens=32, block_tokens=16)
    >>> view.record(0, (1, 2), prompt_tokens=40); view.record(0, (3, 4), prompt_tokens=40)
    >>> view.matches((1, 2)), view.matches((3, 4)), view.cached_tokens(0)   # LRU: (1, 2) forgotten
    ({}, {0: 2}, 32)
    """

    def __init__(self, replicas: int, capacity_tokens: int, block_tokens: int) -> None:
        self.capacity_tokens = capacity_tokens
        self.block_tokens = block_tokens
        self.index = PrefixIndex()
        self._shadow: list[PrefixCacheModel | None] = [self._new_shadow() for _ in range(replicas)]
        self._held: list[set[int]] = [set() for _ in range(replicas)]  # without a capacity bound
        self.active_tokens = [0] * replicas

    def _new_shadow(self) -> PrefixCacheModel | None:
        return PrefixCacheModel(self.capacity_tokens, self.block_tokens) if self.capacity_tokens else None

    def matches(self, blocks: Sequence[int]) -> dict[Any, int]:
        """Per replica index: leading blocks of ``blocks`` it is believed to hold (replicas without any left out)."""
        return self.index.longest_match(blocks)

    def cached_tokens(self, replica: int) -> int:
        shadow = self._shadow[replica]
        return shadow.used_tokens if shadow is not None else len(self._held[replica]) * self.block_tokens

    def record(self, replica: int, blocks: Sequence[int], prompt_tokens: int) -> None:
        """``replica`` was sent a prompt with these blocks: it now holds them (and may have evicted others)."""
        if not blocks:
            return
        shadow = self._shadow[replica]
        if shadow is None:
            self._held[replica].update(blocks)
            self.index.record(replica, blocks)
            return
        served = shadow.serve(blocks, max(prompt_tokens, 1))
        self.index.forget(replica, served.evicted)
        self.index.record(replica, [h for h in blocks if h in shadow])

    def reset(self, replica: int) -> None:
        """Forget what ``replica`` held (it restarted or was out of rotation)."""
        self.index.drop_replica(replica)
        self._shadow[replica] = self._new_shadow()
        self._held[replica] = set()

    def kv_use(self, replica: int) -> float:
        """Estimated share of the replica's KV capacity held by its running attempts (0 without a capacity)."""
        if not self.capacity_tokens:
            return 0.0
        return min(1.0, self.active_tokens[replica] / self.capacity_tokens)


class _PrefixStrategy(Strategy):
    """Shared bookkeeping: the view follows every attempt the router sends and ends."""

    def __init__(self, config: RouterConfig, replicas: Sequence[ReplicaState]) -> None:
        super().__init__(config, replicas)
        self.view = PrefixView(len(self.replicas), config.kv_cache_tokens, config.block_tokens)

    def routed(self, replica, request):  # type: ignore[no-untyped-def]
        self.view.record(replica.index, _blocks(request), int(getattr(request, "prompt_tokens", 0) or 0))
        self.view.active_tokens[replica.index] += _tokens(request)

    def released(self, replica, request):  # type: ignore[no-untyped-def]
        self.view.active_tokens[replica.index] -= _tokens(request)

    def reset(self, replica):  # type: ignore[no-untyped-def]
        self.view.reset(replica.index)

    def match_share(self, blocks: Sequence[int], matched: int, request: Any) -> float:
        prompt = int(getattr(request, "prompt_tokens", 0) or 0) or len(blocks) * self.view.block_tokens
        return min(1.0, matched * self.view.block_tokens / prompt) if prompt else 0.0


def _pick(pool: list[ReplicaState], rng: random.Random) -> ReplicaState:
    return pool[int(rng.random() * len(pool))] if len(pool) > 1 else pool[0]


def _least_loaded(candidates: Sequence[ReplicaState], rng: random.Random) -> ReplicaState:
    low = min(r.outstanding for r in candidates)
    return _pick([r for r in candidates if r.outstanding == low], rng)


class PrefixAffinity(_PrefixStrategy):
    """Longest cached prefix above a match threshold, unless the load is imbalanced (module docstring)."""

    name = "prefix_affinity"

    def choose(self, candidates, request, rng):  # type: ignore[no-untyped-def]
        cfg = self.config
        high = max(r.outstanding for r in candidates)
        low = min(r.outstanding for r in candidates)
        if high - low > cfg.balance_abs_threshold and high > low * cfg.balance_rel_threshold:
            return _least_loaded(candidates, rng), f"affinity imbalance {high}-{low}: least loaded"
        blocks = _blocks(request)
        matches = self.view.matches(blocks) if blocks else {}
        best = max((matches.get(r.index, 0) for r in candidates), default=0)
        share = self.match_share(blocks, best, request)
        if best and share > cfg.affinity_threshold:
            holders = [r for r in candidates if matches.get(r.index, 0) == best]
            return _least_loaded(holders, rng), f"affinity match={share:.2f}"
        # No useful match: the replica with the most room for a new prefix (SGLang: the smallest tree).
        room = min(self.view.cached_tokens(r.index) for r in candidates)
        emptiest = [r for r in candidates if self.view.cached_tokens(r.index) == room]
        return _least_loaded(emptiest, rng), f"affinity miss match={share:.2f}: emptiest"


class WeightedScorer(_PrefixStrategy):
    """Weighted sum of prefix match, queue headroom and free KV (module docstring)."""

    name = "weighted_scorer"

    def choose(self, candidates, request, rng):  # type: ignore[no-untyped-def]
        cfg = self.config
        blocks = _blocks(request)
        matches = self.view.matches(blocks) if blocks and cfg.score_affinity else {}
        high = max(r.outstanding for r in candidates)
        low = min(r.outstanding for r in candidates)
        spread = high - low
        best: list[ReplicaState] = []
        best_score = -1.0
        parts: dict[int, tuple[float, float, float]] = {}
        for r in candidates:
            aff = self.match_share(blocks, matches.get(r.index, 0), request) if matches else 0.0
            queue = (high - r.outstanding) / spread if spread else 1.0
            kv = self.view.kv_use(r.index)
            parts[r.index] = (aff, queue, kv)
            score = cfg.score_affinity * aff + cfg.score_queue * queue + cfg.score_kv * (1.0 - kv)
            if score > best_score + 1e-12:
                best, best_score = [r], score
            elif score >= best_score - 1e-12:
                best.append(r)
        chosen = _pick(best, rng)
        aff, queue, kv = parts[chosen.index]
        return chosen, f"score={best_score:.2f} aff={aff:.2f} q={queue:.2f} kv={kv:.2f}"


__all__ = ["PrefixAffinity", "PrefixView", "WeightedScorer"]
