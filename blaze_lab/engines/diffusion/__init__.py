"""The measured diffusion engine: config, loading, quality, the engine, its images and its sweep entry point.

The names below are re-exported lazily (PEP 562), so ``import blaze_lab.engines.diffusion.config`` — what validating
a spec does — never imports torch or diffusers; ``from blaze_lab.engines.diffusion import DiffusionEngine`` imports
the engine.

Modules: :mod:`~blaze_lab.engines.diffusion.config` (:class:`DiffusionConfig`),
:mod:`~blaze_lab.engines.diffusion.loading`, :mod:`~blaze_lab.engines.diffusion.quality`,
:mod:`~blaze_lab.engines.diffusion.engine` (:class:`DiffusionEngine`), :mod:`~blaze_lab.engines.diffusion.images`
(thumbnail and image-folder columns) and :mod:`~blaze_lab.engines.diffusion.group` (:func:`benchmark_group`, the
``diffusion`` kind's notebook entry point).

Example:
    >>> from blaze_lab.engines.diffusion import DiffusionConfig
    >>> DiffusionConfig(steps=2).steps
    2
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from blaze_lab.engines.diffusion.config import DiffusionConfig
    from blaze_lab.engines.diffusion.engine import DEFAULT_MODEL_CACHE, DiffusionEngine, DiffusionResult
    from blaze_lab.engines.diffusion.group import benchmark_group
    from blaze_lab.engines.diffusion.images import IMAGE_DIR_ENV, image_path_value, resolve_image_dir
    from blaze_lab.engines.diffusion.quality import DiffusionQualitySettings

_LAZY = {
    "DEFAULT_MODEL_CACHE": "blaze_lab.engines.diffusion.engine",
    "DiffusionConfig": "blaze_lab.engines.diffusion.config",
    "DiffusionEngine": "blaze_lab.engines.diffusion.engine",
    "DiffusionQualitySettings": "blaze_lab.engines.diffusion.quality",
    "DiffusionResult": "blaze_lab.engines.diffusion.engine",
    "IMAGE_DIR_ENV": "blaze_lab.engines.diffusion.images",
    "benchmark_group": "blaze_lab.engines.diffusion.group",
    "image_path_value": "blaze_lab.engines.diffusion.images",
    "resolve_image_dir": "blaze_lab.engines.diffusion.images",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'blaze_lab.engines.diffusion' has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL_CACHE",
    "IMAGE_DIR_ENV",
    "DiffusionConfig",
    "DiffusionEngine",
    "DiffusionQualitySettings",
    "DiffusionResult",
    "benchmark_group",
    "image_path_value",
    "resolve_image_dir",
]
