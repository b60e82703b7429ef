"""GGUF files: dequantized once to a cached safetensors directory that loads without gguf."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from blaze_lab.errors import ModelLoadError
from blaze_lab.models import gguf as gguf_source
from blaze_lab.models import resolve_model
from blaze_lab.models.cache import models_dir

from .gguf_writer import write_llama_gguf


@pytest.fixture(scope="module")
def tiny_gguf(tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_llama_gguf(tiny_llama_dir, tmp_path_factory.mktemp("gguf") / "tiny-llama.F32.gguf")


def test_gguf_dequantizes_once_and_matches_source(
    tiny_gguf: Path, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved = resolve_model(str(tiny_gguf))
    assert (resolved.kind, resolved.source, resolved.random_weights) == ("llm", "gguf", False)
    assert resolved.path.parent == models_dir() / "gguf" and resolved.path.name.startswith("tiny-llama.F32-")
    assert (resolved.path / "model.safetensors").is_file()

    # Later resolves reuse the cache without touching the GGUF loader.
    def fail(*_: object, **__: object) -> None:
        raise AssertionError("dequantized twice")

    monkeypatch.setattr(gguf_source, "dequantize_into", fail)
    assert resolve_model(str(tiny_gguf)).path == resolved.path

    cached = AutoModelForCausalLM.from_pretrained(resolved.path)  # plain safetensors: no gguf_file needed
    tokenizer = AutoTokenizer.from_pretrained(resolved.path)
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None
    original = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    ids = AutoTokenizer.from_pretrained(tiny_llama_dir)("the harbor town wakes up", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.allclose(cached(ids).logits, original(ids).logits, atol=1e-5)
    assert tokenizer.decode(tokenizer("the harbor town").input_ids, skip_special_tokens=True) == "the harbor town"


def test_cache_key_follows_content_not_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Path] = []

    def fake_dequantize(gguf_path: Path, out: Path) -> None:
        built.append(gguf_path)
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(gguf_source, "dequantize_into", fake_dequantize)
    file = tmp_path / "m.gguf"
    file.write_bytes(b"GGUF" + b"a" * 100)
    first = resolve_model(str(file)).path
    file.touch()
    assert resolve_model(str(file)).path == first and len(built) == 1
    file.write_bytes(b"GGUF" + b"b" * 100)
    assert resolve_model(str(file)).path != first and len(built) == 2


def test_bad_gguf_file_is_a_model_load_error(tmp_path: Path) -> None:
    file = tmp_path / "broken.gguf"
    file.write_bytes(b"not a gguf file")
    with pytest.raises(ModelLoadError, match=r"cannot load GGUF file .*broken\.gguf"):
        resolve_model(str(file))
    assert not list((models_dir() / "gguf").glob("broken-*"))


def test_gguf_is_llm_only(tmp_path: Path) -> None:
    file = tmp_path / "m.gguf"
    file.write_bytes(b"GGUF")
    with pytest.raises(ModelLoadError, match="is a 'llm' model"):
        resolve_model(str(file), kind="diffusion")
