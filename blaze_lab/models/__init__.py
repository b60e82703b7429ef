"""Model sources: every spec resolves to a local directory in transformers / diffusers layout.

``resolve_model(spec, kind)`` accepts ``random:<arch>`` (and the ``tiny-llama`` / ``tiny-sd`` / ``tiny-ddpm``
fixtures), the bundled real ``smollm2-135m``, a ``.gguf`` file, a local directory or an ``org/name`` hub id (local
HF cache only when offline). Materialized models live under ``cache_dir() / "models"`` and are built atomically.
Importing this package does not import torch.

Example:
    >>> from blaze_lab.models import resolve_model
    >>> m = resolve_model("random:tiny-llama")                                  # doctest: +SKIP
    >>> from transformers import AutoModelForCausalLM
    >>> model = AutoModelForCausalLM.from_pretrained(m.path)                    # doctest: +SKIP
"""

from __future__ import annotations

from blaze_lab.models.cache import cache_dir, models_dir
from blaze_lab.models.fixtures import build_tiny_ddpm, build_tiny_llama, build_tiny_sd
from blaze_lab.models.sources import (
    ResolvedModel,
    check_model,
    is_prepared,
    known_models,
    prepare,
    prepared_path,
    resolve_model,
)
from blaze_lab.models.texts import eval_text, prompts

__all__ = [
    "ResolvedModel",
    "build_tiny_ddpm",
    "build_tiny_llama",
    "build_tiny_sd",
    "cache_dir",
    "check_model",
    "eval_text",
    "is_prepared",
    "known_models",
    "models_dir",
    "prepare",
    "prepared_path",
    "prompts",
    "resolve_model",
]
