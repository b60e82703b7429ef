"""Dynamic batching in front of an LLM: a request queue, Triton-style batch formation, streaming through the batch.

A :class:`DynamicBatcher` takes requests one at a time (``submit``) and runs them in batches: a batch is formed as
soon as ``max_batch_size`` requests wait, or when the oldest waiting request has waited ``max_wait_ms`` (deadlines
on the injected :class:`~blaze_lab.clock.Clock`, so tests drive them with a ``VirtualClock`` and never sleep).
With ``bucket_tokens > 0`` a batch only holds prompts of one length bucket, which limits padding.

Every request gets a :class:`~blaze_lab.serving.handles.RequestHandle`: its own token stream
(``async for tok in handle.stream()``, each token with its time since submit) and its own result
(``await handle.result()``). Streaming works *through* the batch: a per-batch streamer receives each decode step's
tokens in the worker thread and hands each row's token to that request's asyncio queue. Cancelling one request ends
its stream at once; the batch goes on for the others. The generate call runs in a worker thread
(``run_in_executor``) so the event loop stays responsive while the model runs. The waiting queue is bounded: one
request too many raises :class:`~blaze_lab.errors.Overloaded`.

Metrics: per request (``RequestHandle.row()``): queue wait, TTFT, TPOT, ITL, E2E (docs/metrics.md definitions,
measured from submit); per batch (``DynamicBatcher.batches``): size, padding waste, forward time.

The same interface (``start``/``submit``/``close``, handles) is offered by
:class:`blaze_lab.serving.continuous.ContinuousBatcher`, so ``batching: none | dynamic | continuous`` is a sweep axis
(``none`` is a DynamicBatcher with ``max_batch_size=1``); :func:`benchmark_group` is the ``serving`` kind's entry
point (implemented in :mod:`blaze_lab.serving.bench`).

Example:
    >>> import asyncio
    >>> from blaze_lab.engines.llm import LLMEngine, LLMConfig
    >>> from blaze_lab.serving.runner import LLMBatchRunner
    >>> async def main():
    ...     engine = LLMEngine(LLMConfig(model="random:tiny-llama", device="cpu"))
    ...     async with DynamicBatcher(LLMBatchRunner(engine), max_batch_size=4, max_wait_ms=5) as batcher:
    ...         handles = [batcher.submit(p, max_new_tokens=4) for p in ("Hello", "The cat sat")]
    ...         async for tok in handles[0].stream():
    ...             print(tok.index, round(tok.t_s, 3))       # tokens as they are decoded
    ...         return [(await h.result()).text for h in handles]
    >>> asyncio.run(main())  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import math
import threading
from typing import TYPE_CHECKING, Any

import pandas as pd

from blaze_lab.clock import Clock, RealClock
from blaze_lab.errors import ConfigError, EngineUnavailable, Overloaded
from blaze_lab.serving.config import BATCHING_MODES, ServingConfig
from blaze_lab.serving.handles import FAILED, OK, RequestHandle
from blaze_lab.serving.runner import BatchRun, BatchRunner, LLMBatchRunner

if TYPE_CHECKING:
    from blaze_lab.engines.llm.engine import LLMEngine


class DynamicBatcher:
    """Triton-style dynamic batcher (see the module docstring).

    Args:
        runner: runs a batch (an :class:`LLMBatchRunner`, or a fake in unit tests).
        max_batch_size: a batch is formed as soon as this many (same-bucket) requests wait.
        max_wait_ms: ... or when the oldest waiting request has waited this long (0 = run what is there).
        max_queue: requests allowed to wait; ``submit`` beyond it raises ``Overloaded``.
        bucket_tokens: prompt-length bucket width (tokens); a batch holds one bucket only. 0 = no bucketing.
        default_new_tokens: ``max_new_tokens`` when ``submit`` gives none.
        clock: deadlines and timestamps (``VirtualClock`` in tests).
    """

    def __init__(
        self,
        runner: BatchRunner,
        *,
        max_batch_size: int = 8,
        max_wait_ms: float = 5.0,
        max_queue: int = 1024,
        bucket_tokens: int = 0,
        default_new_tokens: int = 16,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ConfigError("serving.max_batch_size", max_batch_size, reason="must be an integer >= 1")
        if isinstance(max_wait_ms, bool) or not isinstance(max_wait_ms, int | float) or not max_wait_ms >= 0:
            raise ConfigError("serving.max_wait_ms", max_wait_ms, reason="must be a number >= 0")
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise ConfigError("serving.max_queue", max_queue, reason="must be an integer >= 1")
        if isinstance(bucket_tokens, bool) or not isinstance(bucket_tokens, int) or bucket_tokens < 0:
            raise ConfigError("serving.bucket", bucket_tokens, reason="must be an integer >= 0")
        self.runner = runner
        self.max_batch_size = max_batch_size
        self.max_wait_s = float(max_wait_ms) / 1000.0
        self.max_queue = max_queue
        self.bucket_tokens = bucket_tokens
        self.default_new_tokens = default_new_tokens
        self.clock: Clock = clock or RealClock()
        self.batches: list[dict[str, Any]] = []  # per-batch metrics, in run order
        self._waiting: list[RequestHandle] = []
        self._ids = itertools.count()
        self._batch_ids = itertools.count()
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._closing = False
        self.rejected = 0

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> DynamicBatcher:
        if self._task is None:
            self._arrived = asyncio.Event()
            # One worker thread: one model, one batch at a time; the event loop keeps accepting requests meanwhile.
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="blaze-batcher")
            self._task = asyncio.create_task(self._loop(), name="dynamic-batcher")
        return self

    async def close(self, drain: bool = True) -> None:
        """Stop accepting requests; ``drain`` runs what is queued, otherwise queued requests are cancelled."""
        self._closing = True
        if not drain:
            for handle in list(self._waiting):
                handle.cancel()
        if self._arrived is not None:
            self._arrived.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def __aenter__(self) -> DynamicBatcher:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def queue_depth(self) -> int:
        return len(self._waiting)

    # -- requests ----------------------------------------------------------------------------------------------
    def submit(self, prompt: str, max_new_tokens: int | None = None) -> RequestHandle:
        """Queue one request; returns its handle at once. Raises Overloaded when ``max_queue`` requests wait."""
        if self._task is None or self._closing:
            raise EngineUnavailable("the batcher is not running (call start() or use `async with`)")
        if len(self._waiting) >= self.max_queue:
            self.rejected += 1
            raise Overloaded(f"batcher queue full: {len(self._waiting)} requests waiting (max_queue={self.max_queue})")
        n = max_new_tokens if max_new_tokens is not None else self.default_new_tokens
        length = self.runner.prompt_length(prompt)
        handle = RequestHandle(next(self._ids), prompt, n, length, self.clock)
        handle._cancel_hook = self._on_cancel
        self._waiting.append(handle)
        assert self._arrived is not None
        self._arrived.set()
        return handle

    def _on_cancel(self, handle: RequestHandle) -> None:
        if handle in self._waiting:
            self._waiting.remove(handle)  # never reaches a batch
        # A running request is only marked (handle.done): its row keeps decoding, its tokens are dropped.

    # -- batch formation ---------------------------------------------------------------------------------------
    def _bucket(self, handle: RequestHandle) -> int:
        return handle.prompt_tokens // self.bucket_tokens if self.bucket_tokens else 0

    def _candidates(self) -> list[RequestHandle]:
        """The oldest request's bucket, oldest first, up to max_batch_size."""
        bucket = self._bucket(self._waiting[0])
        same = [h for h in self._waiting if self._bucket(h) == bucket]
        return same[: self.max_batch_size]

    async def _wait_for_arrival(self, timeout_s: float) -> None:
        """Return when a request arrives (or close is called) or ``timeout_s`` passes on the clock."""
        assert self._arrived is not None
        self._arrived.clear()
        sleeper = asyncio.ensure_future(self.clock.sleep(timeout_s))
        arrival = asyncio.ensure_future(self._arrived.wait())
        try:
            await asyncio.wait({sleeper, arrival}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            arrival.cancel()

    async def _next_batch(self) -> tuple[list[RequestHandle], str] | None:
        assert self._arrived is not None
        while True:
            if not self._waiting:
                if self._closing:
                    return None
                self._arrived.clear()
                await self._arrived.wait()
                continue
            members = self._candidates()
            if len(members) >= self.max_batch_size:
                return members, "size"
            if self._closing:
                return members, "close"
            remaining = self._waiting[0].submit_t + self.max_wait_s - self.clock.now()
            if remaining <= 0:
                return members, "timeout"
            await self._wait_for_arrival(remaining)

    async def _loop(self) -> None:
        while True:
            formed = await self._next_batch()
            if formed is None:
                return
            await self._run_batch(*formed)

    # -- running a batch ---------------------------------------------------------------------------------------
    async def _run_batch(self, members: list[RequestHandle], formed_by: str) -> None:
        loop = asyncio.get_running_loop()
        batch_id = next(self._batch_ids)
        start = self.clock.now()
        for h in members:
            self._waiting.remove(h)
            h.start_t, h.batch_id, h.batch_size = start, batch_id, len(members)
        rows = list(members)
        limits = [h.max_new_tokens for h in rows]
        row_tokens: list[list[int]] = [[] for _ in rows]
        row_open = [True] * len(rows)
        eos = self.runner.eos_token_ids
        lock = threading.Lock()
        pending: list[tuple[RequestHandle, int, float, str | None]] = []
        drain_scheduled = False

        def on_step(tokens: list[int]) -> None:  # worker thread
            nonlocal drain_scheduled
            t = self.clock.now()
            with lock:
                for i, tok in enumerate(tokens[: len(rows)]):
                    if not row_open[i]:
                        continue
                    row_tokens[i].append(tok)
                    last = len(row_tokens[i]) >= limits[i] or tok in eos
                    text = None
                    if last:
                        row_open[i] = False
                        text = self.runner.decode(row_tokens[i])
                    pending.append((rows[i], tok, t, text))
                if drain_scheduled:
                    return  # the loop has not drained the previous step yet: it will take these too
                drain_scheduled = True
            # One wake-up of the event loop per step at most (each wake-up competes with generate for the GIL).
            loop.call_soon_threadsafe(_deliver)

        def _deliver() -> None:  # event loop
            nonlocal drain_scheduled
            with lock:
                events = pending[:]
                pending.clear()
                drain_scheduled = False
            for handle, tok, t, text in events:
                handle._push(tok, t - handle.submit_t)
                if text is not None:
                    handle._end(OK, text=text)

        def work() -> BatchRun:
            return self.runner.run([h.prompt for h in rows], max(limits), on_step)

        assert self._executor is not None
        error = ""
        run: BatchRun | None = None
        try:
            run = await loop.run_in_executor(self._executor, work)
        except Exception as exc:  # one failed batch fails its requests, never the batcher
            error = f"{type(exc).__name__}: {exc}"
        # Deliveries were queued with call_soon_threadsafe before the executor's result; let them run first.
        await asyncio.sleep(0)
        for h in rows:
            if not h.done:
                # A row that never reached its limit or EOS (generate ended early, or failed).
                h._end(FAILED, error or "generation ended before the request's last token",
                       text=self.runner.decode(h.token_ids) if not error else "")
        padded = run.padded_len if run else max(h.prompt_tokens for h in rows)
        lens = run.prompt_lens if run else [h.prompt_tokens for h in rows]
        self.batches.append(
            {
                "batch_id": batch_id,
                "batch_size": len(rows),
                "formed_by": formed_by,
                "start_s": start,
                "padded_len": padded,
                "prompt_tokens": sum(lens),
                "padding_waste": 1.0 - sum(lens) / (padded * len(rows)) if padded else 0.0,
                "forward_s": run.forward_s if run else math.nan,
                "new_tokens": max(limits),
                "error": error,
            }
        )

    def batches_frame(self) -> pd.DataFrame:
        """Per-batch metrics: size, formed_by (size | timeout | close), padding waste, forward time."""
        return pd.DataFrame(self.batches)


def make_server(config: ServingConfig, engine: LLMEngine, clock: Clock | None = None) -> Any:
    """The batcher a :class:`ServingConfig` asks for (not started): DynamicBatcher or ContinuousBatcher."""
    if config.batching not in BATCHING_MODES:
        raise ConfigError("serving.batching", config.batching, allowed=BATCHING_MODES)
    if config.batching == "continuous":
        from blaze_lab.serving.continuous import ContinuousBatcher

        return ContinuousBatcher(
            engine, max_batch_size=config.max_batch_size, max_queue=config.max_queue,
            default_new_tokens=config.new_tokens, clock=clock,
        )
    runner: BatchRunner = LLMBatchRunner(engine, clock=clock)
    if config.prefix_reuse:
        from blaze_lab.serving.prefix_runner import PrefixReuseRunner

        runner = PrefixReuseRunner(engine, clock=clock, max_prefixes=max(8, 2 * config.prefix_groups))
    return DynamicBatcher(
        runner,
        max_batch_size=config.effective_batch_size(),
        max_wait_ms=config.max_wait_ms if config.batching == "dynamic" else 0.0,
        max_queue=config.max_queue,
        bucket_tokens=config.bucket,
        default_new_tokens=config.new_tokens,
        clock=clock,
    )


__all__ = ["DynamicBatcher", "make_server"]
