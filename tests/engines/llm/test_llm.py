"""LLMEngine on the tiny random Llama: real generate calls, real quantization libraries, no mocks of the model."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest

from blaze_lab.cache.models import ModelCache
from blaze_lab.engines.base import EngineStatus
from blaze_lab.engines.llm import LLMEngine, benchmark_group
from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.engines.llm.quality import QualitySettings, ReferenceStore
from blaze_lab.errors import ConfigError, EngineUnavailable, ModelLoadError
from blaze_lab.metrics.timing import MeasureSettings

TINY = "random:tiny-llama"
FAST = MeasureSettings(warmup=1, min_iters=3, max_iters=3)
QUALITY = QualitySettings(window=64, max_eval_tokens=128, kl_tokens=32, greedy_prompts=2, greedy_tokens=4)


@pytest.fixture()
def engine(tmp_path) -> LLMEngine:
    return LLMEngine(model_cache=ModelCache(), references=ReferenceStore(tmp_path / "ref"))


def test_benchmark_rows_for_ok_and_unsupported_configs(engine: LLMEngine) -> None:
    configs = [
        LLMConfig(model=TINY, device="cpu", batch_size=1, new_tokens=6, prompt_tokens=8),
        LLMConfig(model=TINY, device="cpu", batch_size=3, new_tokens=6, prompt_tokens=8),
        LLMConfig(model=TINY, device="cpu", quantization="torchao-int4-weight-only", new_tokens=6),
    ]
    summary, raw = engine.benchmark(configs, measure=FAST, quality=QUALITY, progress=False)
    assert list(summary["status"]) == ["ok", "ok", "unsupported"]
    ok = summary[summary.status == "ok"]
    for col in ("tokens_per_s", "ttft_s", "tpot_s", "latency_s", "prefill_s", "decode_s"):
        assert (ok[f"{col}_ci_low"] <= ok[f"{col}_mean"]).all() and (ok[f"{col}_mean"] <= ok[f"{col}_ci_high"]).all()
    assert (ok["n"] == 3).all() and ok["valid"].dtype == bool
    assert (ok["ttft_s_p50"] < ok["latency_s_p50"]).all()
    assert (ok["prefill_s_p50"] <= ok["ttft_s_p50"]).all()
    assert (ok["peak_rss_bytes"] > 0).all() and ok["peak_allocated_bytes"].isna().all()  # no CUDA here
    assert (ok["roofline_fraction"] > 0).all() and (ok["itl_s_p50"] > 0).all()
    # the config is its own reference: identical distributions
    assert ok["kl_div_mean"].abs().max() < 1e-6 and (ok["top1_agreement"] == 1.0).all()
    assert (ok["greedy_match"] == 1.0).all() and (ok["perplexity"] > 1).all()
    unsupported = summary.iloc[2]
    assert "torchao-int4-weight-only" in unsupported["error"] and math.isnan(unsupported["tokens_per_s_mean"])
    # one load for the two run-time variants (then hits); one failed attempt for the int4 load-time group
    stats = engine.model_cache.stats()
    assert stats["misses"] == 2 and stats["hits"] >= 1
    assert (engine.model_cache.events_frame()["event"] == "load").sum() == 1
    measured = raw[~raw["warmup"].astype(bool)]
    assert len(measured[measured.status == "ok"]) == 6 and set(measured["iteration"].dropna()) == {0, 1, 2}
    assert (measured.loc[measured.status == "ok", "output_tokens"] == 6).all()  # exact output length
    assert raw["warmup"].astype(bool).sum() >= 2  # warm-up calls are kept, marked
    assert {"env.python", "env.torch", "llm.batch_size", "config_hash", "run_id"} <= set(summary.columns)


def test_quality_against_a_different_reference(engine: LLMEngine) -> None:
    cfg = LLMConfig(model=TINY, device="cpu", dtype="bf16", new_tokens=4, prompt_tokens=8)
    summary, _ = engine.benchmark([cfg], measure=FAST, quality=QUALITY, progress=False)
    row = summary.iloc[0]
    assert row["status"] == "ok"
    assert 0 < row["kl_div_mean"] < 0.1  # bf16 drifts a little from fp32
    assert 0.5 <= row["top1_agreement"] <= 1.0
    assert row["reference_config_hash"] == cfg.default_reference().config_hash()
    assert bool(row["random_weights"])
    stats = engine.model_cache.stats()
    assert stats["misses"] == 2  # the config and its fp32 reference
    # the reference was loaded only for quality and is dropped, so it cannot inflate later configs' memory
    assert stats["entries"] == 1 and stats["evictions"] == 1


def test_failures_become_rows(engine: LLMEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = LLMConfig(model=TINY, device="cpu", new_tokens=4)
    loaded = engine.load(cfg)

    def oom(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(loaded.model, "generate", oom)
    summary, _ = engine.benchmark([cfg, cfg.replace(batch_size=2)], measure=FAST, quality=QUALITY, progress=False)
    assert list(summary["status"]) == ["oom", "oom"]
    assert "out of memory" in summary.iloc[0]["error"]

    def boom(*args, **kwargs):
        raise ValueError("shape mismatch in my kernel")

    monkeypatch.setattr(loaded.model, "generate", boom)
    summary, _ = engine.benchmark([cfg], measure=FAST, quality=QUALITY, progress=False)
    assert summary.iloc[0]["status"] == "error" and "shape mismatch" in summary.iloc[0]["error"]


def test_generate_and_stream_agree(tmp_path) -> None:
    cfg = LLMConfig(model=TINY, device="cpu", new_tokens=8)
    engine = LLMEngine(cfg, model_cache=ModelCache())
    result = engine.generate(["The harbor", "Bread is"], max_new_tokens=8)
    assert len(result.texts) == 2 and all(len(ids) == 8 for ids in result.token_ids)
    assert result.timings.output_tokens == 8 and result.timings.ttft_s > 0
    chunks = list(engine.stream("The harbor", max_new_tokens=8))
    assert chunks and all(b.t_s >= a.t_s for a, b in itertools.pairwise(chunks))
    single = engine.generate(["The harbor"], max_new_tokens=8)
    assert "".join(c.text for c in chunks).strip() == single.texts[0].strip()
    assert engine.status is EngineStatus.READY and engine.health()["ok"]
    assert engine.perplexity(QUALITY) > 1
    engine.close()
    assert engine.status is EngineStatus.STOPPED
    with pytest.raises(EngineUnavailable):
        engine.generate(["x"])


def test_benchmark_group_notebook_entry_point(tmp_path) -> None:
    runs = [
        {"run_id": "r1", "config": {"model": TINY, "device": "cpu", "batch_size": 1, "new_tokens": 4}},
        {"run_id": "r2", "config": {"model": TINY, "device": "cpu", "batch_size": 2, "new_tokens": 4}},
    ]
    measure = {"warmup": 0, "min_iters": 2, "max_iters": 2, "quality": {"enabled": False}}
    summary, raw = benchmark_group(runs, measure=measure, sweep="s", group="g")
    assert list(summary["run_id"]) == ["r1", "r2"] and (summary["sweep"] == "s").all()
    assert isinstance(raw, pd.DataFrame) and len(raw) == 4
    assert "perplexity" not in summary.columns


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantization": "int3"}, "llm.quantization: invalid value 'int3'; allowed: none, bnb-8bit"),
        ({"batch_size": 0}, "llm.batch_size: invalid value 0; must be >= 1"),
        ({"dtype": "fp8"}, "llm.dtype: invalid value 'fp8'; allowed: fp32, fp16, bf16"),
        ({"device": "tpu"}, "llm.device: invalid value 'tpu'; allowed: auto, cpu, cuda"),
    ],
)
def test_bad_config_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        LLMConfig(**kwargs)
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)


def test_missing_model_dir_and_offline_hub_id_fail_before_running(engine: LLMEngine, tmp_path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match="no-such-model"):
        engine.benchmark([LLMConfig(model=str(missing))], measure=FAST, progress=False)
    with pytest.raises(ModelLoadError) as exc:
        engine.benchmark([LLMConfig(model="someorg/some-model")], measure=FAST, progress=False)
    assert "someorg/some-model" in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("warmup", [1, 0])
def test_cpu_peaks_come_from_one_untimed_memory_probe(
    engine: LLMEngine, warmup: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blaze_lab.engines.llm import measure

    probes: list[dict] = []
    real = measure.LLMTrial._iteration

    def spy(self: measure.LLMTrial, exact_heap: bool = False) -> dict:
        row = real(self, exact_heap)
        if exact_heap:
            probes.append(row)
        return row

    trims: list[bool] = []
    real_call = LLMEngine.instrumented_iteration

    def spy_call(self: LLMEngine, *args: object, exact_memory: bool = True, **kwargs: object) -> dict:
        trims.append(exact_memory)
        return real_call(self, *args, exact_memory=exact_memory, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(measure.LLMTrial, "_iteration", spy)
    monkeypatch.setattr(LLMEngine, "instrumented_iteration", spy_call)
    cfg = LLMConfig(model=TINY, device="cpu", batch_size=2, new_tokens=4, prompt_tokens=8)
    settings = MeasureSettings(warmup=warmup, min_iters=3, max_iters=3, target_ci_rel=None)
    summary, raw = engine.benchmark([cfg], measure=settings, quality=QualitySettings(enabled=False), progress=False)
    assert len(raw[~raw["warmup"].astype(bool)]) == 3  # the probe is never a timed sample
    assert len(probes) == 1  # one probe per config, after warm-up, whatever the warm-up
    row = summary.iloc[0]
    assert row["peak_rss_increase_bytes"] == probes[0]["peak_rss_increase_bytes"] > 0
    assert row["rss_library_increase_bytes"] >= 0  # library pages are counted apart, not in the config's increase
    # only the probe trims the heap first: timed CPU calls would otherwise fault their temporaries in again
    assert trims.count(True) == 1 and len(trims) == len(raw) + 1
    assert "_itl" not in raw.columns


@pytest.mark.parametrize("warmup", [2, 0])
def test_cpu_heap_layout_work_runs_under_exact_heap(
    engine: LLMEngine, warmup: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load, the first warm-up call and the probe run with the mmap floor; no timed call does."""
    from blaze_lab.engines.llm import measure
    from blaze_lab.metrics.memory import ExactHeap

    regions: list[bool] = []

    class Spy(ExactHeap):
        def __enter__(self) -> ExactHeap:
            regions.append(self.active)
            return super().__enter__()

    monkeypatch.setattr(measure, "ExactHeap", Spy)
    cfg = LLMConfig(model=TINY, device="cpu", batch_size=2, new_tokens=4, prompt_tokens=8)
    settings = MeasureSettings(warmup=warmup, warmup_max=max(warmup, 1), min_iters=3, max_iters=3, target_ci_rel=None)
    _, raw = engine.benchmark([cfg], measure=settings, quality=QualitySettings(enabled=False), progress=False)
    # load (1) + first warm-up call (when there is warm-up) + the probe; every other call's region is inactive
    assert regions.count(True) == (3 if warmup else 2)
    assert len(regions) == 1 + 2 * len(raw) + 1  # load; per call the call's and _iteration's regions; the probe's
