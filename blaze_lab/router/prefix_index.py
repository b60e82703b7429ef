"""A router-side index of which replica holds which KV blocks, with longest-prefix-match lookup.

Keys are chained block hashes (:func:`blaze_lab.load.prefix.block_hashes`): because block *k*'s hash covers every
token before it, "replica R holds the first m blocks of this prompt" is m consecutive hits in a hash table — the
same answer a radix tree over tokens gives at block granularity, at the cost of a dict lookup per block.
:meth:`PrefixIndex.longest_match` returns, per replica, how many leading blocks of a prompt it holds;
:meth:`PrefixIndex.record` / :meth:`PrefixIndex.forget` keep it in step with what each replica admitted and evicted
(e.g. from :class:`~blaze_lab.replicas.prefix_cache.PrefixCacheModel` in simulation, or from replica reports live).

Pure; no replica, clock or strategy code.

Example:
    >>> index = PrefixIndex()
    >>> index.record("r0", [11, 12, 13])
    >>> index.record("r1", [11, 22])
    >>> index.longest_match([11, 12, 99])
    {'r0': 2, 'r1': 1}
    >>> index.best([11, 12, 99])
    ('r0', 2)
    >>> index.forget("r0", [12]); index.longest_match([11, 12, 99])["r0"]
    1
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence


class PrefixIndex:
    """block hash → replicas holding it."""

    def __init__(self) -> None:
        self._holders: dict[int, set[Hashable]] = {}

    def __len__(self) -> int:
        return len(self._holders)

    def record(self, replica: Hashable, hashes: Iterable[int]) -> None:
        """``replica`` now holds these blocks."""
        for h in hashes:
            self._holders.setdefault(h, set()).add(replica)

    def forget(self, replica: Hashable, hashes: Iterable[int]) -> None:
        """``replica`` evicted these blocks."""
        for h in hashes:
            holders = self._holders.get(h)
            if holders is not None:
                holders.discard(replica)
                if not holders:
                    del self._holders[h]

    def drop_replica(self, replica: Hashable) -> None:
        """Forget everything ``replica`` held (it restarted or left)."""
        for h in [h for h, holders in self._holders.items() if replica in holders]:
            self.forget(replica, [h])

    def longest_match(self, hashes: Sequence[int]) -> dict[Hashable, int]:
        """Per replica holding the first block: how many leading blocks of ``hashes`` it holds."""
        if not hashes or hashes[0] not in self._holders:
            return {}
        matched = {r: 1 for r in self._holders[hashes[0]]}
        alive = set(matched)
        for h in hashes[1:]:
            alive &= self._holders.get(h, set())
            if not alive:
                break
            for r in alive:
                matched[r] += 1
        return dict(sorted(matched.items(), key=lambda kv: str(kv[0])))

    def best(self, hashes: Sequence[int]) -> tuple[Hashable | None, int]:
        """The replica with the longest match (ties: the first by name) and its block count; ``(None, 0)``."""
        matches = self.longest_match(hashes)
        if not matches:
            return None, 0
        replica = max(matches, key=lambda r: matches[r])  # dict is name-ordered, so max keeps the first of ties
        return replica, matches[replica]


__all__ = ["PrefixIndex"]
