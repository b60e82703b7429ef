"""A replica's KV prefix cache, modelled at block granularity for simulation (no tensors).

A paged KV cache shares prompt KV in blocks of ``block_tokens``; block *k* of a prompt is identified by the
chained hash of every token up to its end (:func:`blaze_lab.load.prefix.block_hashes`), so a request can reuse
its leading blocks that the replica still holds, and prefills only the rest. :class:`PrefixCacheModel` holds at
most ``capacity_tokens`` worth of blocks, least-recently-used evicted first; a request touches its blocks from
last to first, so a prefix's tail goes before its head (a head without its tail is still a hit; a tail without
its head is useless). :meth:`PrefixCacheModel.serve` returns how many prompt tokens still need a prefill and which
blocks were evicted (what a :class:`~blaze_lab.router.prefix_index.PrefixIndex` must forget).

Pure and clock-free: a simulated replica and a live fake replica both ask it, through :func:`prefill_of`, how many
prompt tokens a request still has to prefill (one implementation for both modes).

Example:
    >>> cache = PrefixCacheModel(capacity_tokens=64, block_tokens=16)
    >>> cache.serve([1, 2, 3], prompt_tokens=50).prefill_tokens     # cold: everything
    50
    >>> hit = cache.serve([1, 2, 9], prompt_tokens=50)                 # blocks 1, 2 shared
    >>> hit.hit_blocks, hit.prefill_tokens
    (2, 18)
    >>> cache.used_tokens, sorted(cache.serve([7, 8, 9], prompt_tokens=48).evicted)  # tails before heads
    (64, [2, 3])
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence
from typing import Any

from blaze_lab.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class PrefixServe:
    """What serving one prompt did to the cache."""

    hit_blocks: int
    prefill_tokens: int
    evicted: tuple[int, ...]


class PrefixCacheModel:
    """LRU set of KV blocks (by chained block hash) within a token capacity."""

    def __init__(self, capacity_tokens: int, block_tokens: int = 16) -> None:
        for name, value, low in (("capacity_tokens", capacity_tokens, 0), ("block_tokens", block_tokens, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"prefix_cache.{name}", value, reason=f"must be an integer >= {low}")
        self.capacity_tokens = capacity_tokens
        self.block_tokens = block_tokens
        self._blocks: collections.OrderedDict[int, None] = collections.OrderedDict()
        self.hit_tokens = 0
        self.prompt_tokens = 0

    @property
    def capacity_blocks(self) -> int:
        return self.capacity_tokens // self.block_tokens

    @property
    def used_tokens(self) -> int:
        return len(self._blocks) * self.block_tokens

    def __contains__(self, block_hash: int) -> bool:
        return block_hash in self._blocks

    def match(self, hashes: Sequence[int]) -> int:
        """How many leading blocks of ``hashes`` are cached (the cache is not touched)."""
        n = 0
        for h in hashes:
            if h not in self._blocks:
                break
            n += 1
        return n

    def serve(self, hashes: Sequence[int], prompt_tokens: int) -> PrefixServe:
        """Serve a prompt: reuse its cached leading blocks, admit the rest, evict LRU blocks beyond capacity.

        ``prefill_tokens`` is at least 1: the first output token needs a forward over at least one new token.
        """
        hit = self.match(hashes)
        for h in reversed(list(hashes)):  # tail first, head last: the head ends most recently used
            self._blocks[h] = None
            self._blocks.move_to_end(h)
        evicted = []
        while len(self._blocks) > self.capacity_blocks:
            evicted.append(self._blocks.popitem(last=False)[0])
        reused = min(hit * self.block_tokens, max(prompt_tokens - 1, 0))
        self.hit_tokens += reused
        self.prompt_tokens += prompt_tokens
        return PrefixServe(hit, prompt_tokens - reused, tuple(evicted))

    def hit_rate(self) -> float:
        """Share of all prompt tokens served so far that came from the cache."""
        return self.hit_tokens / self.prompt_tokens if self.prompt_tokens else float("nan")


def prefill_of(cache: PrefixCacheModel | None, request: Any) -> tuple[int, int]:
    """``(tokens to prefill, tokens reused)`` of a request starting service on a replica with ``cache``.

    Reads ``prompt_tokens`` and ``blocks`` (chained block hashes) from the request; a replica without a cache, or
    a request without blocks, prefills its whole prompt.

    >>> class R:
    ...     prompt_tokens, blocks = 40, (1, 2)
    >>> cache = PrefixCacheModel(capacity_tokens=64, block_tokens=16)
    >>> prefill_of(cache, R()), prefill_of(cache, R()), prefill_of(None, R())
    ((40, 0), (8, 32), (40, 0))
    """
    prompt = int(getattr(request, "prompt_tokens", 0) or 0)
    blocks = getattr(request, "blocks", ())
    if cache is None or not blocks:
        return prompt, 0
    served = cache.serve(blocks, prompt)
    return served.prefill_tokens, prompt - served.prefill_tokens


__all__ = ["PrefixCacheModel", "PrefixServe", "prefill_of"]
