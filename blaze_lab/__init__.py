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

# Heavier entry points, imported on first attribute access (PEP 562) so `import blaze_lab` does not pull in torch.
_LAZY = {
    "DiffusionConfig": "blaze_lab.engines.diffusion.config",
    "DiffusionEngine": "blaze_lab.engines.diffusion.engine",
    "Explorer": "blaze_lab.widgets",
    "LLMConfig": "blaze_lab.engines.llm.config",
    "LLMEngine": "blaze_lab.engines.llm.engine",
    "MeasureSettings": "blaze_lab.metrics.timing",
    "load_results": "blaze_lab.results",
    "load_spec": "blaze_lab.sweep.spec",
    "resolve_model": "blaze_lab.models",
    "run_sweep": "blaze_lab.sweep.runner",
    "write_report": "blaze_lab.report.html",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'blaze_lab' has no attribute {name!r}")


__all__ = [
    "BlazeLabError",
    "Clock",
    "ConfigError",
    "DiffusionConfig",
    "DiffusionEngine",
    "EngineError",
    "Explorer",
    "LLMConfig",
    "LLMEngine",
    "MeasureSettings",
    "ModelLoadError",
    "RealClock",
    "SweepError",
    "UnsupportedError",
    "VirtualClock",
    "__version__",
    "load_results",
    "load_spec",
    "resolve_model",
    "run_sweep",
    "write_report",
]
