"""What runs one padded batch for the dynamic batcher: the :class:`BatchRunner` protocol and its LLM implementation.

:class:`LLMBatchRunner` runs a batch through :meth:`LLMEngine._generate <blaze_lab.engines.llm.engine.LLMEngine>`
(left padding, greedy) in the batcher's worker thread and reports each decode step's tokens through ``on_step``, so
streaming works *through* the batch; unit tests give the batcher a fake runner instead.

Example:
    >>> from blaze_lab.engines.llm import LLMConfig, LLMEngine
    >>> runner = LLMBatchRunner(LLMEngine(LLMConfig(model="random:tiny-llama", device="cpu")))  # doctest: +SKIP
    >>> runner.run(["Hello", "The cat sat"], 4, on_step=print).padded_len                    # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from blaze_lab.clock import Clock, RealClock

if TYPE_CHECKING:
    from blaze_lab.engines.llm.engine import LLMEngine


@dataclasses.dataclass(frozen=True)
class BatchRun:
    """What one batch's generate call reports: padded prompt length, each row's real length, forward time."""

    padded_len: int
    prompt_lens: list[int]
    forward_s: float


class BatchRunner(Protocol):
    """Runs one padded batch (blocking, in the batcher's worker thread)."""

    eos_token_ids: frozenset[int]

    def prompt_length(self, prompt: str) -> int: ...

    def run(self, prompts: Sequence[str], max_new_tokens: int, on_step: Callable[[list[int]], None]) -> BatchRun:
        """Generate for ``prompts``; call ``on_step(tokens)`` once per decode step with one token per row."""
        ...

    def decode(self, token_ids: Sequence[int]) -> str: ...


class _StepStreamer:
    """transformers streamer protocol: the first ``put`` is the prompt; each later one is a step's tokens (B,)."""

    def __init__(self, on_step: Callable[[list[int]], None]) -> None:
        self.on_step = on_step
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.on_step([int(t) for t in value.reshape(-1).tolist()])

    def end(self) -> None:
        """Nothing to flush: rows end on their own length or EOS."""


class LLMBatchRunner:
    """Runs batches on an :class:`~blaze_lab.engines.llm.LLMEngine` through its ``_generate`` (left padding, greedy).

    Example:
        >>> runner = LLMBatchRunner(LLMEngine(LLMConfig(model="random:tiny-llama", device="cpu")))  # doctest: +SKIP
    """

    def __init__(self, engine: LLMEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or RealClock()
        self.loaded = engine.load()
        tok = self.loaded.tokenizer
        eos = getattr(self.loaded.model.generation_config, "eos_token_id", None)
        if eos is None:
            eos = tok.eos_token_id
        ids = eos if isinstance(eos, list | tuple) else ([eos] if eos is not None else [])
        self.eos_token_ids = frozenset(int(i) for i in ids)

    def prompt_length(self, prompt: str) -> int:
        return len(self.loaded.tokenizer(prompt)["input_ids"])

    def run(self, prompts: Sequence[str], max_new_tokens: int, on_step: Callable[[list[int]], None]) -> BatchRun:
        loaded = self.loaded
        batch = loaded.tokenizer(list(prompts), return_tensors="pt", padding=True).to(loaded.device)
        t0 = self.clock.now()
        self.engine._generate(loaded, self.engine.config, batch, max_new_tokens, _StepStreamer(on_step), exact=False)
        forward_s = self.clock.now() - t0
        lens = batch["attention_mask"].sum(dim=1).tolist()
        return BatchRun(padded_len=int(batch["input_ids"].shape[1]), prompt_lens=[int(x) for x in lens],
                        forward_s=forward_s)

    def decode(self, token_ids: Sequence[int]) -> str:
        return str(self.loaded.tokenizer.decode(list(token_ids), skip_special_tokens=True))


__all__ = ["BatchRun", "BatchRunner", "LLMBatchRunner"]
