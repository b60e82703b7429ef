"""What a model *is*, as opposed to what it is called: a content hash of its files, plus library versions.

Stored quality references (an fp32 model's next-token distributions, a reference image) are only valid for the
exact weights that produced them. Keying them by the model spec string was wrong: rebuild a model under the same
name and KL / top-1 / greedy match were silently computed against the old model's outputs (top-1 agreement 1.0 →
0.0 in a reproduction). :func:`model_identity` hashes every file of the resolved model directory (weights, config,
tokenizer: sha256 over sorted relative paths and bytes) and adds the versions of the libraries that turn weights
into outputs (torch, transformers, diffusers), so a changed model or a library upgrade recomputes the reference.

Hashing reads the files once per file version: the digest is remembered per (path, size, mtime, inode) in memory
and in ``<cache>/content_hashes.json``, so a 500 MB checkpoint costs ~1 s the first time and nothing afterwards.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "config.json").write_text("{}")
    >>> a = content_hash(d)
    >>> _ = (d / "config.json").write_text('{"x": 1}')
    >>> content_hash(d) != a
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()
_MEMO: dict[str, str] = {}
_LIBRARIES = ("torch", "transformers", "diffusers", "tokenizers", "safetensors")


def _file_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"


def _store() -> Path:
    from blaze_lab.models.cache import cache_dir

    return cache_dir() / "content_hashes.json"


def _load_store() -> dict[str, str]:
    try:
        data = json.loads(_store().read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save_store(entries: dict[str, str]) -> None:
    path = _store()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(entries))
        tmp.replace(path)
    except OSError:  # an unwritable cache only costs re-hashing next time
        pass


def file_hash(path: Path) -> str:
    """sha256 of one file's bytes, remembered per file version."""
    key = _file_key(path)
    with _LOCK:
        if key in _MEMO:
            return _MEMO[key]
        stored = _load_store()
        if key in stored:
            _MEMO[key] = stored[key]
            return stored[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _LOCK:
        _MEMO[key] = value
        stored = _load_store()
        stored[key] = value
        _save_store(stored)
    return value


def content_hash(path: str | Path) -> str:
    """sha256 over a model file or directory: every file's relative path and bytes, in sorted order."""
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        rel = file.name if file == root else str(file.relative_to(root))
        digest.update(rel.encode() + b"\0" + file_hash(file).encode() + b"\n")
    return digest.hexdigest()[:24]


def library_versions() -> dict[str, str]:
    """Versions of the libraries that turn weights into outputs ("" when not installed)."""
    from importlib import metadata

    out: dict[str, str] = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = ""
    return out


def model_identity(path: str | Path, config: dict[str, Any] | None = None) -> str:
    """One key for "these weights, this config, these library versions" (what a stored reference depends on).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "w.bin").write_bytes(b"abc")
    >>> model_identity(d, {"dtype": "fp32"}) != model_identity(d, {"dtype": "bf16"})
    True
    """
    payload = {"content": content_hash(path), "config": config or {}, "libraries": library_versions()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


__all__ = ["content_hash", "file_hash", "library_versions", "model_identity"]
