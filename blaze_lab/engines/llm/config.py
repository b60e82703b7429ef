"""``LLMConfig``: every setting of one LLM measurement, validated, split into load-time and run-time fields.

Example:
    >>> cfg = LLMConfig(model="random:tiny-llama", dtype="bf16", batch_size=8)
    >>> cfg.flat()["llm.dtype"], cfg.is_load_compatible(cfg.replace(batch_size=1))
    ('bf16', True)
    >>> LLMConfig(quantization="int3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: llm.quantization: invalid value 'int3'; allowed: none, bnb-8bit, bnb-nf4, ...
"""

from __future__ import annotations

import dataclasses

from blaze_lab.config import BaseConfig, check_choice, check_int, check_number, check_type
from blaze_lab.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("fp32", "fp16", "bf16")
AMP_MODES = ("off", "fp16", "bf16")
QUANTIZATIONS = (
    "none",
    "bnb-8bit",
    "bnb-nf4",
    "bnb-fp4",
    "torchao-int8-weight-only",
    "torchao-int4-weight-only",
    "torchao-int8-dynamic",
    "quanto-int8",
    "quanto-int4",
    "dynamic-int8",
)
ATTN_IMPLEMENTATIONS = ("sdpa", "eager")
CACHE_IMPLEMENTATIONS = ("dynamic", "static")


@dataclasses.dataclass(frozen=True)
class LLMConfig(BaseConfig):
    """One LLM setting.

    Load-time fields (a change needs a new model load): ``model, device, dtype, quantization,
    attn_implementation, torch_compile, trust_remote_code``. Everything else is run-time.

    Attributes:
        model: model spec: local dir, hub id, ``.gguf`` file, ``smollm2-135m`` or ``random:<arch>``.
        device: ``auto`` (cuda when available, else cpu), ``cpu`` or ``cuda``.
        dtype: weight dtype: fp32, fp16 or bf16 (compute dtype for bnb 4-bit).
        amp: autocast dtype during generation, or ``off``.
        quantization: weight quantization method (``none`` keeps ``dtype`` weights).
        attn_implementation: ``sdpa`` (PyTorch fused attention) or ``eager``.
        cache_implementation: KV cache kind for generate: ``dynamic`` or ``static``.
        torch_compile: compile the forward with ``torch.compile``.
        trust_remote_code: allow a model's own Python code (off unless the user sets it).
        batch_size: sequences per generate call.
        prompt_tokens: tokens in each prompt (exact; prompts are cut from the bundled text).
        new_tokens: tokens generated per sequence (exact: EOS is not allowed to stop early).
        do_sample: sample instead of greedy decoding.
        temperature: sampling temperature (only with ``do_sample``).
        top_p: nucleus sampling threshold (only with ``do_sample``).
        seed: RNG seed for sampling and prompt selection.
    """

    PREFIX = "llm"
    LOAD_FIELDS = (
        "model",
        "device",
        "dtype",
        "quantization",
        "attn_implementation",
        "torch_compile",
        "trust_remote_code",
    )

    model: str = "random:tiny-llama"
    device: str = "auto"
    dtype: str = "fp32"
    amp: str = "off"
    quantization: str = "none"
    attn_implementation: str = "sdpa"
    cache_implementation: str = "dynamic"
    torch_compile: bool = False
    trust_remote_code: bool = False
    batch_size: int = 1
    prompt_tokens: int = 32
    new_tokens: int = 32
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0

    def validate(self) -> None:
        check_type(self, "model", str)
        if not self.model.strip():
            raise ConfigError(self.field_name("model"), self.model, reason="must name a model")
        check_choice(self, "device", DEVICES)
        check_choice(self, "dtype", DTYPES)
        check_choice(self, "amp", AMP_MODES)
        check_choice(self, "quantization", QUANTIZATIONS)
        check_choice(self, "attn_implementation", ATTN_IMPLEMENTATIONS)
        check_choice(self, "cache_implementation", CACHE_IMPLEMENTATIONS)
        for flag in ("torch_compile", "trust_remote_code", "do_sample"):
            check_type(self, flag, bool)
        check_int(self, "batch_size", minimum=1, maximum=4096)
        check_int(self, "prompt_tokens", minimum=1)
        check_int(self, "new_tokens", minimum=1)
        check_number(self, "temperature", minimum=0, strict_min=True)
        check_number(self, "top_p", minimum=0, maximum=1, strict_min=True)
        check_int(self, "seed", minimum=0)

    def is_load_compatible(self, other: LLMConfig) -> bool:
        """True when ``other`` can reuse this config's loaded model."""
        return self.load_key() == other.load_key()

    def resolved_device(self) -> str:
        """``auto`` → ``cuda`` when a CUDA device is visible, else ``cpu``."""
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def default_reference(self) -> LLMConfig:
        """The quality reference for this config: same model and lengths, fp32, no quantization, no AMP, eager-free."""
        return self.replace(
            dtype="fp32",
            amp="off",
            quantization="none",
            attn_implementation="sdpa",
            cache_implementation="dynamic",
            torch_compile=False,
            do_sample=False,
        )

    def uses_capability(self) -> bool:
        """True when the config asks for an optional capability whose absence means "unsupported", not "error"."""
        return (
            self.quantization != "none"
            or self.torch_compile
            or self.amp != "off"
            or self.cache_implementation != "dynamic"
            or self.attn_implementation != "sdpa"
            or self.dtype != "fp32"
        )


__all__ = [
    "AMP_MODES",
    "ATTN_IMPLEMENTATIONS",
    "CACHE_IMPLEMENTATIONS",
    "DEVICES",
    "DTYPES",
    "QUANTIZATIONS",
    "LLMConfig",
]
