"""Random-weight architectures: real model shapes with seeded random weights, saved in transformers/diffusers layout.

Random weights give valid *speed and memory* numbers for an architecture (optimum-benchmark's ``no_weights``
idea); quality metrics on them are numeric drift only, which is why every such model is marked
``random_weights=True``. Each architecture is one entry of :data:`ARCHS` (``random:<name>``); building is
deterministic for a seed on a given device. Large shapes are built on CUDA when available (much faster
initialization) and saved in half precision.

Example:
    >>> from blaze_lab.models.random_arch import ARCHS
    >>> sorted(ARCHS)[:3]
    ['llama-1b', 'sd15', 'smollm2-135m-shape']
    >>> ARCHS["tiny-sd"].kind
    'diffusion'
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUILDER_VERSION = 1
"""Bumped when a builder changes what it writes, so cached copies are rebuilt (it is part of the cache path)."""


def _device(prefer_cuda: bool) -> str:
    import torch

    return "cuda" if prefer_cuda and torch.cuda.is_available() else "cpu"


def build_llama(
    path: Path,
    *,
    seed: int = 0,
    dtype: str = "float32",
    prefer_cuda: bool = False,
    tokenizer_vocab: int = 768,
    **config_kwargs: Any,
) -> Path:
    """Write a random-weight ``LlamaForCausalLM`` plus a locally trained BPE tokenizer into ``path``.

    ``config_kwargs`` go to ``LlamaConfig`` (``vocab_size`` defaults to the tokenizer's size; a larger model vocab
    is allowed and simply has unused rows). Returns ``path``.

    Example:
        >>> build_llama(Path("/tmp/m"), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        ...             num_attention_heads=4, num_key_value_heads=2)          # doctest: +SKIP
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    from blaze_lab.models.vocab import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(tokenizer_vocab)
    config_kwargs.setdefault("vocab_size", len(tokenizer))
    config = LlamaConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **config_kwargs,
    )
    torch.manual_seed(seed)
    with torch.device(_device(prefer_cuda)):
        model = LlamaForCausalLM._from_config(config, dtype=getattr(torch, dtype))
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


def _sd_scheduler_kwargs() -> dict[str, Any]:
    # Stable Diffusion 1.x's published scheduler settings.
    return {
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "num_train_timesteps": 1000,
        "skip_prk_steps": True,
        "steps_offset": 1,
        "set_alpha_to_one": False,
    }


def build_stable_diffusion(
    path: Path,
    *,
    unet: dict[str, Any],
    vae: dict[str, Any],
    text_encoder: dict[str, Any],
    seed: int = 0,
    dtype: str = "float32",
    prefer_cuda: bool = False,
) -> Path:
    """Write a random-weight ``StableDiffusionPipeline`` (no safety checker) with the tiny CLIP tokenizer.

    ``unet``/``vae``/``text_encoder`` are keyword arguments of ``UNet2DConditionModel``, ``AutoencoderKL`` and
    ``CLIPTextConfig``; token ids come from the tokenizer. Returns ``path``.
    """
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from blaze_lab.models.vocab import write_clip_tokenizer

    path.mkdir(parents=True, exist_ok=True)
    tokenizer = write_clip_tokenizer(path / "_tokenizer_src")
    text_kwargs = {"vocab_size": len(tokenizer), "max_position_embeddings": 77, **text_encoder}
    torch_dtype = getattr(torch, dtype)
    torch.manual_seed(seed)
    with torch.device(_device(prefer_cuda)):
        unet_model = _cast(UNet2DConditionModel(**unet), torch_dtype)
        vae_model = _cast(AutoencoderKL(**vae), torch_dtype)
        clip_config = CLIPTextConfig(
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **text_kwargs,
        )
        clip = _cast(CLIPTextModel(clip_config), torch_dtype)
    pipe: Any = StableDiffusionPipeline(
        vae=vae_model,
        text_encoder=clip,
        tokenizer=tokenizer,
        unet=unet_model,
        scheduler=PNDMScheduler(**_sd_scheduler_kwargs()),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(str(path), safe_serialization=True)
    # Keep CLIP's plain vocab.json + merges.txt beside tokenizer.json so older transformers can load it too.
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(path / "_tokenizer_src" / name, path / "tokenizer" / name)
    shutil.rmtree(path / "_tokenizer_src")
    return path


def build_ddpm(path: Path, *, unet: dict[str, Any], seed: int = 0, dtype: str = "float32") -> Path:
    """Write a random-weight unconditional ``DDPMPipeline`` (``UNet2DModel`` + ``DDPMScheduler``). Returns ``path``."""
    import torch
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    torch.manual_seed(seed)
    model = _cast(UNet2DModel(**unet), getattr(torch, dtype))
    pipe: Any = DDPMPipeline(unet=model, scheduler=DDPMScheduler(num_train_timesteps=1000))
    path.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(str(path), safe_serialization=True)
    return path


def _cast(module: Any, dtype: Any) -> Any:
    # Skip the no-op cast: diffusers logs a misleading "should be kept in float32" notice on every .to().
    import torch

    return module if dtype == torch.float32 else module.to(dtype)


# --- shapes -------------------------------------------------------------------------------------------------

TINY_LLAMA: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
}
LLAMA_1B: dict[str, Any] = {  # Llama-3.2-1B
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "tie_word_embeddings": True,
    "max_position_embeddings": 4096,
    "rope_theta": 500000.0,
    "rms_norm_eps": 1e-5,
}
SMOLLM2_135M: dict[str, Any] = {  # SmolLM2-135M
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "vocab_size": 49152,
    "tie_word_embeddings": True,
    "max_position_embeddings": 8192,
    "rope_theta": 100000.0,
    "rms_norm_eps": 1e-5,
}
TINY_SD: dict[str, Any] = {
    "unet": {
        "block_out_channels": (32, 64),
        "layers_per_block": 2,
        "sample_size": 32,
        "in_channels": 4,
        "out_channels": 4,
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
        "cross_attention_dim": 32,
        "attention_head_dim": 4,
    },
    "vae": {
        "block_out_channels": (32, 64),
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
        "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"),
        "latent_channels": 4,
        "sample_size": 64,
    },
    "text_encoder": {
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "layer_norm_eps": 1e-5,
    },
}
SD15: dict[str, Any] = {
    "unet": {
        "block_out_channels": (320, 640, 1280, 1280),
        "layers_per_block": 2,
        "sample_size": 64,
        "in_channels": 4,
        "out_channels": 4,
        "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        "cross_attention_dim": 768,
        "attention_head_dim": 8,
    },
    "vae": {
        "block_out_channels": (128, 256, 512, 512),
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "layers_per_block": 2,
        "latent_channels": 4,
        "sample_size": 512,
    },
    "text_encoder": {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "hidden_act": "quick_gelu",
        "projection_dim": 768,
    },
}
TINY_DDPM_UNET: dict[str, Any] = {
    "block_out_channels": (32, 64),
    "layers_per_block": 2,
    "sample_size": 32,
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
    "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
}


@dataclass(frozen=True)
class RandomArch:
    """One ``random:<name>`` architecture: what it is and how to write it into a directory."""

    name: str
    kind: str  # "llm" | "diffusion"
    description: str
    approx_bytes: int  # on disk once built; for listings before it is built
    build: Callable[[Path, int], Path]  # (path, seed) -> path


ARCHS: dict[str, RandomArch] = {
    arch.name: arch
    for arch in (
        RandomArch(
            "tiny-llama",
            "llm",
            "tiny Llama (hidden 64, 2 layers, BPE vocab 768), random weights, fp32: tests and demos",
            2_000_000,
            lambda path, seed: build_llama(path, seed=seed, **TINY_LLAMA),
        ),
        RandomArch(
            "smollm2-135m-shape",
            "llm",
            "SmolLM2-135M-shaped Llama (576 hidden, 30 layers, vocab 49152), random weights, fp32",
            540_000_000,
            lambda path, seed: build_llama(path, seed=seed, **SMOLLM2_135M),
        ),
        RandomArch(
            "llama-1b",
            "llm",
            "Llama-3.2-1B-shaped (2048 hidden, 16 layers, vocab 128256, tied), random weights, bf16",
            2_480_000_000,
            lambda path, seed: build_llama(path, seed=seed, dtype="bfloat16", prefer_cuda=True, **LLAMA_1B),
        ),
        RandomArch(
            "tiny-sd",
            "diffusion",
            "tiny Stable Diffusion (UNet 32/64, 2-block VAE, 2-layer CLIP), random weights, 64x64: tests and demos",
            5_000_000,
            lambda path, seed: build_stable_diffusion(path, seed=seed, **TINY_SD),
        ),
        RandomArch(
            "sd15",
            "diffusion",
            "Stable-Diffusion-1.5-shaped (UNet 320..1280, VAE 128..512, CLIP-L text), random weights, fp16, 512x512",
            2_150_000_000,
            lambda path, seed: build_stable_diffusion(path, seed=seed, dtype="float16", prefer_cuda=True, **SD15),
        ),
        RandomArch(
            "tiny-ddpm",
            "diffusion",
            "tiny unconditional DDPM (UNet2DModel 32/64), random weights, 32x32: DDPMPipeline tests",
            8_000_000,
            lambda path, seed: build_ddpm(path, seed=seed, unet=TINY_DDPM_UNET),
        ),
    )
}


__all__ = [
    "ARCHS",
    "BUILDER_VERSION",
    "LLAMA_1B",
    "SD15",
    "SMOLLM2_135M",
    "TINY_DDPM_UNET",
    "TINY_LLAMA",
    "TINY_SD",
    "RandomArch",
    "build_ddpm",
    "build_llama",
    "build_stable_diffusion",
]
