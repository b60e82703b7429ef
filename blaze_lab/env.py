"""Environment fingerprint: what a result was measured on, as one flat dict of ``env.*`` columns.

Example:
    >>> from blaze_lab.env import fingerprint
    >>> fp = fingerprint()
    >>> sorted(k for k in fp if k.startswith("env.python"))
    ['env.python']
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

_PACKAGES = (
    "torch",
    "transformers",
    "diffusers",
    "accelerate",
    "bitsandbytes",
    "torchao",
    "optimum-quanto",
    "papermill",
    "pandas",
)


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_sha(path: str | os.PathLike[str] | None = None) -> str | None:
    """Short git sha of the checkout holding ``path`` (default: this package), with ``+dirty`` if modified."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def _static() -> dict[str, Any]:
    import psutil

    fp: dict[str, Any] = {
        "env.python": platform.python_version(),
        "env.platform": platform.platform(),
        "env.hostname": platform.node(),
        "env.cpu": _cpu_name(),
        "env.cpu_count": os.cpu_count(),
        "env.ram_bytes": psutil.virtual_memory().total,
        "env.git_sha": git_sha(),
    }
    for name in _PACKAGES:
        fp[f"env.{name.replace('-', '_')}"] = package_version(name)
    fp.update(_device_info())
    return fp


def _device_info() -> dict[str, Any]:
    info: dict[str, Any] = {"env.device": "cpu", "env.gpu_name": None, "env.gpu_count": 0, "env.cuda": None}
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return info
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(
            {
                "env.device": "cuda",
                "env.gpu_name": props.name,
                "env.gpu_count": torch.cuda.device_count(),
                "env.gpu_memory_bytes": props.total_memory,
                "env.cuda": torch.version.cuda,
            }
        )
        info["env.driver"] = _nvml_driver()
    return info


def _nvml_driver() -> str | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            value = pynvml.nvmlSystemGetDriverVersion()
            return value.decode() if isinstance(value, bytes) else str(value)
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # NVML absent or not usable: the column stays empty, never a failure
        return None


def fingerprint() -> dict[str, Any]:
    """A flat dict of ``env.*`` facts (computed once per process)."""
    return dict(_static())


__all__ = ["fingerprint", "git_sha", "package_version"]
