"""The measured diffusion engine: ``generate`` with per-step timing, and ``benchmark(configs) -> DataFrame``.

**How one call is timed (text-to-image).** The call is split into three regions timed separately, so each number is
a direct measurement and the three add up to the call (no "total minus the rest" subtraction):

1. *text encode*: ``pipe.encode_prompt`` (CLIP forward for the prompt and, with guidance, the empty prompt);
2. *denoise*: the pipeline called with those ``prompt_embeds`` and ``output_type="latent"``, so it runs the
   scheduler loop and stops before the VAE; every step is timestamped: a forward pre-hook on the UNet marks the
   first step's start, ``callback_on_step_end`` marks each step's end (step time = gap between marks);
3. *VAE decode*: ``vae.decode`` of the latents plus ``image_processor.postprocess`` to images, exactly what the
   pipeline would have run itself.

On CUDA every mark is a CUDA event (the GPU's own timeline; one synchronize after the call), so step times are
real GPU times, not kernel-launch times; on CPU they come from the injected clock. Unconditional (DDPM-style)
pipelines have no callback and no text/VAE stage: each UNet call's pre-hook marks a step start, the call's end
closes the last step, ``text_encode_s``/``vae_decode_s`` are NaN. PNDM runs one UNet evaluation more than
``steps`` (its first PLMS step is repeated); the rows record the steps actually run (``steps_run``).

**Rows.** Raw: one row per measured pipeline call (``latency_s``, ``images_per_s``, the three regions, the call's
step times as a list in ``step_latency_s`` plus their mean, peak memory). Summary: one row per config with the
shared statistics for each sampled metric, ``step_latency_s_*`` pooled over every step of every call (with CIs),
peak memory, ``psnr_db``/``ssim`` against the reference config's images (same seeds, same prompt),
``random_weights`` + ``quality_note``, a PNG ``thumbnail_png`` (bytes, travels inside the parquet) and
``image_path`` when an image directory is given. Nothing raises out of ``benchmark``: failures are rows.

Example:
    >>> from blaze_lab.engines.diffusion import DiffusionEngine, DiffusionConfig
    >>> from blaze_lab.metrics import MeasureSettings
    >>> configs = [DiffusionConfig(model="random:tiny-sd", steps=2, height=32, width=32, attention=a)
    ...            for a in ("sdpa", "sliced")]
    >>> summary, raw = DiffusionEngine().benchmark(configs, measure=MeasureSettings(min_iters=5))  # doctest: +SKIP
    >>> summary[["diffusion.attention", "step_latency_s_mean", "psnr_db", "status"]]          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from blaze_lab.cache.models import ModelCache
from blaze_lab.clock import Clock, RealClock
from blaze_lab.config import stable_hash
from blaze_lab.engines.base import CachedModelEngine, EngineStatus, classify_failure
from blaze_lab.engines.diffusion.config import DiffusionConfig
from blaze_lab.engines.diffusion.loading import LoadedPipeline, apply_runtime, load_pipeline
from blaze_lab.engines.diffusion.quality import (
    DiffusionQualitySettings,
    ImageReferenceStore,
    compare_images,
    to_uint8,
)
from blaze_lab.errors import EngineUnavailable
from blaze_lab.metrics.loop import run_configs
from blaze_lab.metrics.steps import DiffusionTimings, StepTimer
from blaze_lab.metrics.timing import MeasureSettings, RegionTimer, synchronize

# One process-wide model cache: a notebook kernel measures a whole load-time group with one load.
DEFAULT_MODEL_CACHE = ModelCache(budget_bytes=None)


class DiffusionResult(NamedTuple):
    """Images (``uint8 [H, W, 3]`` each) and timings of one pipeline call; unpacks as ``images, timings``."""

    images: list[np.ndarray]
    timings: DiffusionTimings


def _autocast(device: str, amp: str) -> contextlib.AbstractContextManager[Any]:
    if amp == "off":
        return contextlib.nullcontext()
    import torch

    from blaze_lab.engines.llm.loading import torch_dtype

    return torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch_dtype(amp))


def _generators(seeds: Sequence[int]) -> list[Any]:
    import torch

    # CPU generators everywhere: the same seed gives the same starting noise on every device, so a GPU config's
    # images are comparable with a CPU reference, and image i does not depend on the batch it is in.
    return [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]


class DiffusionEngine(CachedModelEngine):
    """An instrumented diffusers pipeline.

    ``DiffusionEngine(config)`` binds a default config for ``generate``; ``benchmark`` takes its own configs.

    >>> cfg = DiffusionConfig(model="random:tiny-sd", scheduler="ddim", steps=2, height=32, width=32)
    >>> images, timings = DiffusionEngine(cfg).generate(["a red fox"])     # doctest: +SKIP
    >>> len(timings.step_latency_s), images[0].shape                       # doctest: +SKIP
    (2, (32, 32, 3))
    """

    def __init__(
        self,
        config: DiffusionConfig | None = None,
        *,
        model_cache: ModelCache | None = None,
        clock: Clock | None = None,
        references: ImageReferenceStore | None = None,
    ) -> None:
        self.config = config or DiffusionConfig()
        self.model_cache = model_cache if model_cache is not None else DEFAULT_MODEL_CACHE
        self.clock = clock or RealClock()
        self.references = references or ImageReferenceStore()
        self._init_lifecycle()
        self._applied: dict[int, str] = {}  # id(pipe) -> config_hash of the run-time settings applied last

    # -- lifecycle (status, health, load, close: CachedModelEngine) ----------------------------------------------
    def _load_uncached(self, config: DiffusionConfig) -> tuple[LoadedPipeline, int]:
        return _load_with_size(config)

    def load(self, config: DiffusionConfig | None = None) -> LoadedPipeline:
        """Load (or fetch from the model cache) the model for ``config``; raises on failure."""
        return super().load(config)

    def prepare(self, config: DiffusionConfig) -> LoadedPipeline:
        """The loaded pipeline with ``config``'s run-time settings applied (skipped when already applied)."""
        if self._status in (EngineStatus.STOPPED, EngineStatus.FAILED):
            raise EngineUnavailable(f"engine is {self._status.value}")
        loaded = self.load(config)
        key = stable_hash(config.run_fields())
        if self._applied.get(id(loaded.pipe)) != key:
            self._applied.pop(id(loaded.pipe), None)
            apply_runtime(loaded, config)
            self._applied[id(loaded.pipe)] = key
        return loaded

    # -- generation ----------------------------------------------------------------------------------------------
    def generate(
        self,
        prompts: str | Sequence[str] | DiffusionConfig | None = None,
        *,
        seeds: Sequence[int] | None = None,
    ) -> DiffusionResult:
        """One timed pipeline call: ``batch_size`` images per prompt (the bound config's prompt when None).

        ``prompts`` may also be a :class:`DiffusionConfig` (it replaces the bound config). ``seeds`` gives one seed
        per prompt (default: the config's seed); image ``k`` of a prompt uses ``seed + k``.
        """
        cfg = self.config
        if isinstance(prompts, DiffusionConfig):
            cfg, prompts = prompts, None
        texts = [cfg.prompt] if prompts is None else [prompts] if isinstance(prompts, str) else list(prompts)
        loaded = self.prepare(cfg)
        return self.run_call(loaded, cfg, texts, list(seeds) if seeds is not None else [cfg.seed] * len(texts))

    def run_call(
        self, loaded: LoadedPipeline, cfg: DiffusionConfig, prompts: list[str], seeds: list[int]
    ) -> DiffusionResult:
        """Run one instrumented call on a prepared pipeline (what ``benchmark`` and the batcher call)."""
        import torch

        if len(seeds) != len(prompts):
            raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
        image_seeds = [s + k for s in seeds for k in range(cfg.batch_size)]
        steps = StepTimer(loaded.device, self.clock)
        synchronize(loaded.device)
        t0 = self.clock.now()
        with torch.inference_mode(), _autocast(loaded.device, cfg.amp):
            if loaded.kind == "text-to-image":
                images, regions = self._text_to_image(loaded, cfg, prompts, image_seeds, steps)
            else:
                images, regions = self._unconditional(loaded, cfg, image_seeds, steps)
        synchronize(loaded.device)
        latency = self.clock.now() - t0
        step_times = steps.step_times()
        timings = DiffusionTimings(
            latency_s=latency,
            text_encode_s=regions[0],
            denoise_s=regions[1],
            vae_decode_s=regions[2],
            step_latency_s=step_times,
            images=len(images),
            method=steps.method,
        )
        return DiffusionResult(to_uint8(images), timings)

    def _text_to_image(
        self, loaded: LoadedPipeline, cfg: DiffusionConfig, prompts: list[str], seeds: list[int], steps: StepTimer
    ) -> tuple[Any, tuple[float, float, float]]:
        pipe = loaded.pipe
        guidance = cfg.guidance_scale > 1.0
        with RegionTimer(loaded.device, self.clock) as encode:
            embeds, negative = pipe.encode_prompt(
                prompts, pipe._execution_device, cfg.batch_size, guidance, negative_prompt=None
            )
        side = loaded.default_size
        with steps.attach(pipe.unet, first_only=True), RegionTimer(loaded.device, self.clock) as denoise:
            latents = pipe(
                prompt_embeds=embeds,
                negative_prompt_embeds=negative,
                num_images_per_prompt=1,  # encode_prompt already repeated the embeddings batch_size times
                num_inference_steps=cfg.steps,
                guidance_scale=cfg.guidance_scale,
                height=cfg.height or side,
                width=cfg.width or side,
                generator=_generators(seeds),
                output_type="latent",
                callback_on_step_end=steps.callback,
            ).images
            steps.end()
        with RegionTimer(loaded.device, self.clock) as decode:
            vae = pipe.vae
            decoded = vae.decode(latents / vae.config.scaling_factor, return_dict=False, generator=_generators(seeds))[
                0
            ]
            images = pipe.image_processor.postprocess(
                decoded, output_type="np", do_denormalize=[True] * decoded.shape[0]
            )
        return images, (encode.elapsed_s, denoise.elapsed_s, decode.elapsed_s)

    def _unconditional(
        self, loaded: LoadedPipeline, cfg: DiffusionConfig, seeds: list[int], steps: StepTimer
    ) -> tuple[Any, tuple[float, float, float]]:
        with steps.attach(loaded.pipe.unet, first_only=False), RegionTimer(loaded.device, self.clock) as denoise:
            images = loaded.pipe(
                batch_size=len(seeds),
                generator=_generators(seeds),
                num_inference_steps=cfg.steps,
                output_type="np",
            ).images
            steps.end()
        return images, (math.nan, denoise.elapsed_s, math.nan)

    # -- benchmark -----------------------------------------------------------------------------------------------
    def benchmark(
        self,
        configs: Sequence[DiffusionConfig],
        *,
        reference: DiffusionConfig | None = None,
        measure: MeasureSettings | None = None,
        quality: DiffusionQualitySettings | None = None,
        image_dir: str | os.PathLike[str] | None = None,
        run_ids: Sequence[str] | None = None,
        extra: Mapping[str, Any] | None = None,
        progress: bool = True,
        order_seed: int | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Measure every config through the one measurement loop; returns ``(summary, raw)`` in input order.

        ``reference``: the quality reference (default: each config's :meth:`DiffusionConfig.default_reference`);
        its batch size is aligned to each config's so every image has a same-seed twin. ``image_dir``: one PNG per
        config (image 0, named ``<config_hash>.png``) and an ``image_path`` column. An unresolvable model spec
        raises ModelLoadError before anything runs; everything failing while running becomes a row.
        """
        from blaze_lab.engines.diffusion.measure import DIFFUSION_METRICS, DiffusionMeasurer

        _check_models_resolve(configs)
        ids = list(run_ids) if run_ids is not None else [c.config_hash() for c in configs]
        folder = Path(image_dir) if image_dir is not None else None
        measurer = DiffusionMeasurer(self, configs, reference, quality or DiffusionQualitySettings(), folder)
        return run_configs(
            "diffusion",
            list(zip(ids, configs, strict=True)),
            measurer,
            DIFFUSION_METRICS,
            settings=measure or MeasureSettings(),
            clock=self.clock,
            extra=extra,
            progress=progress,
            order_seed=order_seed,
        )

    def forget_applied(self) -> None:
        """Forget which run-time settings are applied (after a failure the pipeline may be half-configured)."""
        self._applied.clear()

    def quality_or_note(
        self, cfg: DiffusionConfig, images: list[np.ndarray], reference: DiffusionConfig | None
    ) -> dict[str, Any]:
        # The measurements stand even when the reference cannot be produced (its load fails or runs out of
        # memory): the row stays ok, quality is NaN and quality_error says why.
        try:
            return self._quality(cfg, images, reference)
        except Exception as exc:
            _, reason = classify_failure(exc)
            self._applied.clear()
            return {"psnr_db": math.nan, "ssim": math.nan, "quality_error": f"reference failed: {reason}"}

    def _quality(
        self, cfg: DiffusionConfig, images: list[np.ndarray], reference: DiffusionConfig | None
    ) -> dict[str, Any]:
        from blaze_lab.engines.diffusion.measure import reference_for
        from blaze_lab.models import resolve_model
        from blaze_lab.models.identity import model_identity

        ref_cfg = reference_for(cfg, reference)
        # Keyed by what the reference is (weights, config, library versions), not by its name: a rebuilt model
        # under the same spec must not be compared with the old model's images.
        identity = model_identity(resolve_model(ref_cfg.model, kind="diffusion").path, ref_cfg.to_dict())
        key = self.references.key(identity, len(images))
        ref_images = self.references.get(key, len(images))
        if ref_images is None:
            own = ref_cfg.config_hash() == cfg.config_hash()
            extra_load = ref_cfg.load_key() not in self.model_cache
            ref_images = images if own else self.generate(ref_cfg).images
            if extra_load and ref_cfg.load_key() != cfg.load_key():
                # Loaded only for quality: free it now, or it would sit in (GPU) memory and inflate the peak memory
                # of every later config in this group. Its images are stored, so it is loaded at most once more.
                self.model_cache.evict(ref_cfg.load_key())
            self.references.put(key, ref_images)
        cols: dict[str, Any] = {"reference_config_hash": ref_cfg.config_hash(), "reference_identity": identity}
        if ref_images[0].shape != images[0].shape:
            shapes = f"{ref_images[0].shape} vs {images[0].shape}"
            return {**cols, "psnr_db": math.nan, "ssim": math.nan, "quality_error": f"image sizes differ: {shapes}"}
        return {**cols, **compare_images(ref_images, images), "quality_error": ""}


def _free_accelerator() -> None:
    import gc

    gc.collect()
    with contextlib.suppress(Exception):
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _load_with_size(cfg: DiffusionConfig) -> tuple[LoadedPipeline, int]:
    loaded = load_pipeline(cfg)
    return loaded, loaded.nbytes


def _check_models_resolve(configs: Sequence[DiffusionConfig]) -> None:
    from blaze_lab.models import resolve_model

    for spec in dict.fromkeys(c.model for c in configs):
        resolve_model(spec, kind="diffusion")  # raises ModelLoadError with a one-line message


__all__ = [
    "DEFAULT_MODEL_CACHE",
    "DiffusionConfig",
    "DiffusionEngine",
    "DiffusionResult",
]
