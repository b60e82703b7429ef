"""Device capability rules: which setting values this device can run, and why not.

The explorer enables only the values a device can run and shows the others disabled with a reason; the same rules
check a whole config before a run, so an impossible choice is explained in the panel instead of failing inside a
library. The rules mirror what was measured on this project's machines (offload needs an accelerator, torchao
int4 weight-only has no CPU kernel, fp16 on CPU runs but slowly). A rule only *predicts*: engines still turn any
library failure into an ``unsupported`` row, so a missing rule costs a wasted run, never a crash.

Rules are a small explicit registry: ``(kind, field, value) -> rule(device) -> Verdict``.

Example:
    >>> cpu = Device.cpu()
    >>> verdict("diffusion", "offload", "sequential", cpu).allowed
    False
    >>> verdict("diffusion", "offload", "sequential", cpu).reason
    'needs an accelerator (offload moves modules between CPU and GPU); this device is CPU-only'
    >>> verdict("llm", "dtype", "fp16", cpu)
    Verdict(allowed=True, reason='fp16 runs on CPU but is no faster than fp32 here')
    >>> check("llm", {"quantization": "torchao-int4-weight-only"}, cpu)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    blaze_lab.errors.UnsupportedError: llm.quantization=torchao-int4-weight-only: ...
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from blaze_lab.errors import UnsupportedError


@dataclasses.dataclass(frozen=True)
class Device:
    """What the capability rules need to know about the machine.

    Attributes:
        accelerator: a CUDA device is visible.
        name: human-readable device name (for messages).
        bf16: the CPU (or GPU) runs bf16 natively.
    """

    accelerator: bool
    name: str = "cpu"
    bf16: bool = True

    @classmethod
    def cpu(cls, bf16: bool = True) -> Device:
        """A CPU-only machine (tests, CI)."""
        return cls(accelerator=False, name="cpu", bf16=bf16)

    @classmethod
    def cuda(cls, name: str = "cuda") -> Device:
        """A machine with a CUDA GPU (tests of the GPU branch without one)."""
        return cls(accelerator=True, name=name, bf16=True)

    @classmethod
    def probe(cls) -> Device:
        """This machine (imports torch; cheap once torch is loaded)."""
        import torch

        if torch.cuda.is_available():
            return cls(accelerator=True, name=torch.cuda.get_device_name(0), bf16=torch.cuda.is_bf16_supported())
        return cls.cpu()

    @property
    def label(self) -> str:
        return self.name if self.accelerator else "CPU-only"


@dataclasses.dataclass(frozen=True)
class Verdict:
    """``allowed`` False: the value cannot run here (``reason`` says why); True with a reason: a caveat."""

    allowed: bool
    reason: str = ""


Rule = Callable[[Device, str], Verdict]  # (device, resolved device "cpu"|"cuda") -> Verdict
OK = Verdict(True)


def _needs_accelerator(what: str) -> Rule:
    def rule(device: Device, target: str) -> Verdict:
        if target == "cuda" and device.accelerator:
            return OK
        return Verdict(False, f"needs an accelerator ({what}); this device is {device.label}")

    return rule


def _needs_cuda_device(device: Device, target: str) -> Verdict:
    return OK if device.accelerator else Verdict(False, "no CUDA device visible on this machine")


def _needs_package(module: str, package: str) -> Rule:
    def rule(device: Device, target: str) -> Verdict:
        if importlib.util.find_spec(module.split(".")[0]) is None:
            return Verdict(False, f"the {package} package is not installed")
        return OK

    return rule


def _cpu_note(note: str) -> Rule:
    def rule(device: Device, target: str) -> Verdict:
        return Verdict(True, note) if target == "cpu" else OK

    return rule


def _bf16_note(device: Device, target: str) -> Verdict:
    if target == "cpu" and not device.bf16:
        return Verdict(True, "this CPU has no native bf16: emulated, slow")
    return OK


def _all(*rules: Rule) -> Rule:
    def rule(device: Device, target: str) -> Verdict:
        notes = []
        for one in rules:
            v = one(device, target)
            if not v.allowed:
                return v
            if v.reason:
                notes.append(v.reason)
        return Verdict(True, "; ".join(notes))

    return rule


_BNB = _needs_package("bitsandbytes", "bitsandbytes")
_TORCHAO = _needs_package("torchao", "torchao")
_QUANTO = _needs_package("optimum.quanto", "optimum-quanto")
_OFFLOAD = _needs_accelerator("offload moves modules between CPU and GPU")

RULES: dict[tuple[str, str, Any], Rule] = {
    ("llm", "device", "cuda"): _needs_cuda_device,
    ("llm", "dtype", "fp16"): _cpu_note("fp16 runs on CPU but is no faster than fp32 here"),
    ("llm", "dtype", "bf16"): _bf16_note,
    ("llm", "amp", "fp16"): _cpu_note("fp16 autocast runs on CPU but is slow"),
    ("llm", "quantization", "bnb-8bit"): _BNB,
    ("llm", "quantization", "bnb-nf4"): _BNB,
    ("llm", "quantization", "bnb-fp4"): _BNB,
    ("llm", "quantization", "torchao-int8-weight-only"): _all(_TORCHAO, _cpu_note("runs on CPU, slower than fp32")),
    ("llm", "quantization", "torchao-int8-dynamic"): _all(_TORCHAO, _cpu_note("runs on CPU, slower than fp32")),
    # Measured: every packing format of Int4WeightOnlyConfig fails on CPU.
    ("llm", "quantization", "torchao-int4-weight-only"): _all(
        _TORCHAO, _needs_accelerator("torchao int4 weight-only has no CPU kernel")
    ),
    ("llm", "quantization", "quanto-int8"): _QUANTO,
    ("llm", "quantization", "quanto-int4"): _QUANTO,
    ("llm", "torch_compile", True): _cpu_note("compiling takes ~50 s on CPU and gave no speed-up here"),
    ("diffusion", "device", "cuda"): _needs_cuda_device,
    ("diffusion", "dtype", "fp16"): _cpu_note("fp16 runs on CPU but ~20x slower than fp32; prefer bf16"),
    ("diffusion", "dtype", "bf16"): _bf16_note,
    ("diffusion", "amp", "fp16"): _cpu_note("fp16 autocast runs on CPU but is slow"),
    ("diffusion", "offload", "model"): _OFFLOAD,
    ("diffusion", "offload", "sequential"): _OFFLOAD,
    ("diffusion", "offload", "group"): _OFFLOAD,
    ("diffusion", "torch_compile", True): _cpu_note("compiling takes long on CPU and gave no speed-up here"),
    ("router", "mode", "live"): lambda device, target: Verdict(True, "live mode runs in real time (slower)"),
}


def target_device(requested: Any, device: Device) -> str:
    """The device a config's ``device`` field resolves to here (``auto`` → cuda when present)."""
    if requested in ("cpu", "cuda"):
        return str(requested)
    return "cuda" if device.accelerator else "cpu"


def verdict(kind: str, field: str, value: Any, device: Device, requested_device: Any = "auto") -> Verdict:
    """Whether ``kind.field = value`` can run on ``device``; ``requested_device`` is the config's ``device`` field."""
    rule = RULES.get((kind, field, value))
    if rule is None:
        return OK
    return rule(device, target_device(requested_device, device))


def options(
    kind: str, field: str, values: Iterable[Any], device: Device, requested_device: Any = "auto"
) -> list[tuple[Any, Verdict]]:
    """Every value of a choice with its verdict, in order (what a settings panel shows).

    >>> [v for v, ok in options("diffusion", "offload", ["none", "model"], Device.cpu()) if ok.allowed]
    ['none']
    """
    return [(value, verdict(kind, field, value, device, requested_device)) for value in values]


def check(kind: str, settings: Mapping[str, Any], device: Device) -> list[str]:
    """Raise UnsupportedError for the first setting this device cannot run; else return the caveats (notes).

    ``settings`` is a config's fields (``config.to_dict()``) or any subset of them.
    """
    requested = settings.get("device", "auto")
    notes = []
    for field, value in settings.items():
        v = verdict(kind, field, value, device, requested)
        if not v.allowed:
            raise UnsupportedError(f"{kind}.{field}={value}: {v.reason}")
        if v.reason:
            notes.append(f"{kind}.{field}={value}: {v.reason}")
    return notes


__all__ = ["RULES", "Device", "Verdict", "check", "options", "target_device", "verdict"]
