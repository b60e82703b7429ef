"""Batchers on the tiny random Llama (real generate, no mocks): streaming through a batch matches direct generate,
continuous batching matches generate, the serving benchmark's tiny run, cache integration, start-up errors."""

from __future__ import annotations

import asyncio
import math
import socket

import pytest

from blaze_lab.cache.models import ModelCache
from blaze_lab.engines.llm import LLMEngine
from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.errors import ConfigError
from blaze_lab.serving.batching import DynamicBatcher
from blaze_lab.serving.bench import benchmark_group
from blaze_lab.serving.config import ServingConfig
from blaze_lab.serving.continuous import ContinuousBatcher
from blaze_lab.serving.handles import CANCELLED, OK, RequestHandle, RequestResult
from blaze_lab.serving.runner import LLMBatchRunner

PROMPTS = ["Hello there", "The cat sat on the mat today", "A"]
NEW = 6


@pytest.fixture(scope="module")
def engine() -> LLMEngine:
    return LLMEngine(LLMConfig(model="random:tiny-llama", device="cpu"), model_cache=ModelCache())


def _until_eos(ids: list[int], eos: frozenset[int]) -> list[int]:
    for i, tok in enumerate(ids):
        if tok in eos:
            return ids[: i + 1]
    return ids


async def _collect(handle: RequestHandle) -> list[tuple[int, float]]:
    return [(tok.token_id, tok.t_s) async for tok in handle.stream()]


def test_streams_through_a_batch_match_direct_generate(engine: LLMEngine) -> None:
    runner = LLMBatchRunner(engine)
    direct = [_until_eos(ids, runner.eos_token_ids) for ids in engine.generate(PROMPTS, NEW).token_ids]

    async def scenario() -> tuple[list[list[tuple[int, float]]], list[dict[str, float]], list[dict[str, object]]]:
        async with DynamicBatcher(runner, max_batch_size=len(PROMPTS), max_wait_ms=10_000) as batcher:
            handles = [batcher.submit(p, NEW) for p in PROMPTS]
            streams = await asyncio.gather(*(_collect(h) for h in handles))
            rows = [h.row() for h in handles]
        return list(streams), rows, batcher.batches

    streams, rows, batches = asyncio.run(scenario())
    assert [[tok for tok, _ in s] for s in streams] == direct  # same batch, same greedy tokens, each in order
    for stream, row in zip(streams, rows, strict=True):
        times = [t for _, t in stream]
        assert times == sorted(times) and times[0] > 0
        assert row["ttft_s"] == times[0] and row["latency_s"] == times[-1] and row["outcome"] == OK
        assert row["queue_wait_s"] >= 0 and row["batch_id"] == 0
    assert len(batches) == 1 and batches[0]["batch_size"] == 3 and batches[0]["formed_by"] == "size"
    assert 0 < batches[0]["padding_waste"] < 1 and batches[0]["forward_s"] > 0  # unequal prompts were padded


def test_continuous_batching_matches_generate(engine: LLMEngine) -> None:
    runner = LLMBatchRunner(engine)
    direct = [_until_eos(engine.generate([p], NEW).token_ids[0], runner.eos_token_ids) for p in PROMPTS[:2]]

    async def scenario() -> list[list[int]]:
        async with ContinuousBatcher(engine, max_batch_size=4) as batcher:
            handles = [batcher.submit(p, NEW) for p in PROMPTS[:2]]
            results = await asyncio.gather(*(h.result() for h in handles))
        assert all(r.outcome == OK for r in results)
        assert all(len(r.token_times_s) == len(r.token_ids) for r in results)
        return [r.token_ids for r in results]

    assert asyncio.run(scenario()) == direct
    # the manager restored the model's attention implementation when it stopped
    assert engine.load().model.config._attn_implementation == "sdpa"


@pytest.mark.parametrize("mode", ["dynamic", "continuous"])
def test_cancelling_one_request_leaves_the_others_exact(engine: LLMEngine, mode: str) -> None:
    runner = LLMBatchRunner(engine)
    n = 12

    async def scenario() -> list[RequestResult]:
        batcher: DynamicBatcher | ContinuousBatcher = (
            DynamicBatcher(runner, max_batch_size=3, max_wait_ms=10_000) if mode == "dynamic"
            else ContinuousBatcher(engine, max_batch_size=3)
        )
        async with batcher:
            handles = [batcher.submit(p, n) for p in PROMPTS]
            stream = handles[1].stream()
            await anext(stream)
            assert handles[1].cancel()
            assert [t async for t in stream] == []  # its stream ends at once
            return list(await asyncio.gather(*(h.result() for h in handles)))

    results = asyncio.run(scenario())
    assert [r.outcome for r in results] == [OK, CANCELLED, OK]
    assert len(results[1].token_ids) < n
    if mode == "dynamic":  # the same padded batch as direct generate
        direct = engine.generate(PROMPTS, n).token_ids
    else:  # no padding: each request as generated alone
        direct = [engine.generate([p], n).token_ids[0] for p in PROMPTS]
    for i in (0, 2):
        assert results[i].token_ids == _until_eos(direct[i], runner.eos_token_ids)


def test_serving_benchmark_group_tiny_run() -> None:
    common = {"model": "random:tiny-llama", "device": "cpu", "n_requests": 4, "new_tokens": 3, "prompt_tokens": 8,
              "rate_rps": 40.0, "slo_e2e_s": 30.0}
    runs = [
        {"run_id": "none", "config": {**common, "batching": "none"}},
        {"run_id": "dyn", "config": {**common, "batching": "dynamic", "max_batch_size": 4, "max_wait_ms": 20.0,
                                     "arrival": "gamma", "burstiness": 2.0}},
        {"run_id": "cached", "config": {**common, "cache_tiers": ["memory"], "prompt_pool": 1, "rate_rps": 2.0}},
    ]
    summary, raw = benchmark_group(runs, measure={"warmup": 1}, sweep="s", group="g")
    assert list(summary["run_id"]) == ["none", "dyn", "cached"] and (summary["status"] == "ok").all()
    assert (summary["engine"] == "serving").all() and (summary["n"] == 4).all()
    for col in ("ttft_s_p50", "ttft_s_ci_low", "queue_wait_s_mean", "itl_s_p50",
                "tokens_per_s", "requests_per_s", "goodput_rps", "slo_attainment"):
        assert summary[col].notna().all(), col
    # 4 requests cannot support a p90/p99 (their CIs need 36 / 368 samples): NaN, and said so.
    assert summary["tpot_s_p90"].isna().all() and summary["latency_s_p99"].isna().all()
    assert summary["latency_s_unreported"].str.contains("p99 needs n >= 368").all()
    assert (summary["slo_attainment"] == 1.0).all() and (summary["goodput_rps"] > 0).all()
    assert summary.loc[0, "batch_size_mean"] == 1.0
    assert len(raw) == 12 and set(raw["outcome"]) == {OK}
    for col in ("arrival_s", "queue_wait_s", "ttft_s", "tpot_s", "itl_s_mean", "latency_s", "batch_id",
                "cache_tier", "serving.batching", "env.python"):
        assert col in raw.columns, col
    cached = raw[raw["run_id"] == "cached"]
    # one prompt, 2 rps: the first request computes, the rest are answered by L1 (memory)
    assert list(cached["cache_tier"]) == ["", "memory", "memory", "memory"]
    assert summary.loc[2, "cache_hit_rate"] == pytest.approx(0.75)
    assert summary.loc[2, "cache_share_memory"] == pytest.approx(0.75)
    assert math.isnan(summary.loc[0, "cache_hit_rate"])  # no cache configured


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_redis_at_start_is_a_config_error_before_anything_runs() -> None:
    url = f"redis://127.0.0.1:{_free_port()}/0"
    runs = [{"run_id": "r", "config": {"model": "random:tiny-llama", "cache_tiers": ["memory", "redis"],
                                       "redis_url": url}}]
    with pytest.raises(ConfigError, match=r"serving\.redis_url") as info:
        benchmark_group(runs)
    assert info.value.field == "serving.redis_url" and "cannot connect" in str(info.value)


def test_unknown_batching_mode_from_runs_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"serving.batching: invalid value 'static'"):
        benchmark_group([{"run_id": "r", "config": {"batching": "static"}}])


def test_config_defaults_round_trip() -> None:
    cfg = ServingConfig(cache_tiers=("memory", "disk"))
    assert ServingConfig.from_dict({**cfg.to_dict(), "cache_tiers": ["memory", "disk"]}) == cfg
