"""Shared-prefix workloads: requests drawn from prefix groups (system prompts, few-shot templates, conversations).

A prefix group is a token sequence many requests start with. ``static`` groups (a system prompt or a few-shot
template) keep one prefix; ``conversation`` groups grow: turn *t* of a conversation starts with the group's base
prefix plus every earlier turn (its question and answer), which is what a multi-turn chat sends again each time.
Each request picks its group with Zipf(``zipf_s``) popularity (``zipf_s=0`` is uniform), then appends its own
suffix. The same :class:`PrefixWorkloadConfig` and seed give

* :func:`prefix_workload` — token ids from a synthetic vocabulary, for a simulator (with
  :func:`block_hashes`: chained hashes of full blocks, the granularity a paged KV cache shares at), and
* :func:`prefix_workload` with ``token_ids=`` the bundled evaluation text tokenized by a real tokenizer
  (:func:`text_token_ids`), for the live serving benchmark: prefixes and suffixes are real text.

Groups, lengths and arrivals are identical in both; only the token values differ.

Example:
    >>> cfg = PrefixWorkloadConfig(n_requests=4, n_groups=2, prefix_mean=32, suffix_mean=8, output_mean=4,
    ...                            prefix_dist="fixed", suffix_dist="fixed", block_tokens=16, seed=1)
    >>> reqs = prefix_workload(cfg)
    >>> [(r.group, r.prefix_tokens, r.prompt_tokens) for r in reqs]
    [(0, 32, 40), (1, 32, 40), (0, 32, 40), (1, 32, 40)]
    >>> block_hashes(reqs[0].token_ids, 16)[:2] == block_hashes(reqs[2].token_ids, 16)[:2]
    True
    >>> PrefixWorkloadConfig(conversation_share=2.0)
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: prefix.conversation_share: invalid value 2.0; must be <= 1.0 (allowed range 0.0..1.0)
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from blaze_lab.config import BaseConfig, check_choice, check_int, check_number
from blaze_lab.load.arrivals import ARRIVAL_KINDS, arrival_times
from blaze_lab.load.requests import LENGTH_DISTS, sample_lengths

GROUP_KINDS = ("static", "conversation")


@dataclasses.dataclass(frozen=True)
class PrefixWorkloadConfig(BaseConfig):
    """A shared-prefix workload (``prefix.*`` columns).

    Attributes:
        n_requests: number of requests.
        n_groups: number of prefix groups.
        conversation_share: fraction of groups that are multi-turn conversations (their prefix grows by each
            earlier turn); the rest are static system prompts / few-shot templates.
        prefix_dist, prefix_mean, prefix_cv: base-prefix length distribution (tokens), one draw per group.
        suffix_dist, suffix_mean, suffix_cv: per-request suffix (the user's question) length distribution.
        output_dist, output_mean, output_cv: output length distribution (a conversation's next turn carries the
            previous answer of that length).
        max_prompt_tokens: a conversation that would exceed this starts over from its base prefix (a new chat).
        zipf_s: popularity exponent over groups (0 = uniform; group 0 is the most popular).
        block_tokens: block size (tokens) of :func:`block_hashes` for simulators.
        vocab_size: synthetic token ids are drawn from ``[0, vocab_size)``.
        arrival, rate: open-loop arrival process and mean rate (requests/s).
        seed: seeds every draw.
    """

    PREFIX = "prefix"
    n_requests: int = 100
    n_groups: int = 8
    conversation_share: float = 0.0
    prefix_dist: str = "fixed"
    prefix_mean: float = 256.0
    prefix_cv: float = 0.5
    suffix_dist: str = "lognormal"
    suffix_mean: float = 32.0
    suffix_cv: float = 0.5
    output_dist: str = "fixed"
    output_mean: float = 32.0
    output_cv: float = 0.5
    max_prompt_tokens: int = 4096
    zipf_s: float = 1.1
    block_tokens: int = 16
    vocab_size: int = 32000
    arrival: str = "poisson"
    rate: float = 4.0
    seed: int = 0

    def validate(self) -> None:
        check_int(self, "n_requests", minimum=0)
        check_int(self, "n_groups", minimum=1)
        check_number(self, "conversation_share", minimum=0.0, maximum=1.0)
        for part in ("prefix", "suffix", "output"):
            check_choice(self, f"{part}_dist", LENGTH_DISTS)
            check_number(self, f"{part}_mean", minimum=1.0)
            check_number(self, f"{part}_cv", minimum=0.0)
        check_int(self, "max_prompt_tokens", minimum=2)
        check_number(self, "zipf_s", minimum=0.0)
        check_int(self, "block_tokens", minimum=1)
        check_int(self, "vocab_size", minimum=2)
        check_choice(self, "arrival", ARRIVAL_KINDS)
        check_number(self, "rate", minimum=0.0, strict_min=True)
        check_int(self, "seed", minimum=0)


@dataclasses.dataclass(frozen=True)
class PrefixRequest:
    """One request: its group, its turn in that group, the shared prefix length and the full prompt ids."""

    id: int
    arrival_s: float
    group: int
    group_kind: str
    turn: int
    prefix_tokens: int
    output_tokens: int
    token_ids: tuple[int, ...]

    @property
    def prompt_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def suffix_tokens(self) -> int:
        return self.prompt_tokens - self.prefix_tokens

    def row(self) -> dict[str, Any]:
        """A flat row (no token ids): what a result frame keeps per request."""
        return {"request": self.id, "arrival_s": self.arrival_s, "group": self.group, "group_kind": self.group_kind,
                "turn": self.turn, "prefix_tokens": self.prefix_tokens, "prompt_tokens": self.prompt_tokens,
                "output_tokens": self.output_tokens}


def group_choice(n_groups: int, n: int, zipf_s: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` group indices with bounded Zipf popularity (rank 0 most popular; ``zipf_s=0`` uniform)."""
    weights = 1.0 / np.arange(1, n_groups + 1, dtype=float) ** zipf_s
    return rng.choice(n_groups, size=n, p=weights / weights.sum())


class _Source:
    """Token ids for spans: synthetic draws, or windows into a real token stream (wrapping around)."""

    def __init__(self, cfg: PrefixWorkloadConfig, token_ids: Sequence[int] | None) -> None:
        self.cfg = cfg
        self.stream = None if token_ids is None else np.asarray(token_ids, dtype=np.int64)
        if self.stream is not None and len(self.stream) == 0:
            from blaze_lab.errors import ConfigError

            raise ConfigError("prefix.token_ids", "[]", reason="needs at least one token")

    def span(self, n: int, *key: int) -> list[int]:
        rng = np.random.default_rng([self.cfg.seed, *key])
        if self.stream is None:
            return rng.integers(0, self.cfg.vocab_size, n).tolist()
        start = int(rng.integers(0, len(self.stream)))
        return np.take(self.stream, np.arange(start, start + n), mode="wrap").tolist()


def prefix_workload(cfg: PrefixWorkloadConfig, token_ids: Sequence[int] | None = None) -> list[PrefixRequest]:
    """The workload's requests in arrival order (deterministic for ``cfg``).

    ``token_ids``: a real token stream (e.g. :func:`text_token_ids`) to cut prefixes and suffixes from; None =
    synthetic ids. Prefix and suffix spans are seeded by (group) and (request), so two groups rarely share text.
    """
    n = cfg.n_requests
    rng = np.random.default_rng([cfg.seed, 0])
    groups = group_choice(cfg.n_groups, n, cfg.zipf_s, rng)
    base_len = sample_lengths(cfg.prefix_dist, cfg.prefix_mean, cfg.n_groups, np.random.default_rng([cfg.seed, 1]),
                              cfg.prefix_cv, high=cfg.max_prompt_tokens - 1)
    suffix_len = sample_lengths(cfg.suffix_dist, cfg.suffix_mean, n, np.random.default_rng([cfg.seed, 2]),
                                cfg.suffix_cv, high=cfg.max_prompt_tokens - 1)
    out_len = sample_lengths(cfg.output_dist, cfg.output_mean, n, np.random.default_rng([cfg.seed, 3]),
                             cfg.output_cv, high=cfg.max_prompt_tokens)
    n_conv = round(cfg.conversation_share * cfg.n_groups)
    # Conversation groups are spread evenly over popularity ranks, so popularity and kind are not confounded.
    conv = set(np.linspace(0, cfg.n_groups - 1, n_conv).round().astype(int).tolist()) if n_conv else set()
    arrivals = arrival_times(cfg.arrival, cfg.rate, n, seed=cfg.seed)
    source = _Source(cfg, token_ids)
    bases = [source.span(int(base_len[g]), 1, g) for g in range(cfg.n_groups)]
    history: dict[int, list[int]] = {}
    turns: dict[int, int] = {}
    requests = []
    for i in range(n):
        g = int(groups[i])
        kind = "conversation" if g in conv else "static"
        suffix = source.span(int(suffix_len[i]), 2, i)
        shared = bases[g] + history.get(g, [])
        if len(shared) + len(suffix) > cfg.max_prompt_tokens:  # the chat got too long: a new one starts
            history[g], turns[g] = [], 0
            shared = bases[g]
        suffix = suffix[: cfg.max_prompt_tokens - len(shared)]
        turn = turns.get(g, 0)
        requests.append(PrefixRequest(i, float(arrivals[i]), g, kind, turn, len(shared), int(out_len[i]),
                                      tuple(shared + suffix)))
        if kind == "conversation":  # the next turn resends this question and (a stand-in for) its answer
            history[g] = history.get(g, []) + suffix + source.span(int(out_len[i]), 3, i)
            turns[g] = turn + 1
    return requests


def block_hashes(token_ids: Sequence[int], block_tokens: int) -> list[int]:
    """Chained 64-bit hashes of the full blocks of ``token_ids`` (a partial last block has none).

    Block *k*'s hash covers tokens ``[0, (k+1)·block_tokens)``, like a paged KV cache's block identity: two
    prompts share block *k* only when they agree on everything up to its end.

    >>> block_hashes([1, 2, 3, 4, 5], 2) == block_hashes([1, 2, 3, 4, 9], 2)
    True
    >>> len(block_hashes(range(7), 2)), block_hashes([1, 2], 2) == block_hashes([2, 2], 2)
    (3, False)
    """
    ids = np.asarray(list(token_ids), dtype=np.int64)
    out: list[int] = []
    prev = b""
    for k in range(len(ids) // block_tokens):
        digest = hashlib.blake2b(prev + ids[k * block_tokens : (k + 1) * block_tokens].tobytes(), digest_size=8)
        prev = digest.digest()
        out.append(int.from_bytes(prev, "little"))
    return out


def prefix_columns(requests: Sequence[PrefixRequest], block_tokens: int) -> dict[str, np.ndarray]:
    """The workload as the columns a simulator or router benchmark replays (token ids replaced by block hashes).

    Columns ``id, arrival_s, prompt_tokens, output_tokens, session`` (the group: affinity by prompt family) and
    ``blocks`` (an object column of block-hash tuples), as :func:`blaze_lab.load.requests.iter_requests` reads.

    >>> cols = prefix_columns(prefix_workload(PrefixWorkloadConfig(n_requests=3, prefix_mean=32)), 16)
    >>> [len(b) for b in cols["blocks"]] == (cols["prompt_tokens"] // 16).tolist()
    True
    """
    blocks = np.empty(len(requests), dtype=object)
    for i, r in enumerate(requests):
        blocks[i] = tuple(block_hashes(r.token_ids, block_tokens))
    return {
        "id": np.array([r.id for r in requests], dtype=np.int64),
        "arrival_s": np.array([r.arrival_s for r in requests], dtype=float),
        "prompt_tokens": np.array([r.prompt_tokens for r in requests], dtype=np.int64),
        "output_tokens": np.array([r.output_tokens for r in requests], dtype=np.int64),
        "session": np.array([r.group for r in requests], dtype=np.int64),
        "blocks": blocks,
    }


def text_token_ids(tokenizer: Any) -> list[int]:
    """The bundled evaluation text as token ids of ``tokenizer`` (no special tokens): the real-text source."""
    from blaze_lab.models import eval_text

    return list(tokenizer(eval_text(), add_special_tokens=False)["input_ids"])


def workload_summary(requests: Sequence[PrefixRequest]) -> dict[str, float]:
    """Share of prompt tokens that are a shared prefix (an upper bound on what prefix reuse can skip).

    >>> workload_summary(prefix_workload(PrefixWorkloadConfig(n_requests=0)))["shared_token_share"]
    nan
    """
    prompt = sum(r.prompt_tokens for r in requests)
    shared = sum(r.prefix_tokens for r in requests)
    return {"requests": float(len(requests)), "prompt_tokens_mean": prompt / len(requests) if requests else np.nan,
            "shared_token_share": shared / prompt if prompt else float("nan")}


__all__ = ["GROUP_KINDS", "PrefixRequest", "PrefixWorkloadConfig", "block_hashes", "group_choice",
           "prefix_columns", "prefix_workload", "text_token_ids", "workload_summary"]
