"""What every load-balancing strategy is built on: the request and replica views and the :class:`Strategy` base.

Kept apart from the registry (:mod:`blaze_lab.router.strategies`) so strategy families in their own modules
(:mod:`blaze_lab.router.prefix_strategies`) subclass the same base without an import cycle.

A strategy is a pure decision function; three optional hooks let a stateful one (a prefix index) follow what the
router did: :meth:`Strategy.routed` after an attempt is sent to a replica, :meth:`Strategy.released` when it ends
(answered, failed or cancelled), :meth:`Strategy.reset` when a replica comes back from a breaker or an ejection
(it may have restarted: what it held is gone).

Example:
    >>> import random
    >>> class First(Strategy):
    ...     name = "first"
    ...     def choose(self, candidates, request, rng):
    ...         return candidates[0], "first"
    >>> reps = [ReplicaState(0, "r0"), ReplicaState(1, "r1")]
    >>> First(None, reps).choose(reps, Request(0), random.Random(0))[0].name  # type: ignore[arg-type]
    'r0'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    import random

    from blaze_lab.router.settings import RouterConfig


class RequestLike(Protocol):
    """What a strategy may read from a request: its id and an integer session key (affinity). Prefix-aware
    strategies also read ``blocks`` (chained block hashes), ``prompt_tokens`` and ``output_tokens`` when present."""

    id: int
    session: int


class Request:
    """Minimal request (tests, benchmarks); :class:`blaze_lab.load.requests.Request` has the same fields."""

    __slots__ = ("id", "session")

    def __init__(self, id: int, session: int = 0) -> None:
        self.id = id
        self.session = session


class ReplicaState:
    """The router's live view of one replica (mutated by the router, read by strategies).

    ``outstanding`` counts attempts sent and not yet answered; ``ewma_s`` is the smoothed observed latency
    (0 until the first answer); ``eligible`` is set by the router when the replica may receive a call.
    """

    __slots__ = ("completed", "dispatched", "eligible", "ewma_s", "failed", "index", "name", "outstanding", "weight")

    def __init__(self, index: int, name: str, weight: float = 1.0) -> None:
        self.index = index
        self.name = name
        self.weight = weight
        self.outstanding = 0
        self.ewma_s = 0.0
        self.eligible = True
        self.dispatched = 0
        self.completed = 0
        self.failed = 0

    def observe(self, latency_s: float, alpha: float) -> None:
        """Fold one observed latency into the EWMA."""
        self.ewma_s = latency_s if self.ewma_s == 0.0 else self.ewma_s + alpha * (latency_s - self.ewma_s)

    def __repr__(self) -> str:
        return f"ReplicaState({self.name}, out={self.outstanding}, ewma={self.ewma_s:.4f})"


class Strategy:
    """Base: subclasses implement :meth:`choose`; ``candidates`` is never empty (the router guarantees it)."""

    name: ClassVar[str] = ""

    def __init__(self, config: RouterConfig, replicas: Sequence[ReplicaState]) -> None:
        self.config = config
        self.replicas = list(replicas)

    def choose(
        self, candidates: Sequence[ReplicaState], request: RequestLike, rng: random.Random
    ) -> tuple[ReplicaState, str]:
        raise NotImplementedError

    def routed(self, replica: ReplicaState, request: RequestLike) -> None:
        """An attempt of ``request`` was sent to ``replica`` (after its breaker admitted it)."""

    def released(self, replica: ReplicaState, request: RequestLike) -> None:
        """An attempt of ``request`` on ``replica`` ended (answered, failed or cancelled)."""

    def reset(self, replica: ReplicaState) -> None:
        """``replica`` is back in rotation after a breaker opening or an ejection (it may have restarted)."""


__all__ = ["ReplicaState", "Request", "RequestLike", "Strategy"]
