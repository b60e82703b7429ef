"""The measured LLM engine: config, loading, quality, the engine and its sweep entry point.

The names below are re-exported lazily (PEP 562), so ``import blaze_lab.engines.llm.config`` — what validating a
spec does — never imports torch or transformers; ``from blaze_lab.engines.llm import LLMEngine`` imports the engine.

Modules: :mod:`~blaze_lab.engines.llm.config` (:class:`LLMConfig`), :mod:`~blaze_lab.engines.llm.loading`,
:mod:`~blaze_lab.engines.llm.quality`, :mod:`~blaze_lab.engines.llm.engine` (:class:`LLMEngine`) and
:mod:`~blaze_lab.engines.llm.group` (:func:`benchmark_group`, the ``llm`` kind's notebook entry point).

Example:
    >>> from blaze_lab.engines.llm import LLMConfig
    >>> LLMConfig(model="random:tiny-llama").model
    'random:tiny-llama'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from blaze_lab.engines.llm.config import LLMConfig
    from blaze_lab.engines.llm.engine import DEFAULT_MODEL_CACHE, GenerationResult, LLMEngine, StreamChunk
    from blaze_lab.engines.llm.group import benchmark_group
    from blaze_lab.engines.llm.quality import QualitySettings

_LAZY = {
    "DEFAULT_MODEL_CACHE": "blaze_lab.engines.llm.engine",
    "GenerationResult": "blaze_lab.engines.llm.engine",
    "LLMConfig": "blaze_lab.engines.llm.config",
    "LLMEngine": "blaze_lab.engines.llm.engine",
    "QualitySettings": "blaze_lab.engines.llm.quality",
    "StreamChunk": "blaze_lab.engines.llm.engine",
    "benchmark_group": "blaze_lab.engines.llm.group",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'blaze_lab.engines.llm' has no attribute {name!r}")


__all__ = [
    "DEFAULT_MODEL_CACHE",
    "GenerationResult",
    "LLMConfig",
    "LLMEngine",
    "QualitySettings",
    "StreamChunk",
    "benchmark_group",
]
