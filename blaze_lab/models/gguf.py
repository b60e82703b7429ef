"""GGUF files: dequantize once with transformers, cache the result as a safetensors model directory.

Loading a GGUF through transformers dequantizes every tensor (~13 s for SmolLM2-135M on CPU); the dequantized
model cannot be saved as is ("quantized with gguf and is not serializable"), but after dropping the GGUF
quantizer marker it saves as plain safetensors and reloads in ~1 s (on a 2-core CPU). So each GGUF file is
converted once, into ``<cache>/models/gguf/<stem>-<key>``, keyed by file name, size and a hash of its first MiBs
(not mtime: a copied file keeps its cache entry).

Example:
    >>> from blaze_lab.models.gguf import dequantize_to_cache
    >>> path = dequantize_to_cache(Path("SmolLM2-135M-Instruct.Q4_1.gguf"))     # doctest: +SKIP
    >>> sorted(p.name for p in path.iterdir())[:2]                              # doctest: +SKIP
    ['.blaze_model.json', 'config.json']
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blaze_lab.errors import ModelLoadError
from blaze_lab.models.cache import materialize, models_dir

log = logging.getLogger(__name__)

_HASH_BYTES = 8 * 1024 * 1024  # header, metadata and the first tensors: enough to tell two GGUF files apart


def file_key(path: Path) -> str:
    """Stable cache key of a GGUF file: sha256 over its name, size and first 8 MiB, 16 hex digits.

    Example:
        >>> import tempfile, os
        >>> with tempfile.NamedTemporaryFile(suffix=".gguf") as f:
        ...     len(file_key(Path(f.name)))
        16
    """
    digest = hashlib.sha256()
    digest.update(path.name.encode())
    digest.update(str(path.stat().st_size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(_HASH_BYTES))
    return digest.hexdigest()[:16]


def cached_path(path: Path) -> Path:
    """Where the dequantized copy of the GGUF file ``path`` lives (whether or not it exists yet)."""
    return models_dir() / "gguf" / f"{path.stem}-{file_key(path)}"


def dequantize_into(gguf_path: Path, out: Path, *, padding_side: str = "left") -> None:
    """Load ``gguf_path`` with transformers (dequantizing to fp32) and save model + tokenizer into ``out``.

    The tokenizer is saved with ``padding_side="left"`` and a pad token (eos when the file has none), which is
    what batched decoder-only generation needs.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory, name = str(gguf_path.parent), gguf_path.name
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
        tokenizer: Any = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    except Exception as exc:  # transformers raises many types for a bad or unsupported file
        raise ModelLoadError(f"cannot load GGUF file {gguf_path}: {type(exc).__name__}: {exc}") from exc
    # The weights are plain fp32 tensors now; the GGUF quantizer marker only blocks save_pretrained.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    _patch_tokenizer_config(out, padding_side, getattr(model.config, "max_position_embeddings", None))


def _patch_tokenizer_config(out: Path, padding_side: str, max_length: int | None) -> None:
    # Setting tokenizer.padding_side after loading is not persisted by save_pretrained (transformers 5), and a
    # GGUF tokenizer has no model_max_length; write both so every later load gets them.
    config_file = out / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config["padding_side"] = padding_side
    if max_length:
        config["model_max_length"] = int(max_length)
    for key in ("is_local", "local_files_only"):  # loader state that leaked into the saved file
        config.pop(key, None)
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def dequantize_to_cache(
    gguf_path: Path,
    *,
    target: Path | None = None,
    meta: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Return a cached safetensors directory for ``gguf_path``, converting it on first use (atomically).

    Example:
        >>> dequantize_to_cache(Path("model.Q4_1.gguf"))        # doctest: +SKIP
        PosixPath('/root/.cache/blaze_lab/models/gguf/model.Q4_1-3f2a...')
    """
    if not gguf_path.is_file():
        raise ModelLoadError(f"GGUF file not found: {gguf_path}")
    target = target if target is not None else cached_path(gguf_path)
    info = {"source": "gguf", "gguf_file": gguf_path.name, "kind": "llm", **(meta or {})}

    def build(tmp: Path) -> None:
        (progress or log.info)(f"dequantizing {gguf_path.name} to safetensors (once) -> {target}")
        dequantize_into(gguf_path, tmp)

    return materialize(target, build, info)


__all__ = ["cached_path", "dequantize_into", "dequantize_to_cache", "file_key"]
