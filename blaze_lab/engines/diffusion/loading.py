"""Loading a diffusers pipeline for a config (load-time knobs) and applying the run-time knobs to a loaded one.

Load time: dtype (cast while loading), offload (accelerate hooks), channels-last, ``torch.compile`` of the denoiser.
Run time (:func:`apply_runtime`, called before every config so nothing leaks from the previous one): the scheduler
(from a small registry, built with ``from_config`` on the loaded scheduler's config), the attention processors,
VAE slicing and tiling (``pipe.vae.enable_*``: diffusers 0.42 removed the pipeline-level methods).

Library failures while applying an optional capability are re-raised as
:class:`~blaze_lab.errors.UnsupportedError` with the library's message (``enable_model_cpu_offload`` on a machine
without an accelerator says "requires accelerator"), so the benchmark records ``status="unsupported"`` rows.

Example:
    >>> from blaze_lab.engines.diffusion.config import DiffusionConfig
    >>> cfg = DiffusionConfig(model="random:tiny-sd", device="cpu", scheduler="ddim")
    >>> loaded = load_pipeline(cfg)                    # doctest: +SKIP
    >>> apply_runtime(loaded, cfg)                     # doctest: +SKIP
    >>> type(loaded.pipe.scheduler).__name__           # doctest: +SKIP
    'DDIMScheduler'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from blaze_lab.engines.diffusion.config import DiffusionConfig
from blaze_lab.engines.llm.loading import capability, torch_dtype
from blaze_lab.errors import ModelLoadError, UnsupportedError
from blaze_lab.metrics.memory import model_bytes


def _scheduler(class_name: str, **overrides: Any) -> Callable[[Any], Any]:
    def build(config: Any) -> Any:
        import diffusers

        return getattr(diffusers, class_name).from_config(config, **overrides)

    return build


# name -> builder(loaded scheduler config) -> scheduler. "default" restores the scheduler the model came with.
SCHEDULER_BUILDERS: dict[str, Callable[[Any], Any]] = {
    "pndm": _scheduler("PNDMScheduler", skip_prk_steps=True),
    "ddim": _scheduler("DDIMScheduler"),
    "ddpm": _scheduler("DDPMScheduler"),
    "euler": _scheduler("EulerDiscreteScheduler"),
    "euler-ancestral": _scheduler("EulerAncestralDiscreteScheduler"),
    "dpm-solver++": _scheduler("DPMSolverMultistepScheduler", algorithm_type="dpmsolver++"),
}


@dataclasses.dataclass
class LoadedPipeline:
    """A pipeline ready to run, with what the rows need to know about it."""

    pipe: Any
    kind: str  # "text-to-image" | "unconditional"
    device: str  # where the pipeline executes ("cuda" with offload, even though weights rest on the CPU)
    weight_bytes: int
    random_weights: bool
    model_path: str
    default_scheduler: Any  # the scheduler the model was saved with (restored by scheduler="default")
    default_size: int  # image side in pixels when height/width are None

    @property
    def nbytes(self) -> int:
        return self.weight_bytes

    @property
    def denoiser(self) -> Any:
        return self.pipe.unet

    @property
    def vae(self) -> Any:
        return getattr(self.pipe, "vae", None)


def load_pipeline(cfg: DiffusionConfig) -> LoadedPipeline:
    """Load the pipeline for ``cfg`` (raises ModelLoadError / UnsupportedError)."""
    import torch
    from diffusers import DiffusionPipeline

    from blaze_lab.models import resolve_model

    device = cfg.resolved_device()
    if device == "cuda" and not torch.cuda.is_available():
        raise UnsupportedError("device=cuda: no CUDA device is visible")
    resolved = resolve_model(cfg.model, kind="diffusion")
    path = str(resolved.path)
    try:
        pipe: Any = DiffusionPipeline.from_pretrained(path, dtype=torch_dtype(cfg.dtype))
    except OSError as exc:
        raise ModelLoadError(f"cannot load diffusion pipeline from {path}: {exc}") from exc
    kind = "text-to-image" if hasattr(pipe, "text_encoder") else "unconditional"
    if kind != cfg.pipeline:
        raise ModelLoadError(
            f"model {cfg.model!r} is a {kind!r} pipeline ({type(pipe).__name__}), config asks for {cfg.pipeline!r}"
        )
    pipe.set_progress_bar_config(disable=True)
    weight_bytes = sum(model_bytes(m) for m in pipe.components.values() if isinstance(m, torch.nn.Module))
    if cfg.channels_last:
        with capability("channels_last"):
            for module in (pipe.unet, getattr(pipe, "vae", None)):
                if module is not None:
                    module.to(memory_format=torch.channels_last)
    _place(pipe, cfg, device)
    if cfg.torch_compile:
        with capability("torch_compile"):
            # Compile the denoiser's forward only: it is >95% of the time, and the module keeps its type, so the
            # pipeline's own checks and the attention-processor swaps of apply_runtime keep working.
            pipe.unet.forward = torch.compile(pipe.unet.forward)
    unet_cfg = pipe.unet.config
    sample = unet_cfg.sample_size if isinstance(unet_cfg.sample_size, int) else unet_cfg.sample_size[0]
    scale = getattr(pipe, "vae_scale_factor", 1) if kind == "text-to-image" else 1
    return LoadedPipeline(
        pipe=pipe,
        kind=kind,
        device=device,
        weight_bytes=weight_bytes,
        random_weights=resolved.random_weights,
        model_path=path,
        default_scheduler=pipe.scheduler,
        default_size=int(sample * scale),
    )


def _place(pipe: Any, cfg: DiffusionConfig, device: str) -> None:
    if cfg.offload == "none":
        pipe.to(device)
        return
    with capability(f"offload={cfg.offload}"):
        if cfg.offload == "model":
            pipe.enable_model_cpu_offload()
        elif cfg.offload == "sequential":
            pipe.enable_sequential_cpu_offload()
        else:
            if device == "cpu":
                # enable_group_offload accepts any onload device and would "work" as a no-op on a CPU-only machine.
                raise UnsupportedError("offload=group needs an accelerator to onload to (device is cpu)")
            import torch

            pipe.enable_group_offload(
                onload_device=torch.device(device),
                offload_device=torch.device("cpu"),
                offload_type="leaf_level",
                use_stream=True,
            )


# -- run-time knobs --------------------------------------------------------------------------------------------------


_PROCESS_THREADS: list[int] = []  # torch's thread count before the first cpu_threads change (restored by 0)


def set_cpu_threads(threads: int) -> None:
    """``torch.set_num_threads(threads)``; 0 restores the count the process had before the first change."""
    import torch

    if threads == 0:
        if _PROCESS_THREADS and torch.get_num_threads() != _PROCESS_THREADS[0]:
            torch.set_num_threads(_PROCESS_THREADS[0])
        return
    if not _PROCESS_THREADS:
        _PROCESS_THREADS.append(torch.get_num_threads())
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def apply_runtime(loaded: LoadedPipeline, cfg: DiffusionConfig) -> None:
    """Set every run-time knob of ``cfg`` on the loaded pipeline (scheduler, attention, VAE slicing/tiling,
    CPU threads)."""
    pipe = loaded.pipe
    set_cpu_threads(cfg.cpu_threads)
    with capability(f"scheduler={cfg.scheduler}"):
        if cfg.scheduler == "default":
            pipe.scheduler = loaded.default_scheduler
        else:
            pipe.scheduler = SCHEDULER_BUILDERS[cfg.scheduler](loaded.default_scheduler.config)
    with capability(f"attention={cfg.attention}"):
        set_attention(loaded, cfg.attention, cfg.attention_slice_size)
    vae = loaded.vae
    if vae is None:
        if cfg.vae_slicing or cfg.vae_tiling:
            raise UnsupportedError(f"vae_slicing/vae_tiling: the {loaded.kind} pipeline has no VAE")
        return
    with capability("vae_slicing"):
        vae.enable_slicing() if cfg.vae_slicing else vae.disable_slicing()
    with capability("vae_tiling"):
        vae.enable_tiling() if cfg.vae_tiling else vae.disable_tiling()


def _attention_modules(module: Any) -> list[Any]:
    from diffusers.models.attention_processor import Attention

    return [m for m in module.modules() if isinstance(m, Attention)]


def set_attention(loaded: LoadedPipeline, attention: str, slice_size: int | str = "auto") -> int:
    """Install attention processors; returns how many attention layers were set.

    ``sdpa`` / ``eager`` go on the denoiser and the VAE. ``sliced`` goes on the denoiser only, as diffusers'
    ``enable_attention_slicing`` does, with its slice sizes: ``auto`` = half the heads of each layer, ``max`` = 1
    (one head at a time, least memory), an int = that many. The VAE keeps sdpa then.
    """
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0, SlicedAttnProcessor

    plain = AttnProcessor2_0 if attention in ("sdpa", "sliced") else AttnProcessor
    count = 0
    vae = loaded.vae
    for module in _attention_modules(vae) if vae is not None else []:
        module.set_processor(plain())
        count += 1
    for module in _attention_modules(loaded.denoiser):
        if attention == "sliced":
            heads = int(getattr(module, "sliceable_head_dim", None) or module.heads)
            size = max(1, heads // 2) if slice_size == "auto" else 1 if slice_size == "max" else int(slice_size)
            module.set_processor(SlicedAttnProcessor(min(size, heads)))
        else:
            module.set_processor(plain())
        count += 1
    return count


__all__ = [
    "SCHEDULER_BUILDERS",
    "LoadedPipeline",
    "apply_runtime",
    "load_pipeline",
    "set_attention",
    "set_cpu_threads",
]
