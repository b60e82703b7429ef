"""DynamicBatcher unit tests: a fake batch runner (no model) and a VirtualClock — batch formation at size and at
max_wait, streaming through the batch, cancellation, the bounded queue, bucketing, bad inputs, the rate search."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError, EngineUnavailable, Overloaded
from blaze_lab.serving.batching import DynamicBatcher
from blaze_lab.serving.bench import bisect_max_rate, max_rate_under_slo
from blaze_lab.serving.config import ServingConfig
from blaze_lab.serving.handles import CANCELLED, OK
from blaze_lab.serving.runner import BatchRun

T = TypeVar("T")


class FakeRunner:
    """Emits token ``100 * row + step`` per decode step; optionally waits for a permit before each step."""

    eos_token_ids = frozenset({999})

    def __init__(self, clock: VirtualClock, gated: bool = False, step_s: float = 0.0) -> None:
        self.clock = clock
        self.batches: list[list[str]] = []
        self.gate = threading.Semaphore(0) if gated else None
        self.step_s = step_s

    def prompt_length(self, prompt: str) -> int:
        return len(prompt.split())

    def run(self, prompts: Sequence[str], max_new_tokens: int, on_step: Callable[[list[int]], None]) -> BatchRun:
        self.batches.append(list(prompts))
        for step in range(max_new_tokens):
            if self.gate is not None:
                assert self.gate.acquire(timeout=10), "test forgot to release a step"
            on_step([100 * row + step for row in range(len(prompts))])
        lens = [self.prompt_length(p) for p in prompts]
        return BatchRun(padded_len=max(lens), prompt_lens=lens, forward_s=0.0)

    def decode(self, token_ids: Sequence[int]) -> str:
        return " ".join(str(t) for t in token_ids)


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=30))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_batch_forms_at_max_batch_size_without_time_passing() -> None:
    async def scenario() -> None:
        clock = VirtualClock()
        runner = FakeRunner(clock)
        async with DynamicBatcher(runner, max_batch_size=3, max_wait_ms=50, clock=clock) as batcher:
            handles = [batcher.submit(f"p{i}", 2) for i in range(4)]
            first = await asyncio.gather(*(h.result() for h in handles[:3]))
            assert runner.batches == [["p0", "p1", "p2"]] and clock.now() == 0.0
            assert [r.outcome for r in first] == [OK] * 3
            assert not handles[3].done  # alone: it waits for max_wait
            clock.advance(0.050)
            await handles[3].result()
        assert [b["formed_by"] for b in batcher.batches] == ["size", "timeout"]
        assert [b["batch_size"] for b in batcher.batches] == [3, 1]

    run(scenario)


def test_batch_forms_at_max_wait_of_the_oldest_request() -> None:
    async def scenario() -> None:
        clock = VirtualClock()
        runner = FakeRunner(clock)
        async with DynamicBatcher(runner, max_batch_size=8, max_wait_ms=10, clock=clock) as batcher:
            a = batcher.submit("a", 1)
            await settle()
            clock.advance(0.004)
            b = batcher.submit("b", 1)  # joins a's batch; the deadline stays a's (t=0.010)
            await settle()
            clock.advance(0.005)
            await settle()
            assert runner.batches == []  # t=0.009: still collecting
            clock.advance(0.001)
            await asyncio.gather(a.result(), b.result())
            assert runner.batches == [["a", "b"]]
        assert a.row()["queue_wait_s"] == pytest.approx(0.010)
        assert b.row()["queue_wait_s"] == pytest.approx(0.006)
        assert batcher.batches[0]["formed_by"] == "timeout"

    run(scenario)


def test_streaming_through_the_batch_in_order_with_timestamps() -> None:
    async def scenario() -> None:
        clock = VirtualClock()
        runner = FakeRunner(clock, gated=True)
        async with DynamicBatcher(runner, max_batch_size=2, max_wait_ms=0, clock=clock) as batcher:
            short, long = batcher.submit("x", 2), batcher.submit("y", 4)
            streams = [short.stream(), long.stream()]
            seen: list[list[tuple[int, int, float]]] = [[], []]
            for step in range(4):
                clock.advance(0.1)
                assert runner.gate is not None
                runner.gate.release()
                for i, stream in enumerate(streams):
                    if step < (2 if i == 0 else 4):
                        tok = await anext(stream)
                        seen[i].append((tok.token_id, tok.index, tok.t_s))
            # the short request ends at its own length while the batch goes on
            assert [t for t, _, _ in seen[0]] == [0, 1] and [t for t, _, _ in seen[1]] == [100, 101, 102, 103]
            assert [i for _, i, _ in seen[1]] == [0, 1, 2, 3]
            assert [round(t, 6) for _, _, t in seen[1]] == [0.1, 0.2, 0.3, 0.4]
            assert (await short.result()).text == "0 1"
            row = long.row()
            assert row["ttft_s"] == pytest.approx(0.1) and row["latency_s"] == pytest.approx(0.4)
            assert row["tpot_s"] == pytest.approx(0.1) and row["output_tokens"] == 4 and row["batch_size"] == 2

    run(scenario)


def test_cancelling_one_request_does_not_disturb_the_others() -> None:
    async def scenario() -> None:
        clock = VirtualClock()
        runner = FakeRunner(clock, gated=True)
        assert runner.gate is not None
        async with DynamicBatcher(runner, max_batch_size=3, max_wait_ms=0, clock=clock) as batcher:
            handles = [batcher.submit(f"p{i}", 3) for i in range(3)]
            streams = [h.stream() for h in handles]
            runner.gate.release()
            for stream in streams:
                await anext(stream)
            assert handles[1].cancel()
            assert [t async for t in streams[1]] == []  # its stream ends at once
            runner.gate.release(2)
            results = await asyncio.gather(*(h.result() for h in handles))
        assert [r.outcome for r in results] == [OK, CANCELLED, OK]
        assert results[0].token_ids == [0, 1, 2] and results[2].token_ids == [200, 201, 202]
        assert results[1].token_ids == [100]  # nothing after the cancel
        assert not handles[1].cancel()  # already over

    run(scenario)


def test_cancelling_a_waiting_request_keeps_it_out_of_the_batch() -> None:
    async def scenario() -> None:
        clock = VirtualClock()
        runner = FakeRunner(clock)
        async with DynamicBatcher(runner, max_batch_size=4, max_wait_ms=10, clock=clock) as batcher:
            a, b = batcher.submit("a", 1), batcher.submit("b", 1)
            b.cancel()
            clock.advance(0.010)
            assert (await a.result()).outcome == OK and (await b.result()).outcome == CANCELLED
        assert runner.batches == [["a"]]

    run(scenario)


def test_bounded_queue_raises_overloaded() -> None:
    async def scenario() -> None:
        clock = VirtualClock()
        runner = FakeRunner(clock, gated=True)
        assert runner.gate is not None
        async with DynamicBatcher(runner, max_batch_size=1, max_wait_ms=0, max_queue=2, clock=clock) as batcher:
            running = batcher.submit("r0", 1)
            await settle()
            while not runner.batches:  # r0 left the queue and is in the worker thread
                await asyncio.sleep(0.001)
            waiting = [batcher.submit("r1", 1), batcher.submit("r2", 1)]
            with pytest.raises(Overloaded, match="max_queue=2"):
                batcher.submit("r3", 1)
            assert batcher.rejected == 1 and batcher.queue_depth == 2
            runner.gate.release(3)
            await asyncio.gather(running.result(), *(h.result() for h in waiting))
        with pytest.raises(EngineUnavailable):
            batcher.submit("late", 1)

    run(scenario)


def test_bucketing_keeps_prompt_lengths_apart() -> None:
    async def scenario() -> None:
        clock = VirtualClock()
        runner = FakeRunner(clock)
        async with DynamicBatcher(runner, max_batch_size=2, max_wait_ms=10, bucket_tokens=4, clock=clock) as b:
            handles = [b.submit("one", 1), b.submit("a b c d e f", 1), b.submit("two", 1)]
            await asyncio.gather(handles[0].result(), handles[2].result())  # the short bucket filled up
            clock.advance(0.010)
            await handles[1].result()
        assert runner.batches == [["one", "two"], ["a b c d e f"]]

    run(scenario)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_batch_size": 0}, "serving.max_batch_size"),
        ({"max_wait_ms": -1.0}, "serving.max_wait_ms"),
        ({"batching": "paged"}, "serving.batching"),
        ({"max_queue": 0}, "serving.max_queue"),
        ({"arrival": "bursty"}, "serving.arrival"),
        ({"cache_tiers": ("memory", "s3")}, "serving.cache_tiers"),
        ({"redis_url": "http://x"}, "serving.redis_url"),
        ({"rate_rps": 0.0}, "serving.rate_rps"),
    ],
)
def test_bad_config_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        ServingConfig(**kwargs)
    assert info.value.field == field and field in str(info.value)


def test_bad_batcher_arguments_name_the_field() -> None:
    clock = VirtualClock()
    with pytest.raises(ConfigError, match=r"serving\.max_batch_size"):
        DynamicBatcher(FakeRunner(clock), max_batch_size=0)
    with pytest.raises(ConfigError, match=r"serving\.max_wait_ms"):
        DynamicBatcher(FakeRunner(clock), max_wait_ms=-5)


def test_config_from_yaml_mapping_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"exp.yaml:base.batching: invalid value 'static'; allowed: none"):
        ServingConfig.from_dict({"batching": "static"}, where="exp.yaml:base")


def test_bisection_finds_the_highest_feasible_rate() -> None:
    best, probes = bisect_max_rate(lambda r: r <= 12.0, 1.0, 64.0, iterations=6)
    assert best is not None and 11.0 < best <= 12.0
    assert probes[0] == (64.0, False) and probes[1] == (1.0, True) and len(probes) == 8
    assert bisect_max_rate(lambda r: True, 1.0, 8.0)[0] == 8.0
    assert bisect_max_rate(lambda r: False, 1.0, 8.0)[0] is None


def test_max_rate_under_slo_with_a_measured_attainment_curve() -> None:
    cfg = ServingConfig(slo_ttft_s=0.5)
    found = max_rate_under_slo(cfg, low=1.0, high=33.0, iterations=5,
                               measure=lambda c: 1.0 if c.rate_rps <= 10 else 0.5)
    assert found["max_rate_rps"] == 10.0 and found["slo.ttft_s"] == 0.5
    probes = found["probes"]
    assert list(probes.columns) == ["rate_rps", "slo_attainment", "feasible"]
    assert (probes["feasible"] == (probes["slo_attainment"] >= 0.9)).all()


def test_batching_experiments_validate_and_cross_the_axes() -> None:
    from pathlib import Path

    from blaze_lab.sweep.plan import expand, groups
    from blaze_lab.sweep.spec import load_spec

    root = Path(__file__).resolve().parents[2]
    for name, model in (("llm_batching", "random:tiny-llama"), ("llm_batching_smollm2", "smollm2-135m")):
        runs = expand(load_spec(root / "experiments" / f"{name}.yaml"))  # also checks the notebook's parameters
        configs = [run.config for run in runs]
        assert all(isinstance(c, ServingConfig) and c.model == model for c in configs)
        assert {c.batching for c in configs} == {"none", "dynamic", "continuous"}
        assert len({c.rate_rps for c in configs}) >= 3 and {c.arrival for c in configs} == {"gamma"}
        assert len(groups(runs)) == 1  # one model load per sweep
