"""The router's per-request records: a :class:`Ticket` per request, an :class:`Attempt` per try, the :class:`Ledger`.

Pure data kept apart from :class:`~blaze_lab.router.core.RouterCore`'s decisions: a ticket carries the request's
arrival, attempts, outcome and timings; the ledger turns closed tickets into the one-row-per-request frame that live
and simulated runs both return.

Example:
    >>> from blaze_lab.router.strategies import Request
    >>> t = Ticket(Request(7), arrival_s=0.5)
    >>> t.request.id, len(Ledger())
    (7, 0)
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from blaze_lab.router.strategies import ReplicaState, RequestLike


class Ticket:
    """Router-side state of one request."""

    __slots__ = (
        "arrival_s",
        "attempts",
        "breaker_state",
        "cached_tokens",
        "dispatched_s",
        "done",
        "error",
        "error_message",
        "finish_s",
        "first_token_s",
        "hedged",
        "in_flight",
        "open_breakers",
        "outcome",
        "reason",
        "replica",
        "request",
        "result",
        "tried",
        "waiter",
    )

    def __init__(self, request: RequestLike, arrival_s: float) -> None:
        self.request = request
        self.arrival_s = arrival_s
        self.dispatched_s = math.nan
        self.finish_s = math.nan
        self.first_token_s = math.nan  # when the answering attempt produced its first token (LLM replicas)
        self.cached_tokens = 0  # prompt tokens the answering replica reused from its KV prefix cache
        self.attempts = 0
        self.in_flight = 0
        self.hedged = False
        self.done = False
        self.outcome = ""
        self.error = ""
        self.error_message = ""
        self.replica = ""
        self.reason = ""
        self.breaker_state = ""
        self.open_breakers = 0
        self.tried: list[int] = []
        self.result: Any = None
        self.waiter: Any = None  # the driver's handle (an asyncio Future in live mode)

    def take_answer(self, result: Any, sent_s: float) -> None:
        """Keep the first-token time and reused tokens an LLM replica's answer reports (other answers: nothing).

        The replica reports its first token relative to when it got the call (``first_token_after_s``), so a
        replica in another process needs no shared clock; ``sent_s`` is when the router sent that attempt.
        """
        if isinstance(result, dict) and "first_token_after_s" in result:
            self.first_token_s = sent_s + float(result["first_token_after_s"])
            self.cached_tokens = int(result.get("cached_tokens", 0))


class Attempt:
    """One call of a request to one replica."""

    __slots__ = ("finished", "handle", "hedge", "number", "replica", "start_s", "ticket", "token")

    def __init__(
        self, ticket: Ticket, replica: ReplicaState, token: int, start_s: float, number: int, hedge: bool
    ) -> None:
        self.ticket = ticket
        self.replica = replica
        self.token = token
        self.start_s = start_s
        self.number = number
        self.hedge = hedge
        self.finished = False
        self.handle: Any = None  # the driver's handle (task or simulated job)


LEDGER_COLUMNS = (
    "request_id",
    "arrival_s",
    "finish_s",
    "session",
    "prompt_tokens",
    "output_tokens",
    "replica",
    "reason",
    "attempts",
    "hedged",
    "queue_wait_s",
    "latency_s",
    "outcome",
    "error_type",
    "breaker_state",
    "open_breakers",
    "ttft_s",
    "cached_tokens",
)


class Ledger:
    """The decision ledger: one row per request (tuples appended; columns built once in :meth:`frame`)."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def add(self, t: Ticket) -> None:
        req = t.request
        self.rows.append(
            (
                req.id,
                t.arrival_s,
                t.finish_s,
                req.session,
                getattr(req, "prompt_tokens", 0),
                getattr(req, "output_tokens", 0),
                t.replica,
                t.reason,
                t.attempts,
                t.hedged,
                t.dispatched_s - t.arrival_s,
                t.finish_s - t.arrival_s,
                t.outcome,
                t.error,
                t.breaker_state,
                t.open_breakers,
                t.first_token_s - t.arrival_s,
                t.cached_tokens,
            )
        )

    def __len__(self) -> int:
        return len(self.rows)

    def frame(self) -> pd.DataFrame:
        """Rows sorted by request id (completion order depends on timing; the id order does not)."""
        if not self.rows:
            return pd.DataFrame({name: [] for name in LEDGER_COLUMNS})
        columns = dict(zip(LEDGER_COLUMNS, zip(*self.rows, strict=True), strict=True))
        df = pd.DataFrame({k: list(v) for k, v in columns.items()})
        return df.sort_values("request_id", kind="stable").reset_index(drop=True)


__all__ = ["LEDGER_COLUMNS", "Attempt", "Ledger", "Ticket"]
