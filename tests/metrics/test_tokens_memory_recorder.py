import math
from pathlib import Path

import pandas as pd
import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.metrics.memory import MemoryTracker
from blaze_lab.metrics.recorder import Recorder, summarize_frame
from blaze_lab.metrics.roofline import decode_bytes_per_s, kv_cache_bytes, peak_bandwidth, roofline_fraction
from blaze_lab.metrics.tokens import TokenTimer


def test_token_timer_definitions() -> None:
    clock = VirtualClock()
    timer = TokenTimer(clock=clock)
    timer.start()
    clock.advance(0.05)
    timer.put([[1, 2, 3]])  # prompt: not a generated token
    clock.advance(0.15)
    timer(None, "scores")  # logits of the first token
    clock.advance(0.05)
    timer.put([5])  # first token at 0.25
    for gap in (0.1, 0.2, 0.3):
        clock.advance(gap)
        timer.put([6])
    timer.end()
    t = timer.timings()
    assert t.prefill_s == pytest.approx(0.2)
    assert t.ttft_s == pytest.approx(0.25)
    assert t.e2e_s == pytest.approx(0.85)
    assert t.decode_s == pytest.approx(0.6)  # measured first→last, not e2e − prefill
    assert t.tpot_s == pytest.approx(0.6 / 3)
    assert t.itl_s == pytest.approx([0.1, 0.2, 0.3])
    assert t.output_tokens == 4


def test_token_timer_no_tokens_is_nan() -> None:
    timer = TokenTimer(clock=VirtualClock())
    timer.start()
    assert math.isnan(timer.timings().ttft_s)


def test_memory_tracker_sees_a_large_allocation() -> None:
    with MemoryTracker("cpu") as mem:
        block = bytearray(80_000_000)
        block[::4096] = b"x" * len(block[::4096])  # touch pages so they are resident
    res = mem.result()
    assert res["peak_rss_bytes"] >= 80_000_000
    assert math.isnan(res["peak_allocated_bytes"]) and math.isnan(res["nvml_vram_bytes"])


def test_summarize_frame_groups_runs_and_keeps_config_columns() -> None:
    rec = Recorder()
    for run, base in (("a", 1.0), ("b", 2.0)):
        for i in range(5):  # the minimum n for a valid summary
            rec.add(
                {
                    "run_id": run,
                    "llm.dtype": run,
                    "status": "ok",
                    "latency_s": base + i * 0.01,
                    "peak_rss_bytes": 100 + i,
                    "env.python": "3.11",
                }
            )
    raw = rec.frame()
    assert list(raw.columns[:2]) == ["run_id", "status"] and raw.columns[-1] == "env.python"
    summary = summarize_frame(raw, metrics=["latency_s"], max_metrics=["peak_rss_bytes"])
    assert list(summary["run_id"]) == ["a", "b"]
    assert summary.loc[1, "latency_s_p50"] == pytest.approx(2.02)
    assert summary.loc[0, "peak_rss_bytes"] == 104
    assert summary.loc[0, "llm.dtype"] == "a" and bool(summary.loc[0, "valid"])
    assert summarize_frame(pd.DataFrame(), metrics=["x"]).empty


def test_roofline_arithmetic_and_measured_bandwidth() -> None:
    kv = kv_cache_bytes(num_layers=2, num_kv_heads=2, head_dim=16, seq_len=10, batch=3, element_size=4)
    assert kv == 2 * 2 * 2 * 16 * 10 * 3 * 4
    assert decode_bytes_per_s(100.0, 20.0, 2.0) == 240.0
    assert math.isnan(roofline_fraction(1.0, math.nan))
    bw = peak_bandwidth("cpu", size_bytes=1 << 24, repeats=3)
    assert 1e8 < bw < 1e13


def test_machine_bandwidth_is_measured_once_and_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from blaze_lab.metrics import roofline

    monkeypatch.setenv("BLAZE_LAB_CACHE", str(tmp_path))
    calls: list[int] = []

    def fake_copy(device: str, size: int | None, repeats: int, clock: object) -> float:
        calls.append(1)
        return [10.0, 12.0, 11.0][len(calls) % 3] * 1e9

    monkeypatch.setattr(roofline, "_measure_copy", fake_copy)
    roofline.machine_bandwidth.cache_clear()
    first = roofline.machine_bandwidth("cpu", probes=3)
    assert first.bytes_per_s == 11e9 and "median of 3 probes" in first.method and len(calls) == 3
    roofline.machine_bandwidth.cache_clear()  # a new process reads the stored figure
    assert roofline.machine_bandwidth("cpu", probes=3) == first and len(calls) == 3
    stored = next((tmp_path / "roofline").glob("cpu-*.json"))
    assert first.columns()["peak_bandwidth_measured_at"] in stored.read_text()
    roofline.machine_bandwidth.cache_clear()


def test_memory_tracker_reports_the_increase_over_a_baseline_and_the_anon_file_split() -> None:
    from blaze_lab.metrics.memory import process_memory, trim_heap

    trim_heap()  # as clean_device does before a config's baseline
    baseline = process_memory()
    with MemoryTracker("cpu", baseline=baseline) as mem:
        block = bytearray(64 << 20)
        block[::4096] = b"x" * len(block[::4096])  # touch every page
    res = mem.result()
    assert 60 << 20 <= res["peak_rss_increase_bytes"] <= 200 << 20
    assert res["rss_anon_increase_bytes"] >= 60 << 20 and res["rss_file_bytes"] > 0
    del block


def test_exact_heap_pins_the_mmap_threshold_only_when_active(monkeypatch: pytest.MonkeyPatch) -> None:
    from blaze_lab.metrics import memory

    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(memory, "_mallopt", lambda param, value: calls.append((param, value)) or True)
    with memory.ExactHeap(active=False):
        pass
    assert calls == []
    with memory.ExactHeap():
        assert calls == [(memory._M_MMAP_THRESHOLD, memory._MMAP_FLOOR)]
    assert calls[-1] == (memory._M_MMAP_THRESHOLD, memory._MMAP_CEILING)


def test_shared_library_pages_are_left_out_of_the_configs_increase() -> None:
    import torch  # noqa: F401  (its shared libraries make the figure large in any test order)

    from blaze_lab.metrics.memory import process_memory, trim_heap

    trim_heap()
    baseline = process_memory(libraries=True)
    assert baseline["rss_library_bytes"] > 10e6
    # As if 40 MB of library code had been faulted in since the baseline (a config's first calls do that).
    earlier = {**baseline, "rss_library_bytes": baseline["rss_library_bytes"] - 40e6}
    results = {}
    for name, base in (("plain", baseline), ("grown", earlier)):
        with MemoryTracker("cpu", baseline=base) as mem:
            block = bytearray(64 << 20)
            block[::4096] = b"x" * len(block[::4096])
        results[name] = mem.result()
        del block
    grown = results["grown"]["rss_library_increase_bytes"]
    assert 40e6 <= grown <= 45e6
    res = results["grown"]
    library_part = res["peak_rss_bytes"] - baseline["rss_bytes"] - res["peak_rss_increase_bytes"]
    assert library_part == grown  # the grown library pages are subtracted from the increase, nothing else
    assert results["plain"]["peak_rss_increase_bytes"] >= 60 << 20  # the block itself still counts
    with MemoryTracker("cpu", baseline=earlier, trim=False) as timed:  # timed calls do not read smaps
        pass
    assert math.isnan(timed.result()["rss_library_increase_bytes"])
