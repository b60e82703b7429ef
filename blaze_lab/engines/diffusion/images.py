"""Where a diffusion benchmark's images go: the summary's thumbnail and ``image_path`` columns, the image folder.

Example:
    >>> from pathlib import Path
    >>> image_path_value(Path("results/s/g1/images/abc.png"), Path("results/s/g1/images"))
    'g1/images/abc.png'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from blaze_lab.engines.diffusion.config import DiffusionConfig
from blaze_lab.engines.diffusion.quality import DiffusionQualitySettings, png_bytes, save_png

IMAGE_DIR_ENV = "BLAZE_LAB_IMAGE_DIR"
"""When set (e.g. ``results/{sweep}/{group}/images``), ``benchmark_group`` saves one PNG per config there."""


def image_columns(
    cfg: DiffusionConfig, images: list[np.ndarray], image_dir: Path | None, quality: DiffusionQualitySettings
) -> dict[str, Any]:
    """A config's image columns: a PNG ``thumbnail_png``, plus ``image_path`` when ``image_dir`` is given."""
    cols: dict[str, Any] = {"thumbnail_png": png_bytes(images[0], max_side=quality.thumbnail_px)}
    if image_dir is not None:
        path = save_png(images[0], image_dir / f"{cfg.config_hash()}.png")
        cols["image_path"] = image_path_value(path, image_dir)
    return cols


def image_path_value(path: Path, image_dir: Path) -> str:
    """``<group>/images/<hash>.png`` (relative to the sweep's results folder) when ``image_dir`` is
    ``.../<sweep>/<group>/images``; else the path as given."""
    if image_dir.name == "images" and len(image_dir.parts) >= 2:
        return str(path.relative_to(image_dir.parent.parent))
    return str(path)


def resolve_image_dir(template: str | None, sweep: str, group: str) -> Path | None:
    """``template`` (or ``$BLAZE_LAB_IMAGE_DIR``) with ``{sweep}`` and ``{group}`` filled in; None when neither.

    >>> resolve_image_dir("results/{sweep}/{group}/images", "s", "g1").as_posix()
    'results/s/g1/images'
    """
    text = template or os.environ.get(IMAGE_DIR_ENV) or None
    if not text:
        return None
    return Path(text.format(sweep=sweep, group=group))


__all__ = ["IMAGE_DIR_ENV", "image_columns", "image_path_value", "resolve_image_dir"]
