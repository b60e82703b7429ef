"""The ``diffusion`` kind for the measurement loop: open a config (load), call the pipeline, finish (quality, images).

:class:`DiffusionMeasurer` is what :func:`blaze_lab.metrics.loop.run_configs` drives; the loop owns warm-up, the
interleaved order, the stop rule, failures and the frames. Configs sharing a pipeline differ in run-time settings
(attention slicing, VAE slicing/tiling, scheduler): each call re-applies its own config's settings first
(:meth:`DiffusionEngine.prepare` does nothing when they are already applied), so interleaving never measures one
config with another's settings. Memory is measured as for the LLM kind: other models evicted and the device
cleaned before a new load, the pre-load baseline kept for ``peak_rss_increase_bytes``; on CPU the config's peaks
come from one untimed memory-probe call under :class:`~blaze_lab.metrics.memory.ExactHeap` before its first measured
call (glibc's heap makes per-call peaks depend on what ran earlier in the process). Throughput is the ratio
estimator ``images_per_s`` = total images / total seconds; per-step latency is pooled over every step of every
measured call.

Example:
    >>> from blaze_lab.engines.diffusion import DiffusionConfig, DiffusionEngine
    >>> summary, raw = DiffusionEngine().benchmark([DiffusionConfig(steps=2, height=32, width=32)])  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from blaze_lab.config import stable_hash
from blaze_lab.engines.diffusion.config import DiffusionConfig
from blaze_lab.engines.diffusion.images import image_columns
from blaze_lab.engines.diffusion.quality import RANDOM_WEIGHTS_NOTE, DiffusionQualitySettings
from blaze_lab.metrics.measurer import MetricSpec, Ratio
from blaze_lab.metrics.memory import MEMORY_COLUMNS, ExactHeap, MemoryTracker, clean_device, process_memory
from blaze_lab.metrics.stats import STAT_SUFFIXES, summarize

if TYPE_CHECKING:
    from blaze_lab.engines.diffusion.engine import DiffusionEngine
    from blaze_lab.engines.diffusion.loading import LoadedPipeline

DIFFUSION_METRICS = MetricSpec(
    sampled=("latency_s", "text_encode_s", "denoise_s", "vae_decode_s", "images_per_s_call"),
    primary="latency_s",
    peaks=MEMORY_COLUMNS,
    ratios=(Ratio("images_per_s", "images", "latency_s"),),
    totals=("energy_j",),
)


class DiffusionTrial:
    """One opened diffusion config: the loaded pipeline; keeps the last measured call's images for quality."""

    def __init__(
        self, measurer: DiffusionMeasurer, cfg: DiffusionConfig, loaded: LoadedPipeline, columns: dict[str, Any]
    ) -> None:
        self.measurer = measurer
        self.cfg = cfg
        self.loaded = loaded
        self.columns = columns
        self.steps: list[float] = []
        self.images: list[np.ndarray] = []
        self.method = ""
        self.memory: dict[str, Any] | None = None  # CPU: the memory probe's peaks (see call)

    def call(self, iteration: int) -> dict[str, Any]:
        engine = self.measurer.engine
        engine.prepare(self.cfg)  # this config's run-time settings (another config may have run in between)
        cuda = self.loaded.device.startswith("cuda")
        if iteration >= 0 and self.memory is None and not cuda:
            # As for the LLM kind: the CPU peaks come from one extra, untimed call under ExactHeap after warm-up.
            with ExactHeap(), MemoryTracker(self.loaded.device, baseline=self.measurer.baseline(self.cfg)) as probe:
                engine.run_call(self.loaded, self.cfg, [self.cfg.prompt], [self.cfg.seed])
            self.memory = {k: v for k, v in probe.result().items() if k in MEMORY_COLUMNS}
        # Timed CPU calls skip the heap trim (their peaks are not reported; a trimmed heap re-faults temporaries).
        # The first warm-up call (discarded) runs under ExactHeap: its one-time temporaries must not fragment the heap
        # the probe measures (as in the LLM kind).
        with (
            ExactHeap(active=iteration == -1 and not cuda),
            MemoryTracker(self.loaded.device, baseline=self.measurer.baseline(self.cfg), trim=cuda) as mem,
        ):
            result = engine.run_call(self.loaded, self.cfg, [self.cfg.prompt], [self.cfg.seed])
        row = result.timings.row()
        row["images_per_s_call"] = row.pop("images_per_s")
        steps = row.pop("step_latency_s")
        if iteration >= 0:
            self.steps.extend(steps)
            self.images = result.images
        self.method = result.timings.method
        return {**row, **mem.result()}

    def finish(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        pooled = summarize(self.steps)
        cols: dict[str, Any] = {f"step_latency_s_{k}": pooled.get(k, math.nan) for k in STAT_SUFFIXES}
        cols.update(n_steps=pooled["n"], timer=self.method)
        if self.memory is not None:
            cols.update(self.memory)  # CPU peaks: the probe's, not the timed calls' (their heap has history)
        m = self.measurer
        if m.quality.enabled and self.images:
            cols.update(m.engine.quality_or_note(self.cfg, self.images, m.reference))
        cols.update(image_columns(self.cfg, self.images, m.image_dir, m.quality))
        return cols


class DiffusionMeasurer:
    """The ``diffusion`` kind's "measure one config" for :func:`~blaze_lab.metrics.loop.run_configs`."""

    def __init__(
        self,
        engine: DiffusionEngine,
        configs: Sequence[DiffusionConfig],
        reference: DiffusionConfig | None,
        quality: DiffusionQualitySettings,
        image_dir: Path | None,
    ) -> None:
        self.engine = engine
        self.reference = reference
        self.quality = quality
        self.image_dir = image_dir
        self._baselines: dict[Hashable, dict[str, float]] = {}
        self._own_reference = {c.load_key() for c in configs if reference_for(c, reference).load_key() == c.load_key()}

    def cluster_order(self, keys: list[Hashable]) -> list[Hashable]:
        # Clusters that are their own reference first: later configs then reuse the stored reference images.
        return sorted(keys, key=lambda k: (k not in self._own_reference, stable_hash(list(k))))  # type: ignore[call-overload]

    def capability(self, cfg: DiffusionConfig) -> bool:
        return cfg.uses_capability()

    def baseline(self, cfg: DiffusionConfig) -> dict[str, float] | None:
        return self._baselines.get(cfg.load_key())

    def open(self, cfg: DiffusionConfig) -> DiffusionTrial:
        engine = self.engine
        key = cfg.load_key()
        hit = key in engine.model_cache
        if not hit:
            engine.model_cache.keep_only(key)
            clean_device(cfg.resolved_device())
            self._baselines[key] = process_memory(libraries=True)
        with ExactHeap(active=not hit and not cfg.resolved_device().startswith("cuda")):  # see LLMMeasurer.open
            loaded = engine.load(cfg)
        engine.prepare(cfg)  # run-time settings a device cannot apply fail here, as "unsupported" when optional
        columns = {
            "device": loaded.device,
            "random_weights": loaded.random_weights,
            "quality_note": RANDOM_WEIGHTS_NOTE if loaded.random_weights else "",
            "weight_bytes": loaded.weight_bytes,
            "model_cache_hit": hit,
            "load_s": engine.model_cache.load_seconds(key),
        }
        return DiffusionTrial(self, cfg, loaded, columns)

    def release(self, key: Hashable) -> None:
        """A failed call may leave the pipeline half-configured: re-apply settings next time."""
        self.engine.forget_applied()


def reference_for(cfg: DiffusionConfig, reference: DiffusionConfig | None) -> DiffusionConfig:
    """The quality reference of ``cfg``; its batch size follows the config (image k has seed + k in both)."""
    return (reference or cfg.default_reference()).replace(batch_size=cfg.batch_size)


__all__ = ["DIFFUSION_METRICS", "DiffusionMeasurer", "DiffusionTrial", "reference_for"]
