"""Dynamic batching of diffusion requests, driven by a VirtualClock (no sleeps), plus one real tiny-SD run."""

from __future__ import annotations

import numpy as np
import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.engines.diffusion_batching import BatchingConfig, DiffusionBatcher, engine_runner, group_key, replay
from blaze_lab.engines.diffusion_config import DiffusionConfig
from blaze_lab.errors import ConfigError

CFG = DiffusionConfig(model="random:tiny-sd", device="cpu", scheduler="ddim", steps=2, height=32, width=32)


class FakePipeline:
    """Takes 0.2 s + 0.1 s per request of virtual time and remembers every call."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.calls: list[tuple[str, list[str], list[int]]] = []

    def __call__(self, cfg: DiffusionConfig, prompts: list[str], seeds: list[int]) -> list[str]:
        self.calls.append((cfg.scheduler, list(prompts), list(seeds)))
        self.clock.advance(0.2 + 0.1 * len(prompts))
        return [f"{p}:{s}" for p, s in zip(prompts, seeds, strict=True)]


@pytest.fixture()
def clock() -> VirtualClock:
    return VirtualClock()


def test_identical_settings_share_a_call_different_settings_do_not(clock: VirtualClock) -> None:
    fake = FakePipeline(clock)
    batcher = DiffusionBatcher(fake, BatchingConfig(max_batch=8, max_wait_s=0.05), clock=clock)
    for i in range(3):
        batcher.submit(f"p{i}", CFG.replace(prompt=f"ignored{i}", seed=i))  # prompt/seed do not split groups
    batcher.submit("other", CFG.replace(scheduler="euler"))
    assert batcher.dispatch_due() == []  # nothing full, nothing waited long enough
    clock.advance(0.05)
    done = batcher.dispatch_due()
    assert [c[0] for c in fake.calls] == ["ddim", "euler"]
    assert fake.calls[0][1:] == (["p0", "p1", "p2"], [0, 1, 2])
    assert {r.batch_size for r in done if r.prompt.startswith("p")} == {3}
    assert [r.output for r in done][:3] == ["p0:0", "p1:1", "p2:2"]
    assert group_key(CFG) == group_key(CFG.replace(seed=9, prompt="x")) != group_key(CFG.replace(steps=3))


def test_max_batch_dispatches_at_once_and_splits(clock: VirtualClock) -> None:
    fake = FakePipeline(clock)
    batcher = DiffusionBatcher(fake, BatchingConfig(max_batch=2, max_wait_s=10.0), clock=clock)
    for i in range(5):
        batcher.submit(f"p{i}", CFG, seed=i)
    assert batcher.next_deadline() == 0.0  # a full group is due now
    done = batcher.dispatch_due()
    assert [len(c[1]) for c in fake.calls] == [2, 2] and len(done) == 4 and batcher.pending == 1
    assert batcher.next_deadline() == pytest.approx(10.0)  # the leftover waits for max_wait
    clock.advance_to(10.0)
    assert [r.prompt for r in batcher.dispatch_due()] == ["p4"]


def test_replay_records_queue_wait_and_latency(clock: VirtualClock) -> None:
    fake = FakePipeline(clock)
    batcher = DiffusionBatcher(fake, BatchingConfig(max_batch=4, max_wait_s=0.1), clock=clock)
    arrivals = [(0.0, "a", CFG, 0), (0.04, "b", CFG, 1), (0.5, "c", CFG, 2)]
    records = replay(batcher, arrivals)
    a, b, c = records
    # a and b share one call dispatched at a's deadline (0.1); c arrives later and waits its own max_wait
    assert a.batch_id == b.batch_id != c.batch_id and a.batch_size == 2 and c.batch_size == 1
    assert a.queue_wait_s == pytest.approx(0.1) and b.queue_wait_s == pytest.approx(0.06)
    assert a.latency_s == pytest.approx(0.1 + 0.4) and b.latency_s == pytest.approx(0.06 + 0.4)
    assert c.queue_wait_s == pytest.approx(0.1) and c.latency_s == pytest.approx(0.1 + 0.3)
    frame = batcher.frame()
    assert list(frame["request_id"]) == ["r0", "r1", "r2"] and (frame["queue_wait_s"] >= 0).all()


def test_flush_and_bad_settings(clock: VirtualClock) -> None:
    batcher = DiffusionBatcher(FakePipeline(clock), BatchingConfig(max_batch=4, max_wait_s=1.0), clock=clock)
    batcher.submit("x", CFG)
    assert len(batcher.dispatch_due(flush=True)) == 1 and batcher.next_deadline() is None
    with pytest.raises(ConfigError) as info:
        BatchingConfig(max_batch=0)
    assert info.value.field == "diffusion_batching.max_batch"


def test_batched_images_equal_solo_images_on_the_real_pipeline(tmp_path) -> None:
    import torch

    from blaze_lab.cache.models import ModelCache
    from blaze_lab.engines.diffusion import DiffusionEngine
    from blaze_lab.engines.diffusion_quality import ImageReferenceStore

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 shared cores: one intra-op thread is far faster under load
    try:
        engine = DiffusionEngine(CFG, model_cache=ModelCache(), references=ImageReferenceStore(tmp_path))
        batcher = DiffusionBatcher(engine_runner(engine), BatchingConfig(max_batch=2, max_wait_s=0.0))
        batcher.submit("a red fox", CFG, seed=3)
        batcher.submit("a blue bird", CFG, seed=4)
        done = batcher.dispatch_due()
        assert [r.batch_size for r in done] == [2, 2]
        solo, _ = engine.generate("a blue bird", seeds=[4])
        assert np.abs(done[1].output[0].astype(int) - solo[0].astype(int)).max() <= 1
        assert done[0].latency_s > 0 and done[0].queue_wait_s >= 0
    finally:
        torch.set_num_threads(threads)
