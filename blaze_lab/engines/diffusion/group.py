"""The ``diffusion`` kind's notebook entry point: measure one load-time group of runs with a DiffusionEngine.

Example:
    >>> runs = [{"run_id": "r1", "config": {"steps": 2, "height": 32, "width": 32}}]
    >>> summary, raw = benchmark_group(runs)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from blaze_lab.engines.diffusion.config import DiffusionConfig
from blaze_lab.engines.diffusion.engine import DiffusionEngine
from blaze_lab.engines.diffusion.images import resolve_image_dir
from blaze_lab.engines.diffusion.quality import DiffusionQualitySettings
from blaze_lab.metrics.timing import MeasureSettings


def benchmark_group(
    runs: Sequence[Mapping[str, Any]],
    reference: Mapping[str, Any] | None = None,
    measure: Mapping[str, Any] | None = None,
    sweep: str = "adhoc",
    group: str = "g0",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Notebook entry point: ``runs`` = [{"run_id", "config"}] of one load-time group → (summary, raw).

    ``measure`` holds MeasureSettings fields plus an optional ``quality`` mapping
    (:class:`~blaze_lab.engines.diffusion.quality.DiffusionQualitySettings`: ``enabled``, ``thumbnail_px``,
    ``image_dir`` — a path template with ``{sweep}``/``{group}``; ``$BLAZE_LAB_IMAGE_DIR`` is the fallback).

    >>> runs = [{"run_id": "r1", "config": {"steps": 2, "height": 32, "width": 32}}]
    >>> summary, raw = benchmark_group(runs)  # doctest: +SKIP
    """
    configs = [DiffusionConfig.from_dict(r["config"]) for r in runs]
    measure = dict(measure or {})
    quality = DiffusionQualitySettings(**dict(measure.pop("quality", {})))
    ref = DiffusionConfig.from_dict(reference) if reference else None
    return DiffusionEngine().benchmark(
        configs,
        reference=ref,
        measure=MeasureSettings.from_dict(measure),
        quality=quality,
        image_dir=resolve_image_dir(quality.image_dir, sweep, group),
        run_ids=[r["run_id"] for r in runs],
        extra={"sweep": sweep, "group": group},
        progress=False,
    )


__all__ = ["benchmark_group"]
