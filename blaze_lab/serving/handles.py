"""One submitted request as its client sees it: a :class:`RequestHandle` with its own token stream and result.

Every batcher (:class:`~blaze_lab.serving.batching.DynamicBatcher`,
:class:`~blaze_lab.serving.continuous.ContinuousBatcher`) and the result cache in front of them hand out these
handles: ``async for tok in handle.stream()`` yields each :class:`StreamToken` (with its time since submit) as it is
decoded, ``await handle.result()`` the :class:`RequestResult`; ``handle.cancel()`` ends this request only.
``handle.row()`` is the request's metrics row: queue wait, TTFT, TPOT, ITL, E2E (docs/metrics.md definitions,
measured from submit).

Example:
    >>> import asyncio
    >>> from blaze_lab.clock import VirtualClock
    >>> async def main():
    ...     handle = RequestHandle(0, "Hello", max_new_tokens=2, prompt_tokens=1, clock=VirtualClock())
    ...     handle._push(7, 0.5)
    ...     handle._end(OK, text="hi")
    ...     return [tok.token_id async for tok in handle.stream()], (await handle.result()).outcome
    >>> asyncio.run(main())
    ([7], 'ok')
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

from blaze_lab.clock import Clock

# Request outcomes (the ``outcome`` column; ``status`` is the row contract's ok/error).
OK, CANCELLED, REJECTED, FAILED = "ok", "cancelled", "rejected", "error"


@dataclasses.dataclass(frozen=True)
class StreamToken:
    """One generated token of a request: its id, position in the output, and seconds since submit."""

    token_id: int
    index: int
    t_s: float


@dataclasses.dataclass(frozen=True)
class RequestResult:
    """What a request produced: ``outcome`` is ok | cancelled | error, ``error`` the message ("" when ok)."""

    request_id: int
    outcome: str
    text: str
    token_ids: list[int]
    token_times_s: list[float]
    error: str = ""


class RequestHandle:
    """One submitted request: its token stream, its result, its timestamps (on the batcher's clock)."""

    def __init__(self, request_id: int, prompt: str, max_new_tokens: int, prompt_tokens: int, clock: Clock) -> None:
        self.id = request_id
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        self.prompt_tokens = prompt_tokens
        self.clock = clock
        self.submit_t = clock.now()
        self.start_t = math.nan  # when its batch (or the continuous manager) started working on it
        self.batch_id: int | None = None
        self.batch_size: int | None = None
        self.cache_tier = ""  # result-cache tier that answered ("" = computed)
        self.token_ids: list[int] = []
        self.token_times_s: list[float] = []
        self.outcome = ""
        self.error = ""
        self.text = ""
        self._queue: asyncio.Queue[StreamToken | None] = asyncio.Queue()
        self._done: asyncio.Future[RequestResult] = asyncio.get_running_loop().create_future()
        self._cancel_hook: Callable[[RequestHandle], None] | None = None

    # -- consumer side -----------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._done.done()

    @property
    def cancelled(self) -> bool:
        return self.outcome == CANCELLED

    async def stream(self) -> AsyncIterator[StreamToken]:
        """This request's tokens in order, as they are decoded; ends when it finishes, fails or is cancelled."""
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    async def result(self) -> RequestResult:
        """Wait for the request to end (ok, cancelled or error); never raises for the request's own failure."""
        return await asyncio.shield(self._done)

    def cancel(self) -> bool:
        """Cancel this request only: its stream ends now; other requests (even in its batch) are not disturbed."""
        if self.done:
            return False
        self._end(CANCELLED, "cancelled by the client")
        if self._cancel_hook is not None:
            self._cancel_hook(self)
        return True

    # -- producer side (event loop only) -----------------------------------------------------------------------
    def _push(self, token_id: int, t_s: float) -> None:
        if self.done:
            return  # cancelled: late tokens of its batch row are dropped
        tok = StreamToken(token_id=token_id, index=len(self.token_ids), t_s=t_s)
        self.token_ids.append(token_id)
        self.token_times_s.append(t_s)
        self._queue.put_nowait(tok)

    def _end(self, outcome: str, error: str = "", text: str = "") -> None:
        if self.done:
            return
        self.outcome, self.error, self.text = outcome, error, text
        self._queue.put_nowait(None)
        self._done.set_result(
            RequestResult(self.id, outcome, text, list(self.token_ids), list(self.token_times_s), error)
        )

    # -- metrics -----------------------------------------------------------------------------------------------
    def itl_s(self) -> list[float]:
        """Gaps between consecutive streamed tokens."""
        return [b - a for a, b in itertools.pairwise(self.token_times_s)]

    def row(self) -> dict[str, Any]:
        """Per-request metrics (seconds from submit): queue wait, TTFT, TPOT, ITL stats, E2E, tokens, batch."""
        times = self.token_times_s
        n = len(times)
        ttft = times[0] if n else math.nan
        e2e = times[-1] if n else math.nan
        itl = self.itl_s()
        return {
            "request": self.id,
            "outcome": self.outcome or "pending",
            "request_error": self.error,
            "queue_wait_s": self.start_t - self.submit_t,
            "ttft_s": ttft,
            "tpot_s": (e2e - ttft) / (n - 1) if n > 1 else math.nan,
            "latency_s": e2e,
            "itl_s_mean": sum(itl) / len(itl) if itl else math.nan,
            "itl_s_max": max(itl) if itl else math.nan,
            "output_tokens": n,
            "prompt_tokens": self.prompt_tokens,
            "batch_id": self.batch_id if self.batch_id is not None else -1,
            "batch_size": self.batch_size if self.batch_size is not None else 0,
            "cache_tier": self.cache_tier,
        }


__all__ = ["CANCELLED", "FAILED", "OK", "REJECTED", "RequestHandle", "RequestResult", "StreamToken"]
