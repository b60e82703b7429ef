"""Tiny random-weight models for tests (also used by other subsystems' tests and demos).

These write straight into the given directory (no cache, no marker): a pytest ``tmp_path_factory`` directory is
the usual target. For a cached copy use ``resolve_model("tiny-llama")`` / ``resolve_model("tiny-sd", "diffusion")``.

Example:
    >>> from blaze_lab.models import build_tiny_llama
    >>> path = build_tiny_llama(tmp_path / "tiny-llama")                      # doctest: +SKIP
    >>> from transformers import AutoModelForCausalLM, AutoTokenizer
    >>> model = AutoModelForCausalLM.from_pretrained(path)                    # doctest: +SKIP
    >>> tokenizer = AutoTokenizer.from_pretrained(path)                      # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from blaze_lab.models.random_arch import ARCHS


def build_tiny_llama(path: Path | str, seed: int = 0) -> Path:
    """Write the tiny Llama (hidden 64, 2 layers, BPE vocab 768, left padding) into ``path``; return it.

    Example:
        >>> build_tiny_llama("/tmp/tiny-llama")                               # doctest: +SKIP
        PosixPath('/tmp/tiny-llama')
    """
    return ARCHS["tiny-llama"].build(Path(path), seed)


def build_tiny_sd(path: Path | str, seed: int = 0) -> Path:
    """Write the tiny StableDiffusionPipeline (64x64 images, PNDM scheduler, no safety checker) into ``path``.

    Example:
        >>> from diffusers import StableDiffusionPipeline
        >>> pipe = StableDiffusionPipeline.from_pretrained(build_tiny_sd("/tmp/tiny-sd"))   # doctest: +SKIP
    """
    return ARCHS["tiny-sd"].build(Path(path), seed)


def build_tiny_ddpm(path: Path | str, seed: int = 0) -> Path:
    """Write the tiny unconditional DDPMPipeline (32x32 images) into ``path``; return it.

    Example:
        >>> from diffusers import DDPMPipeline
        >>> pipe = DDPMPipeline.from_pretrained(build_tiny_ddpm("/tmp/tiny-ddpm"))          # doctest: +SKIP
    """
    return ARCHS["tiny-ddpm"].build(Path(path), seed)


__all__ = ["build_tiny_ddpm", "build_tiny_llama", "build_tiny_sd"]
