"""A batch runner with automatic prefix KV reuse, for one-request-at-a-time serving (``prefix_reuse: true``).

:class:`PrefixReuseRunner` is a :class:`~blaze_lab.serving.runner.BatchRunner` for the dynamic batcher at batch
size 1 (``batching: none``): each request's prompt ids are matched against the prompts it served before
(:meth:`~blaze_lab.engines.llm.prefix_kv.PrefixKVCache.generate_auto`: the longest shared leading run, at least
``min_reuse_tokens``), so a request that starts like an earlier one prefills only what differs. Tokens stream
through ``on_step`` as with :class:`~blaze_lab.serving.runner.LLMBatchRunner`; a batch of more than one falls back
to it (padded batches and per-row caches do not mix in ``generate``).

Example:
    >>> from blaze_lab.engines.llm import LLMConfig, LLMEngine
    >>> runner = PrefixReuseRunner(LLMEngine(LLMConfig(model="random:tiny-llama", device="cpu")))  # doctest: +SKIP
    >>> runner.run(["a shared opening, then a question"], 4, on_step=print).padded_len            # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from blaze_lab.clock import Clock, RealClock
from blaze_lab.serving.runner import BatchRun, LLMBatchRunner, _StepStreamer

if TYPE_CHECKING:
    from blaze_lab.engines.llm.engine import LLMEngine


class PrefixReuseRunner:
    """LLMBatchRunner's interface; single-request batches reuse the KV of earlier prompts' shared prefixes."""

    def __init__(self, engine: LLMEngine, clock: Clock | None = None, max_prefixes: int = 8,
                 min_reuse_tokens: int = 16) -> None:
        from blaze_lab.engines.llm.prefix_kv import PrefixKVCache

        self.inner = LLMBatchRunner(engine, clock=clock)
        self.clock = clock or RealClock()
        self.loaded = self.inner.loaded
        self.eos_token_ids = self.inner.eos_token_ids
        self.kv = PrefixKVCache(self.loaded, max_prefixes=max_prefixes, clock=self.clock)
        self.min_reuse_tokens = min_reuse_tokens
        self.reused_tokens = 0
        self.prompt_tokens = 0

    def prompt_length(self, prompt: str) -> int:
        return self.inner.prompt_length(prompt)

    def run(self, prompts: Sequence[str], max_new_tokens: int, on_step: Callable[[list[int]], None]) -> BatchRun:
        if len(prompts) != 1:
            return self.inner.run(prompts, max_new_tokens, on_step)
        ids = [int(i) for i in self.loaded.tokenizer(prompts[0])["input_ids"]]
        t0 = self.clock.now()
        out = self.kv.generate_auto(ids, max_new_tokens, streamer=_StepStreamer(on_step),
                                    min_reuse_tokens=self.min_reuse_tokens)
        self.reused_tokens += out.reused_tokens
        self.prompt_tokens += len(ids)
        return BatchRun(padded_len=len(ids), prompt_lens=[len(ids)], forward_s=self.clock.now() - t0)

    def decode(self, token_ids: Sequence[int]) -> str:
        return self.inner.decode(token_ids)

    def stats(self) -> dict[str, Any]:
        """Share of prompt tokens served from reused KV, and the KV store's hits / misses."""
        share = self.reused_tokens / self.prompt_tokens if self.prompt_tokens else float("nan")
        return {"prefix_reused_share": share, **{f"prefix_{k}": v for k, v in self.kv.stats().items()}}


__all__ = ["PrefixReuseRunner"]
