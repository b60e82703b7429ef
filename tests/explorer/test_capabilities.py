"""Device capability rules: what is disabled on CPU (with the reason), what only carries a note, what a GPU allows."""

from __future__ import annotations

import pytest

from blaze_lab.engines.diffusion.config import OFFLOADS
from blaze_lab.engines.llm.config import QUANTIZATIONS
from blaze_lab.errors import UnsupportedError
from blaze_lab.explorer import capabilities as cap
from blaze_lab.explorer.capabilities import Device, check, options, verdict

CPU = Device.cpu()
GPU = Device.cuda("H100")


@pytest.mark.parametrize("value", ["model", "sequential", "group"])
def test_offload_needs_an_accelerator(value: str) -> None:
    v = verdict("diffusion", "offload", value, CPU)
    assert not v.allowed
    assert "accelerator" in v.reason and "CPU-only" in v.reason
    assert verdict("diffusion", "offload", value, GPU).allowed


def test_offload_on_a_gpu_machine_but_a_cpu_config_is_still_refused() -> None:
    assert not verdict("diffusion", "offload", "model", GPU, requested_device="cpu").allowed
    assert verdict("diffusion", "offload", "model", GPU, requested_device="cuda").allowed


def test_torchao_int4_unsupported_on_cpu_only() -> None:
    assert "no CPU kernel" in verdict("llm", "quantization", "torchao-int4-weight-only", CPU).reason
    assert not verdict("llm", "quantization", "torchao-int4-weight-only", CPU).allowed
    assert verdict("llm", "quantization", "torchao-int4-weight-only", GPU).allowed


def test_fp16_on_cpu_is_allowed_with_a_note() -> None:
    llm = verdict("llm", "dtype", "fp16", CPU)
    sd = verdict("diffusion", "dtype", "fp16", CPU)
    assert llm.allowed and "no faster" in llm.reason
    assert sd.allowed and "slower" in sd.reason
    assert verdict("llm", "dtype", "fp16", GPU) == cap.Verdict(True, "")


def test_cuda_device_needs_one() -> None:
    assert not verdict("llm", "device", "cuda", CPU).allowed
    assert verdict("llm", "device", "cuda", GPU).allowed


def test_missing_package_disables_its_quantizations(monkeypatch: pytest.MonkeyPatch) -> None:
    real = cap.importlib.util.find_spec
    monkeypatch.setattr(cap.importlib.util, "find_spec", lambda name: None if name == "bitsandbytes" else real(name))
    v = verdict("llm", "quantization", "bnb-nf4", CPU)
    assert not v.allowed and "bitsandbytes" in v.reason


def test_options_keep_order_and_cover_every_value() -> None:
    opts = options("llm", "quantization", QUANTIZATIONS, CPU)
    assert [v for v, _ in opts] == list(QUANTIZATIONS)
    assert [v for v, ok in options("diffusion", "offload", OFFLOADS, CPU) if ok.allowed] == ["none"]


def test_check_raises_for_the_blocked_field_and_returns_notes() -> None:
    with pytest.raises(UnsupportedError, match=r"diffusion\.offload=sequential: needs an accelerator"):
        check("diffusion", {"offload": "sequential", "dtype": "fp32"}, CPU)
    notes = check("llm", {"dtype": "fp16", "torch_compile": True, "batch_size": 4}, CPU)
    assert len(notes) == 2 and notes[0].startswith("llm.dtype=fp16")
    assert check("llm", {"dtype": "fp16"}, GPU) == []


def test_bf16_without_native_support_is_noted() -> None:
    assert "emulated" in verdict("llm", "dtype", "bf16", Device.cpu(bf16=False)).reason
    assert verdict("llm", "dtype", "bf16", CPU).reason == ""


def test_every_rule_key_names_a_real_field_and_value() -> None:
    from blaze_lab.explorer.panels import panels

    for kind, field, value in cap.RULES:
        info = panels()[kind]
        assert field in info.config.field_names(), (kind, field)
        if field in info.choices:
            assert value in info.choices[field], (kind, field, value)
