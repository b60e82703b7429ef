"""``DiffusionConfig``: every setting of one diffusion measurement, validated, split into load-time and run-time.

**Load-time** (a change needs a new pipeline load): ``model, device, pipeline, dtype, offload, channels_last,
torch_compile``. Weights are cast while loading, offload installs accelerate hooks that move whole modules, and a
compiled UNet is tied to the memory format it was compiled for, so none of these can be flipped on a loaded pipe.

**Run-time** (applied to the already loaded pipeline before each config, every one set explicitly so nothing
leaks from the previous config): ``scheduler`` (swapped with ``<Scheduler>.from_config(pipe.scheduler.config)``),
``attention`` / ``attention_slice_size`` (attention processors on the UNet and VAE), ``vae_slicing`` /
``vae_tiling`` (``pipe.vae.enable_slicing()`` / ``enable_tiling()``; diffusers 0.42 removed the pipeline-level
``enable_vae_*``), ``amp`` (autocast around the call), ``cpu_threads`` (torch intra-op threads) and the generation
parameters.

``attention_slice_size`` is ``"auto"`` (diffusers: half the attention head dim), ``"max"`` (one slice at a time,
least memory) or a positive int, and only matters with ``attention="sliced"``.

Example:
    >>> cfg = DiffusionConfig(model="random:tiny-sd", attention="sliced", attention_slice_size=2, steps=4)
    >>> cfg.flat()["diffusion.attention_slice_size"], cfg.is_load_compatible(cfg.replace(vae_tiling=True))
    ('2', True)
    >>> DiffusionConfig(scheduler="heun")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: diffusion.scheduler: invalid value 'heun'; allowed: default, pndm, ddim, ...
"""

from __future__ import annotations

import dataclasses
from typing import Any

from blaze_lab.config import BaseConfig, check_choice, check_int, check_number, check_type
from blaze_lab.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
PIPELINES = ("text-to-image", "unconditional")
SCHEDULERS = ("default", "pndm", "ddim", "ddpm", "euler", "euler-ancestral", "dpm-solver++")
# DDPMPipeline calls scheduler.step(..., generator=...) and never scales the model input: only these fit it.
UNCONDITIONAL_SCHEDULERS = ("default", "ddpm", "ddim")
DTYPES = ("fp32", "fp16", "bf16")
AMP_MODES = ("off", "fp16", "bf16")
ATTENTIONS = ("sdpa", "eager", "sliced")
SLICE_SIZES = ("auto", "max")
OFFLOADS = ("none", "model", "sequential", "group")
DEFAULT_PROMPT = "a watercolor painting of a lighthouse on a rocky coast at dusk"


@dataclasses.dataclass(frozen=True)
class DiffusionConfig(BaseConfig):
    """One diffusion setting.

    Attributes:
        model: a local diffusers directory, a hub id, ``random:tiny-sd``, ``random:sd15`` or ``random:tiny-ddpm``.
        device: ``auto`` (cuda when available, else cpu), ``cpu`` or ``cuda``.
        pipeline: ``text-to-image`` (Stable Diffusion) or ``unconditional`` (DDPM-style, no prompt).
        scheduler: ``default`` (the model's own) or a swap: pndm, ddim, ddpm, euler, euler-ancestral, dpm-solver++.
        dtype: weight dtype: fp32, fp16 or bf16.
        amp: autocast dtype around the call, or ``off``.
        attention: ``sdpa`` (PyTorch fused attention), ``eager`` (plain matmul/softmax) or ``sliced``.
        attention_slice_size: ``auto``, ``max`` or a positive int (``attention="sliced"`` only).
        vae_slicing: decode the batch one image at a time.
        vae_tiling: decode (and encode) in overlapping tiles.
        offload: ``none``, ``model`` (whole modules to the accelerator on use), ``sequential`` (submodules),
            ``group`` (blocks, diffusers group offload). All need an accelerator.
        channels_last: UNet (and VAE) in channels-last memory format.
        torch_compile: ``torch.compile`` the UNet.
        cpu_threads: torch intra-op CPU threads for the call (0: the process default). On a small shared CPU, one
            thread avoids OpenMP workers spinning against other processes (measured ~10x slower calls there).
        steps: denoising steps asked of the scheduler.
        height: image height in pixels (None: the model's default; must be None for unconditional).
        width: image width in pixels (None: the model's default; must be None for unconditional).
        batch_size: images per prompt (one pipeline call).
        guidance_scale: classifier-free guidance scale (> 1 runs the UNet on a doubled batch).
        seed: image ``i`` of a call uses ``torch.Generator().manual_seed(seed + i)``, so it does not depend on
            the batch size (what makes quality comparisons across batch sizes meaningful).
        prompt: the text prompt (text-to-image only).
    """

    PREFIX = "diffusion"
    LOAD_FIELDS = ("model", "device", "pipeline", "dtype", "offload", "channels_last", "torch_compile")

    model: str = "random:tiny-sd"
    device: str = "auto"
    pipeline: str = "text-to-image"
    scheduler: str = "default"
    dtype: str = "fp32"
    amp: str = "off"
    attention: str = "sdpa"
    attention_slice_size: int | str = "auto"
    vae_slicing: bool = False
    vae_tiling: bool = False
    offload: str = "none"
    channels_last: bool = False
    torch_compile: bool = False
    cpu_threads: int = 0
    steps: int = 20
    height: int | None = None
    width: int | None = None
    batch_size: int = 1
    guidance_scale: float = 7.5
    seed: int = 0
    prompt: str = DEFAULT_PROMPT

    def validate(self) -> None:
        check_type(self, "model", str)
        if not self.model.strip():
            raise ConfigError(self.field_name("model"), self.model, reason="must name a model")
        check_choice(self, "device", DEVICES)
        check_choice(self, "pipeline", PIPELINES)
        check_choice(self, "scheduler", SCHEDULERS)
        check_choice(self, "dtype", DTYPES)
        check_choice(self, "amp", AMP_MODES)
        check_choice(self, "attention", ATTENTIONS)
        check_choice(self, "offload", OFFLOADS)
        self._check_slice_size()
        for flag in ("vae_slicing", "vae_tiling", "channels_last", "torch_compile"):
            check_type(self, flag, bool)
        check_int(self, "cpu_threads", minimum=0, maximum=1024)
        check_int(self, "steps", minimum=1, maximum=10_000)
        for side in ("height", "width"):
            if getattr(self, side) is not None:
                check_int(self, side, minimum=8, maximum=8192)
                if getattr(self, side) % 8:
                    raise ConfigError(self.field_name(side), getattr(self, side), reason="must be a multiple of 8")
        check_int(self, "batch_size", minimum=1, maximum=1024)
        check_number(self, "guidance_scale", minimum=0)
        check_int(self, "seed", minimum=0)
        check_type(self, "prompt", str)
        if self.pipeline == "unconditional":
            if self.scheduler not in UNCONDITIONAL_SCHEDULERS:
                raise ConfigError(
                    self.field_name("scheduler"),
                    self.scheduler,
                    allowed=UNCONDITIONAL_SCHEDULERS,
                    reason="the unconditional (DDPM) pipeline never scales the model input",
                )
            for side in ("height", "width"):
                if getattr(self, side) is not None:
                    raise ConfigError(
                        self.field_name(side),
                        getattr(self, side),
                        reason="unconditional pipelines generate at the UNet's sample size; leave it unset (None)",
                    )

    def _check_slice_size(self) -> None:
        value = self.attention_slice_size
        name = self.field_name("attention_slice_size")
        if isinstance(value, str):
            if value not in SLICE_SIZES:
                raise ConfigError(name, value, allowed=[*SLICE_SIZES, "a positive int"])
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(name, value, allowed=[*SLICE_SIZES, "a positive int"])

    def flat(self) -> dict[str, Any]:
        """Dotted columns; ``attention_slice_size`` as text ("auto", "max", "4") so the column has one type
        (parquet refuses a column mixing ints and strings)."""
        row = super().flat()
        row[self.field_name("attention_slice_size")] = str(self.attention_slice_size)
        return row

    def is_load_compatible(self, other: DiffusionConfig) -> bool:
        """True when ``other`` can reuse this config's loaded pipeline."""
        return self.load_key() == other.load_key()

    def resolved_device(self) -> str:
        """``auto`` → ``cuda`` when a CUDA device is visible, else ``cpu``."""
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def default_reference(self) -> DiffusionConfig:
        """The quality reference: same model, scheduler, steps, size, batch, seed and prompt; fp32, sdpa attention,
        no slicing, no tiling, no offload, no AMP, no compile, contiguous memory format."""
        return self.replace(
            dtype="fp32",
            amp="off",
            attention="sdpa",
            attention_slice_size="auto",
            vae_slicing=False,
            vae_tiling=False,
            offload="none",
            channels_last=False,
            torch_compile=False,
        )

    def uses_capability(self) -> bool:
        """True when an optional capability is asked for, so its library failure means "unsupported"."""
        return (
            self.offload != "none"
            or self.torch_compile
            or self.amp != "off"
            or self.dtype != "fp32"
            or self.attention != "sdpa"
            or self.vae_slicing
            or self.vae_tiling
            or self.channels_last
        )


__all__ = [
    "AMP_MODES",
    "ATTENTIONS",
    "DEFAULT_PROMPT",
    "DEVICES",
    "DTYPES",
    "OFFLOADS",
    "PIPELINES",
    "SCHEDULERS",
    "SLICE_SIZES",
    "UNCONDITIONAL_SCHEDULERS",
    "DiffusionConfig",
]
