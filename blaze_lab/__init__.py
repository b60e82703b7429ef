"""blaze_lab — a Jupyter-first workbench for measuring ML inference settings and request routing.

The curated public API is listed in ``__all__`` (pinned by ``tests/test_public_api.py``); submodules import lazily
so ``import blaze_lab`` stays cheap (no torch import until an engine is used).
"""

from __future__ import annotations

from blaze_lab.clock import Clock, RealClock, VirtualClock
from blaze_lab.errors import (
    BlazeLabError,
    ConfigError,
    EngineError,
    ModelLoadError,
    SweepError,
    UnsupportedError,
)

__version__ = "0.1.0"

__all__ = [
    "BlazeLabError",
    "Clock",
    "ConfigError",
    "EngineError",
    "ModelLoadError",
    "RealClock",
    "SweepError",
    "UnsupportedError",
    "VirtualClock",
    "__version__",
]
