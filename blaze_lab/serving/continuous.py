"""Continuous batching through transformers' own manager, behind the DynamicBatcher's interface.

``model.init_continuous_batching(...)`` returns a ``ContinuousBatchingManager`` that runs its own generation thread
over a paged KV cache: requests join and leave the running batch between decode steps (no padding, no waiting for
the longest request). :class:`ContinuousBatcher` wraps it with the same ``start``/``submit``/``close`` and
:class:`~blaze_lab.serving.batching.RequestHandle` (own stream, own result, cancel) as the dynamic batcher, so the
serving benchmark treats ``batching: continuous`` as one more value of the axis.

The manager delivers each streamed output to the event loop with ``call_soon_threadsafe``
(``register_result_handler``); token timestamps are taken there, on the batcher's clock. The
``ContinuousBatchingConfig`` is small and explicit (``num_blocks=64, max_batch_tokens=512, page_size=64``):
transformers' defaults size the cache from free memory, which costs seconds on CPU (measured on a 2-core machine).

Example:
    >>> import asyncio
    >>> from blaze_lab.engines.llm import LLMEngine, LLMConfig
    >>> async def main():
    ...     engine = LLMEngine(LLMConfig(model="random:tiny-llama", device="cpu"))
    ...     async with ContinuousBatcher(engine, max_batch_size=4) as batcher:
    ...         h = batcher.submit("Hello", max_new_tokens=4)
    ...         return (await h.result()).token_ids
    >>> asyncio.run(main())  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import itertools
import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from blaze_lab.clock import Clock, RealClock
from blaze_lab.errors import ConfigError, EngineUnavailable, Overloaded, UnsupportedError
from blaze_lab.serving.handles import FAILED, OK, RequestHandle

if TYPE_CHECKING:
    from blaze_lab.engines.llm.engine import LLMEngine

# Small explicit paged cache (sized by measuring on a 2-core CPU): a few short requests fit, cheap to allocate.
CB_NUM_BLOCKS = 64
CB_MAX_BATCH_TOKENS = 512
CB_PAGE_SIZE = 64


class ContinuousBatcher:
    """Requests through ``model.init_continuous_batching`` (see the module docstring).

    Args:
        engine: the LLM engine whose loaded model runs the requests (greedy).
        max_batch_size: most requests in one forward (``max_requests_per_batch``).
        max_queue: requests allowed in flight beyond ``max_batch_size``; more raise ``Overloaded``.
        num_blocks, max_batch_tokens, page_size: the paged-cache size (``ContinuousBatchingConfig``).
        clock: token timestamps.
    """

    def __init__(
        self,
        engine: LLMEngine,
        *,
        max_batch_size: int = 8,
        max_queue: int = 1024,
        default_new_tokens: int = 16,
        num_blocks: int = CB_NUM_BLOCKS,
        max_batch_tokens: int = CB_MAX_BATCH_TOKENS,
        page_size: int = CB_PAGE_SIZE,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ConfigError("serving.max_batch_size", max_batch_size, reason="must be an integer >= 1")
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise ConfigError("serving.max_queue", max_queue, reason="must be an integer >= 1")
        self.engine = engine
        self.max_batch_size = max_batch_size
        self.max_queue = max_queue
        self.default_new_tokens = default_new_tokens
        self.num_blocks, self.max_batch_tokens, self.page_size = num_blocks, max_batch_tokens, page_size
        self.clock: Clock = clock or RealClock()
        self.batches: list[dict[str, Any]] = []  # the manager forms its own batches; nothing per batch to report
        self.rejected = 0
        self._ids = itertools.count()
        self._in_flight: dict[str, RequestHandle] = {}
        self._manager: Any = None
        self._tokenizer: Any = None
        self._closing = False

    async def start(self) -> ContinuousBatcher:
        if self._manager is None:
            self._manager = await asyncio.get_running_loop().run_in_executor(None, self._init_manager)
        return self

    def _init_manager(self) -> Any:
        from transformers import GenerationConfig
        from transformers.generation.configuration_utils import ContinuousBatchingConfig

        loaded = self.engine.load()
        self._tokenizer = loaded.tokenizer
        model = loaded.model
        if not hasattr(model, "init_continuous_batching"):
            raise UnsupportedError(f"{type(model).__name__} has no continuous batching in this transformers")
        tok = loaded.tokenizer
        gen = GenerationConfig(
            max_new_tokens=self.default_new_tokens,
            do_sample=False,
            eos_token_id=model.generation_config.eos_token_id if model.generation_config.eos_token_id is not None
            else tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        cb = ContinuousBatchingConfig(
            num_blocks=self.num_blocks,
            max_batch_tokens=self.max_batch_tokens,
            page_size=self.page_size,
            max_requests_per_batch=self.max_batch_size,
        )
        manager = model.init_continuous_batching(generation_config=gen, continuous_batching_config=cb)
        manager.start()
        return manager

    async def close(self, drain: bool = True) -> None:
        """Stop accepting requests; ``drain`` waits for in-flight requests, otherwise they are cancelled."""
        self._closing = True
        if not drain:
            for handle in list(self._in_flight.values()):
                handle.cancel()
        pending = [h.result() for h in self._in_flight.values()]
        if pending:
            await asyncio.gather(*pending)
        if self._manager is not None:
            manager, self._manager = self._manager, None
            # stop() joins the generation thread and restores the model's attention implementation.
            await asyncio.get_running_loop().run_in_executor(None, lambda: manager.stop(block=True))

    async def __aenter__(self) -> ContinuousBatcher:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def queue_depth(self) -> int:
        return max(0, len(self._in_flight) - self.max_batch_size)

    def submit(self, prompt: str, max_new_tokens: int | None = None) -> RequestHandle:
        """Hand one request to the manager; returns its handle. Raises Overloaded when too many are in flight."""
        if self._manager is None or self._closing:
            raise EngineUnavailable("the continuous batcher is not running (call start() or use `async with`)")
        if len(self._in_flight) >= self.max_queue + self.max_batch_size:
            self.rejected += 1
            raise Overloaded(f"continuous batcher full: {len(self._in_flight)} requests in flight")
        n = max_new_tokens if max_new_tokens is not None else self.default_new_tokens
        ids = self._tokenizer(prompt)["input_ids"]
        handle = RequestHandle(next(self._ids), prompt, n, len(ids), self.clock)
        rid = f"blaze-{handle.id}"
        handle._cancel_hook = lambda h: self._cancel(rid)
        self._in_flight[rid] = handle
        # Register before adding: the first output may be delivered before add_request returns.
        self._manager.register_result_handler(rid, lambda out: self._on_output(rid, out))
        self._manager.add_request(ids, request_id=rid, max_new_tokens=n, streaming=True)
        return handle

    def _cancel(self, rid: str) -> None:
        self._in_flight.pop(rid, None)
        if self._manager is not None:
            self._manager.cancel_request(rid)

    def _on_output(self, rid: str, out: Any) -> None:  # event loop (call_soon_threadsafe from the manager)
        handle = self._in_flight.get(rid)
        if handle is None:
            return  # cancelled
        t = self.clock.now() - handle.submit_t
        if math.isnan(handle.start_t):
            # The manager's own perf_counter stamps: created -> scheduled is the queue wait.
            scheduled = out.lifespan[0] if out.lifespan and out.lifespan[0] > 0 else math.nan
            handle.start_t = handle.submit_t + (scheduled - out.created_time) if scheduled == scheduled else math.nan
        for tok in list(out.generated_tokens)[len(handle.token_ids):]:
            handle._push(int(tok), t)
        if out.is_finished():
            self._in_flight.pop(rid, None)
            if out.error:
                handle._end(FAILED, str(out.error))
            else:
                handle._end(OK, text=str(self._tokenizer.decode(handle.token_ids, skip_special_tokens=True)))

    def batches_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.batches)


__all__ = ["CB_MAX_BATCH_TOKENS", "CB_NUM_BLOCKS", "CB_PAGE_SIZE", "ContinuousBatcher"]
