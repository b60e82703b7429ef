"""Prefix KV reuse on a loaded transformers causal LM: prefill a shared prefix once, generate from a copy of it.

Causal attention makes the keys and values of a prompt's first P tokens independent of what follows, so requests
that start with the same P token ids (a system prompt, a few-shot template, an earlier conversation) can share
them. :class:`PrefixKVCache` keeps the prompt KV cache (a transformers ``DynamicCache``) of each prefix it has seen
(LRU, at most ``max_prefixes``); :meth:`PrefixKVCache.generate` deep-copies the matching one — ``generate``
appends to the cache it is given, so the stored one must not be handed out — and passes it as ``cache=``:
generate then runs the forward only over the uncached suffix. A prompt must keep at least one token after
the prefix (the first logits come from a forward over new tokens).

Greedy outputs with and without reuse are the same tokens (tests check it); the time saved is the prefix's share
of prefill, less the copy. ``benchmarks/prefix_reuse.py`` measures it on SmolLM2.

Example:
    >>> from blaze_lab.engines.llm import LLMConfig
    >>> from blaze_lab.engines.llm.loading import load_llm
    >>> loaded = load_llm(LLMConfig(model="random:tiny-llama", device="cpu"))   # doctest: +SKIP
    >>> kv = PrefixKVCache(loaded)                                                # doctest: +SKIP
    >>> out = kv.generate(list(range(10, 40)), prefix_tokens=24, new_tokens=4)   # doctest: +SKIP
    >>> out.reused_tokens, len(out.token_ids)                                     # doctest: +SKIP
    (24, 4)
"""

from __future__ import annotations

import collections
import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

from blaze_lab.clock import Clock, RealClock
from blaze_lab.errors import ConfigError, UnsupportedError
from blaze_lab.metrics.tokens import GenerationTimings, TokenTimer


@dataclasses.dataclass(frozen=True)
class PrefixGeneration:
    """Generated ids of one request, its timings, and how many prompt tokens came from a stored prefix KV."""

    token_ids: list[int]
    timings: GenerationTimings
    reused_tokens: int
    prefix_hit: bool


class PrefixKVCache:
    """Prompt KV caches of shared prefixes for one loaded model (an LRU of at most ``max_prefixes``)."""

    def __init__(self, loaded: Any, max_prefixes: int = 8, clock: Clock | None = None) -> None:
        if isinstance(max_prefixes, bool) or not isinstance(max_prefixes, int) or max_prefixes < 1:
            raise ConfigError("prefix_kv.max_prefixes", max_prefixes, reason="must be an integer >= 1")
        self.loaded = loaded
        self.max_prefixes = max_prefixes
        self.clock = clock or RealClock()
        self._store: collections.OrderedDict[tuple[int, ...], Any] = collections.OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._store)

    def prefill(self, prefix_ids: Sequence[int]) -> Any:
        """The stored prompt KV of ``prefix_ids`` (computed now when absent: a miss)."""
        key = tuple(int(i) for i in prefix_ids)
        if key in self._store:
            self._store.move_to_end(key)
            self.hits += 1
            return self._store[key]
        self.misses += 1
        cache = self._compute(key)
        self._store[key] = cache
        if len(self._store) > self.max_prefixes:
            self._store.popitem(last=False)
        return cache

    def _compute(self, ids: tuple[int, ...]) -> Any:
        import torch
        from transformers import DynamicCache

        model = self.loaded.model
        try:
            cache = DynamicCache(config=model.config)
            tensor = torch.tensor([list(ids)], device=self.loaded.device)
            with torch.no_grad():
                out = model(input_ids=tensor, attention_mask=torch.ones_like(tensor), cache=cache, use_cache=True)
        except (TypeError, ValueError, NotImplementedError) as exc:  # a model whose cache cannot be prefilled
            raise UnsupportedError(f"prefix KV reuse: {type(model).__name__} cannot prefill a reusable cache: "
                                   f"{exc}") from exc
        return out.cache

    def generate(
        self, prompt_ids: Sequence[int], prefix_tokens: int, new_tokens: int, *, reuse: bool = True
    ) -> PrefixGeneration:
        """Greedy generation of ``new_tokens`` for ``prompt_ids`` whose first ``prefix_tokens`` are shared.

        ``reuse=False`` runs the same call with a full prefill (the baseline a benchmark pairs it with). The
        timer starts before the stored KV is looked up and copied, so TTFT includes that cost.
        """
        import torch

        ids = [int(i) for i in prompt_ids]
        if not 0 <= prefix_tokens < len(ids):
            raise ConfigError("prefix_kv.prefix_tokens", prefix_tokens,
                              reason=f"must be >= 0 and < the prompt length ({len(ids)})")
        loaded = self.loaded
        timer = TokenTimer(loaded.device, self.clock)
        timer.start()
        kwargs: dict[str, Any] = {}
        hit = False
        if reuse and prefix_tokens > 0:
            hit = tuple(ids[:prefix_tokens]) in self._store
            kwargs["cache"] = copy.deepcopy(self.prefill(ids[:prefix_tokens]))
        tensor = torch.tensor([ids], device=loaded.device)
        from blaze_lab.engines.llm.engine import _TimerProcessor

        with torch.no_grad():
            out = loaded.model.generate(
                input_ids=tensor, attention_mask=torch.ones_like(tensor), max_new_tokens=new_tokens,
                min_new_tokens=new_tokens, do_sample=False, pad_token_id=loaded.tokenizer.pad_token_id,
                streamer=timer, logits_processor=[_TimerProcessor(timer)], **kwargs,
            )
        return PrefixGeneration(token_ids=out[0, len(ids):].tolist(), timings=timer.timings(),
                                reused_tokens=prefix_tokens if "cache" in kwargs else 0, prefix_hit=hit)

    def longest_stored(self, prompt_ids: Sequence[int]) -> tuple[tuple[int, ...] | None, int]:
        """The stored key sharing the longest leading run with ``prompt_ids`` (kept below the prompt's length, so
        one token is left to prefill) and that run's length; ``(None, 0)`` when nothing is shared."""
        ids = [int(i) for i in prompt_ids]
        best: tuple[tuple[int, ...] | None, int] = (None, 0)
        for key in self._store:
            n = 0
            for a, b in zip(key, ids[:-1], strict=False):
                if a != b:
                    break
                n += 1
            if n > best[1]:
                best = (key, n)
        return best

    def generate_auto(self, prompt_ids: Sequence[int], new_tokens: int, streamer: Any = None,
                      min_reuse_tokens: int = 16) -> PrefixGeneration:
        """Automatic prefix caching: reuse the longest leading run any stored prompt shares with this one (a copy
        of its cache cropped to that run), then store this prompt's own KV for later requests.

        No prefix is declared: what is shared is discovered from the token ids, like a serving engine's prefix
        cache. Runs shorter than ``min_reuse_tokens`` are not worth a copy and count as misses. ``streamer`` (the
        transformers protocol) also receives the tokens.
        """
        import torch
        from transformers import DynamicCache

        from blaze_lab.engines.llm.engine import _TimerProcessor

        ids = [int(i) for i in prompt_ids]
        loaded = self.loaded
        timer = TokenTimer(loaded.device, self.clock)
        timer.start()
        key, shared = self.longest_stored(ids)
        if key is not None and shared >= min_reuse_tokens:
            self.hits += 1
            self._store.move_to_end(key)
            cache = _crop_to(copy.deepcopy(self._store[key]), shared)
        else:
            self.misses += 1
            shared = 0
            cache = DynamicCache(config=loaded.model.config)
        tensor = torch.tensor([ids], device=loaded.device)
        streamers = [s for s in (timer, streamer) if s is not None]
        with torch.no_grad():
            out = loaded.model.generate(
                input_ids=tensor, attention_mask=torch.ones_like(tensor), max_new_tokens=new_tokens,
                do_sample=False, pad_token_id=loaded.tokenizer.pad_token_id, cache=cache,
                streamer=_Fanout(streamers) if len(streamers) > 1 else timer,
                logits_processor=[_TimerProcessor(timer)],
            )
        _crop_to(cache, len(ids))  # the prompt's KV (generate appended the new tokens' too)
        self._store[tuple(ids)] = cache
        self._store.move_to_end(tuple(ids))
        while len(self._store) > self.max_prefixes:
            self._store.popitem(last=False)
        return PrefixGeneration(token_ids=out[0, len(ids):].tolist(), timings=timer.timings(),
                                reused_tokens=shared, prefix_hit=shared > 0)

    def stats(self) -> dict[str, Any]:
        """Stored prefixes, hits and misses of :meth:`prefill` so far."""
        return {"prefixes": len(self._store), "hits": self.hits, "misses": self.misses}


def _crop_to(cache: Any, length: int) -> Any:
    """Keep the first ``length`` positions (transformers 5's ``crop`` takes how many to remove, as a negative)."""
    extra = cache.get_seq_length() - length
    if extra > 0:
        cache.crop(-extra)
    return cache


class _Fanout:
    """One transformers streamer that forwards to several (a timer and the caller's)."""

    def __init__(self, streamers: Sequence[Any]) -> None:
        self.streamers = list(streamers)

    def put(self, value: Any) -> None:
        for s in self.streamers:
            s.put(value)

    def end(self) -> None:
        for s in self.streamers:
            s.end()


__all__ = ["PrefixGeneration", "PrefixKVCache"]
