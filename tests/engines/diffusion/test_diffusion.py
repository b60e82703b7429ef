"""DiffusionEngine on the tiny random Stable Diffusion: real pipeline calls, no mocks of the model."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from blaze_lab.cache.models import ModelCache
from blaze_lab.engines.diffusion import DiffusionEngine, benchmark_group, image_path_value
from blaze_lab.engines.diffusion.config import DiffusionConfig
from blaze_lab.engines.diffusion.quality import ImageReferenceStore, psnr, ssim
from blaze_lab.errors import ConfigError, ModelLoadError
from blaze_lab.metrics.timing import MeasureSettings

TINY = DiffusionConfig(model="random:tiny-sd", device="cpu", scheduler="ddim", steps=2, height=32, width=32)
FAST = MeasureSettings(warmup=1, min_iters=2, max_iters=2)


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    # The CI machine has 2 cores shared with other jobs; two intra-op threads on a busy machine are ~10x slower.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cache() -> ModelCache:
    return ModelCache()


@pytest.fixture()
def engine(cache: ModelCache, tmp_path) -> DiffusionEngine:
    return DiffusionEngine(TINY, model_cache=cache, references=ImageReferenceStore(tmp_path / "ref"))


def test_per_step_callback_count_equals_steps(engine: DiffusionEngine) -> None:
    images, t = engine.generate(TINY.replace(steps=3))
    assert len(t.step_latency_s) == 3 and all(s > 0 for s in t.step_latency_s)
    assert images[0].shape == (32, 32, 3) and images[0].dtype == np.uint8
    # the three regions are measured directly and add up to (at most) the call
    assert t.text_encode_s > 0 and t.vae_decode_s > 0 and sum(t.step_latency_s) <= t.denoise_s + 1e-6
    assert t.text_encode_s + t.denoise_s + t.vae_decode_s <= t.latency_s + 1e-6
    # PNDM repeats its first step: one UNet evaluation more than asked, as its timesteps say
    _, pndm = engine.generate(TINY.replace(scheduler="pndm", steps=3))
    assert len(pndm.step_latency_s) == len(engine.load(TINY).pipe.scheduler.timesteps) == 4


# diffusers' Euler scheduler calls np.array(torch_tensor, copy=False) (numpy 2 deprecation): theirs, harmless.
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_scheduler_swap_changes_the_scheduler_and_the_image(engine: DiffusionEngine) -> None:
    ddim, _ = engine.generate(TINY)
    assert type(engine.load(TINY).pipe.scheduler).__name__ == "DDIMScheduler"
    euler, _ = engine.generate(TINY.replace(scheduler="euler"))
    assert type(engine.load(TINY).pipe.scheduler).__name__ == "EulerDiscreteScheduler"
    assert psnr(ddim[0], euler[0]) < 60
    again, _ = engine.generate(TINY)  # swapping back restores the same output: nothing leaked
    assert np.array_equal(again[0], ddim[0])


def test_slicing_on_and_off_give_the_same_images_within_tolerance(engine: DiffusionEngine) -> None:
    cfg = TINY.replace(batch_size=2)
    base, _ = engine.generate(cfg)
    for variant in (
        cfg.replace(attention="sliced"),
        cfg.replace(attention="sliced", attention_slice_size="max"),
        cfg.replace(attention="eager"),
        cfg.replace(vae_slicing=True),
    ):
        images, _ = engine.generate(variant)
        for a, b in zip(base, images, strict=True):
            assert np.abs(a.astype(int) - b.astype(int)).max() <= 1, variant
            assert ssim(a, b) > 0.999


def test_image_does_not_depend_on_batch_size(engine: DiffusionEngine) -> None:
    one, _ = engine.generate(TINY)
    four, t = engine.generate(TINY.replace(batch_size=3))
    assert len(four) == 3 and t.images == 3
    assert np.abs(one[0].astype(int) - four[0].astype(int)).max() <= 1  # seed + k per image


def test_benchmark_rows_ok_and_unsupported_offload(engine: DiffusionEngine, tmp_path) -> None:
    import torch

    configs = [TINY, TINY.replace(attention="sliced"), TINY.replace(offload="model")]
    summary, raw = engine.benchmark(configs, measure=FAST, image_dir=tmp_path / "s" / "g1" / "images", progress=False)
    assert list(summary["run_id"]) == [c.config_hash() for c in configs]  # input order kept
    ok = summary[summary.status == "ok"]
    assert len(ok) == 2 and (ok["n"] == 2).all() and (ok["n_steps"] == 4).all()
    for m in ("step_latency_s", "latency_s", "images_per_s", "denoise_s"):
        assert (ok[f"{m}_ci_low"] <= ok[f"{m}_mean"]).all() and (ok[f"{m}_mean"] <= ok[f"{m}_ci_high"]).all()
    assert (ok["peak_rss_bytes"] > 0).all() and ok["peak_allocated_bytes"].isna().all()
    assert ok["psnr_db"].iloc[0] == math.inf and ok["ssim"].iloc[0] == pytest.approx(1.0)
    assert ok["psnr_db"].iloc[1] > 40  # sliced attention vs its sdpa reference
    assert ok["random_weights"].all() and (ok["quality_note"].str.contains("random weights")).all()
    assert list(ok["image_path"]) == [f"g1/images/{c.config_hash()}.png" for c in configs[:2]]
    assert (tmp_path / "s" / ok["image_path"].iloc[0]).exists()
    from PIL import Image

    assert Image.open(io.BytesIO(ok["thumbnail_png"].iloc[0])).size == (32, 32)
    if not torch.cuda.is_available():
        off = summary.iloc[2]
        assert off["status"] == "unsupported" and "requires accelerator" in off["error"]
        assert off["n"] == 0 and not off["valid"] and math.isnan(off["latency_s_mean"])
    measured = raw[~raw["warmup"].astype(bool)]
    assert len(measured[measured.status == "ok"]) == 4 and (measured["steps_run"] == 2).all()
    assert {"env.torch", "diffusion.scheduler", "config_hash", "engine"} <= set(summary.columns)
    # parquet round trip: list, bytes and mixed-status columns all survive
    summary.to_parquet(tmp_path / "s.parquet")
    raw.to_parquet(tmp_path / "r.parquet")
    assert pd.read_parquet(tmp_path / "s.parquet")["thumbnail_png"].iloc[0] == ok["thumbnail_png"].iloc[0]


def test_benchmark_against_a_different_reference_loads_it(engine: DiffusionEngine) -> None:
    engine.model_cache.evict(TINY.load_key())  # so the reference (TINY, fp32) is loaded only for quality
    summary, _ = engine.benchmark([TINY.replace(dtype="bf16")], reference=TINY, measure=FAST, progress=False)
    row = summary.iloc[0]
    assert row["status"] == "ok" and 15 < row["psnr_db"] < math.inf and row["ssim"] < 1.0
    assert row["reference_config_hash"] == TINY.config_hash()
    # the fp32 reference was loaded only for quality and is not kept resident (it would inflate later peaks)
    assert TINY.load_key() not in engine.model_cache


def test_unconditional_pipeline_steps_and_missing_stages(cache: ModelCache, tmp_path) -> None:
    cfg = DiffusionConfig(model="random:tiny-ddpm", pipeline="unconditional", device="cpu", steps=3)
    engine = DiffusionEngine(cfg, model_cache=cache, references=ImageReferenceStore(tmp_path))
    images, t = engine.generate()
    assert len(t.step_latency_s) == 3 and images[0].shape == (32, 32, 3)
    assert math.isnan(t.text_encode_s) and math.isnan(t.vae_decode_s)
    ddim, _ = engine.generate(cfg.replace(scheduler="ddim"))
    assert not np.array_equal(ddim[0], images[0])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("scheduler", "heun"),
        ("dtype", "int8"),
        ("attention", "flash"),
        ("attention_slice_size", 0),
        ("attention_slice_size", "half"),
        ("offload", "disk"),
        ("steps", 0),
        ("height", 30),
        ("batch_size", 0),
        ("guidance_scale", -1.0),
        ("vae_tiling", "yes"),
    ],
)
def test_bad_values_raise_config_error_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        DiffusionConfig.from_dict({field: value})
    assert info.value.field == f"diffusion.{field}"


def test_unconditional_refuses_prompt_schedulers_and_sizes() -> None:
    with pytest.raises(ConfigError, match=r"diffusion\.scheduler"):
        DiffusionConfig(pipeline="unconditional", scheduler="euler")
    with pytest.raises(ConfigError, match=r"diffusion\.height"):
        DiffusionConfig(pipeline="unconditional", height=64)


def test_unknown_model_raises_before_running(engine: DiffusionEngine) -> None:
    with pytest.raises(ModelLoadError):
        engine.benchmark([TINY.replace(model="random:nope")], progress=False)


def test_benchmark_group_contract(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLAZE_LAB_IMAGE_DIR", str(tmp_path / "{sweep}" / "{group}" / "images"))
    runs = [
        {"run_id": "a", "config": {"model": "random:tiny-sd", "device": "cpu", "steps": 2, "height": 32, "width": 32}},
        {
            "run_id": "b",
            "config": {
                "model": "random:tiny-sd",
                "device": "cpu",
                "steps": 2,
                "height": 32,
                "width": 32,
                "vae_tiling": True,
            },
        },
    ]
    measure = {"warmup": 0, "min_iters": 1, "max_iters": 1, "quality": {"thumbnail_px": 16}}
    summary, raw = benchmark_group(runs, measure=measure, sweep="sw", group="g7")
    assert list(summary["run_id"]) == ["a", "b"] and set(summary["status"]) == {"ok"}
    assert set(summary["sweep"]) == {"sw"} and set(summary["group"]) == {"g7"} and set(raw["run_id"]) == {"a", "b"}
    assert summary["image_path"].str.startswith("g7/images/").all()
    assert (tmp_path / "sw" / summary["image_path"].iloc[0]).exists()
    with pytest.raises(ConfigError, match=r"diffusion\.steps"):
        benchmark_group([{"run_id": "x", "config": {"steps": -1}}])


def test_image_path_value_relative_to_the_sweep_folder(tmp_path) -> None:
    folder = tmp_path / "sweep" / "grp" / "images"
    assert image_path_value(folder / "h.png", folder) == "grp/images/h.png"
    assert image_path_value(tmp_path / "x" / "h.png", tmp_path / "x") == str(tmp_path / "x" / "h.png")


def test_cpu_threads_is_applied_and_zero_restores_the_process_default(engine: DiffusionEngine) -> None:
    import torch

    before = torch.get_num_threads()
    engine.prepare(TINY.replace(cpu_threads=2))
    assert torch.get_num_threads() == 2
    engine.prepare(TINY)  # cpu_threads=0: back to what the process had before the first change
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(("name", "runs", "groups"), [("diffusion_memory", 20, 4), ("diffusion_gpu", 16, 5)])
def test_experiment_specs_validate_and_expand(name: str, runs: int, groups: int) -> None:
    from blaze_lab.sweep.notebook import PROJECT_ROOT
    from blaze_lab.sweep.plan import expand
    from blaze_lab.sweep.plan import groups as load_groups
    from blaze_lab.sweep.spec import load_spec

    spec = load_spec(PROJECT_ROOT / "experiments" / f"{name}.yaml")  # also checks the notebook's parameters cell
    expanded = expand(spec)
    assert len(expanded) == runs and len(load_groups(expanded)) == groups
    assert {r.config.offload for r in expanded} >= {"none", "model", "sequential"}


def test_a_reference_that_cannot_run_leaves_the_row_ok(engine: DiffusionEngine) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("model offload loads fine where an accelerator exists")
    bad_reference = TINY.replace(offload="model")  # cannot load without an accelerator
    row = engine.benchmark([TINY], reference=bad_reference, measure=FAST, progress=False)[0].iloc[0]
    assert row["status"] == "ok" and row["n"] == 2 and math.isnan(row["psnr_db"])
    assert "requires accelerator" in row["quality_error"]


def test_a_memory_error_in_one_config_is_an_oom_row_and_the_group_completes(
    engine: DiffusionEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = engine.run_call

    def failing(loaded: Any, cfg: DiffusionConfig, *args: Any, **kwargs: Any) -> Any:
        if cfg.attention == "sliced":
            raise MemoryError()
        return real(loaded, cfg, *args, **kwargs)

    monkeypatch.setattr(engine, "run_call", failing)
    configs = [TINY.replace(attention="sliced"), TINY, TINY.replace(vae_slicing=True)]
    summary, raw = engine.benchmark(configs, measure=FAST, progress=False)
    assert list(summary["run_id"]) == [c.config_hash() for c in configs]
    assert list(summary["status"]) == ["oom", "ok", "ok"] and summary.loc[0, "error_type"] == "MemoryError"
    assert set(raw["run_id"]) == {c.config_hash() for c in configs[1:]}


def test_cpu_peaks_come_from_one_untimed_memory_probe(
    engine: DiffusionEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blaze_lab.engines.diffusion import measure
    from blaze_lab.metrics.memory import MemoryTracker

    trackers: list[MemoryTracker] = []

    class Spy(MemoryTracker):
        def __enter__(self) -> MemoryTracker:
            trackers.append(self)
            return super().__enter__()

    monkeypatch.setattr(measure, "MemoryTracker", Spy)
    configs = [TINY, TINY.replace(vae_slicing=True)]  # two configs, one pipeline: interleaved calls
    summary, raw = engine.benchmark(configs, measure=FAST, progress=False)
    assert (raw.groupby("run_id")["warmup"].apply(lambda w: int((~w.astype(bool)).sum())) == 2).all()
    probes = [t for t in trackers if t.trim]  # the probe trims the heap first; timed CPU calls do not
    assert len(probes) == 2 and len(trackers) == len(raw) + 2  # every raw call, plus one probe per config
    peaks = sorted(p.result()["peak_rss_bytes"] for p in probes)  # (a cached pipeline has no pre-load baseline)
    assert sorted(summary["peak_rss_bytes"]) == peaks and peaks[0] > 0
