"""Shared-prefix workloads: determinism, group structure, growing conversations, block hashes, real tokens."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.load.prefix import (
    PrefixWorkloadConfig,
    block_hashes,
    prefix_workload,
    text_token_ids,
    workload_summary,
)


def test_same_seed_same_workload_other_seed_differs() -> None:
    cfg = PrefixWorkloadConfig(n_requests=50, n_groups=4, seed=3)
    a, b = prefix_workload(cfg), prefix_workload(cfg)
    assert a == b
    assert prefix_workload(cfg.replace(seed=4)) != a


def test_static_groups_share_their_prefix_and_only_it() -> None:
    cfg = PrefixWorkloadConfig(n_requests=60, n_groups=3, prefix_mean=40, prefix_dist="fixed", suffix_mean=10,
                               suffix_dist="fixed", output_mean=4)
    reqs = prefix_workload(cfg)
    by_group: dict[int, list[tuple[int, ...]]] = {}
    for r in reqs:
        assert r.group_kind == "static" and r.turn == 0 and r.prefix_tokens == 40 and r.suffix_tokens == 10
        by_group.setdefault(r.group, []).append(r.token_ids)
    for ids in by_group.values():
        assert len({t[:40] for t in ids}) == 1  # one shared prefix per group
    prefixes = {ids[0][:40] for ids in by_group.values()}
    assert len(prefixes) == len(by_group)  # groups do not share prefixes
    assert workload_summary(reqs)["shared_token_share"] == pytest.approx(0.8)


def test_zipf_popularity_ranks_groups() -> None:
    reqs = prefix_workload(PrefixWorkloadConfig(n_requests=3000, n_groups=5, zipf_s=1.5, seed=1))
    counts = Counter(r.group for r in reqs)
    assert counts[0] > counts[1] > counts[4]
    uniform = Counter(r.group for r in prefix_workload(PrefixWorkloadConfig(n_requests=3000, n_groups=5, zipf_s=0)))
    assert max(uniform.values()) / min(uniform.values()) < 1.3


def test_conversations_grow_by_each_turn_and_restart_at_the_cap() -> None:
    cfg = PrefixWorkloadConfig(n_requests=40, n_groups=1, conversation_share=1.0, prefix_mean=20,
                               prefix_dist="fixed", suffix_mean=5, suffix_dist="fixed", output_mean=3,
                               max_prompt_tokens=60)
    reqs = prefix_workload(cfg)
    assert [r.turn for r in reqs[:6]] == [0, 1, 2, 3, 4, 0]  # turn 5 would need 20 + 5·8 + 5 > 60
    assert [r.prefix_tokens for r in reqs[:4]] == [20, 28, 36, 44]
    for prev, nxt in itertools.pairwise(reqs):
        if nxt.turn:  # the next turn starts with the whole previous prompt (plus its answer)
            assert nxt.token_ids[: prev.prompt_tokens] == prev.token_ids
        else:  # a new chat: back to the base prefix
            assert nxt.prefix_tokens == 20
    assert max(r.prompt_tokens for r in reqs) <= 60 and any(r.turn == 0 for r in reqs[1:])


def test_block_hashes_share_exactly_the_common_full_blocks() -> None:
    cfg = PrefixWorkloadConfig(n_requests=10, n_groups=1, prefix_mean=40, prefix_dist="fixed", block_tokens=16)
    a, b = prefix_workload(cfg)[:2]
    ha, hb = block_hashes(a.token_ids, 16), block_hashes(b.token_ids, 16)
    assert ha[:2] == hb[:2]  # 40 shared tokens = 2 full blocks
    assert ha[2] != hb[2]
    assert len(ha) == a.prompt_tokens // 16


def test_real_token_stream_gives_real_text() -> None:
    from blaze_lab.models.vocab import train_bpe_tokenizer

    tok = train_bpe_tokenizer()
    ids = text_token_ids(tok)
    cfg = PrefixWorkloadConfig(n_requests=5, n_groups=2, prefix_mean=30, prefix_dist="fixed", suffix_mean=8)
    real = prefix_workload(cfg, token_ids=ids)
    synthetic = prefix_workload(cfg)
    assert [(r.group, r.prompt_tokens) for r in real] == [(r.group, r.prompt_tokens) for r in synthetic]
    assert set(real[0].token_ids) <= set(ids)
    assert len(tok.decode(list(real[0].token_ids)).split()) > 5


@pytest.mark.parametrize(
    ("field", "value"),
    [("n_groups", 0), ("conversation_share", -0.1), ("prefix_dist", "pareto"), ("zipf_s", -1.0),
     ("block_tokens", 0), ("rate", 0.0), ("arrival", "burst")],
)
def test_bad_fields_are_named(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"prefix.{field}"):
        PrefixWorkloadConfig(**{field: value})  # type: ignore[arg-type]


def test_empty_token_stream_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"prefix\.token_ids"):
        prefix_workload(PrefixWorkloadConfig(n_requests=1), token_ids=[])
