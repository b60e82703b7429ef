"""The Engine protocol, engine status, and how a failure becomes a row status.

An engine turns a config into measurements. Whatever goes wrong for one config must become a row, never a crash
of the batch: :func:`classify_failure` maps an exception to ``unsupported`` (the device or library cannot run this
setting), ``oom`` (out of memory) or ``error`` (anything else), keeping the library's own message as the reason.

Example:
    >>> classify_failure(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    ('oom', 'RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB')
    >>> EngineStatus.READY.accepts_requests
    True
"""

from __future__ import annotations

import enum
import traceback
from typing import Any, Protocol, runtime_checkable

from blaze_lab.errors import UnsupportedError


class EngineStatus(enum.Enum):
    """Lifecycle of an engine: INITIALIZING → READY ⇄ DEGRADED → FAILED → (recovery) → READY; STOPPED at the end."""

    INITIALIZING = "initializing"
    READY = "ready"
    DEGRADED = "degraded"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def accepts_requests(self) -> bool:
        return self in (EngineStatus.READY, EngineStatus.DEGRADED)


@runtime_checkable
class Engine(Protocol):
    """What every engine offers (LLM, diffusion, fake engines in router tests)."""

    @property
    def status(self) -> EngineStatus: ...

    def health(self) -> dict[str, Any]:
        """A cheap liveness/readiness report: at least ``{"status": EngineStatus, "ok": bool}``."""
        ...

    def close(self) -> None:
        """Release the model and move to STOPPED."""
        ...


_OOM_MARKERS = ("out of memory", "outofmemoryerror", "cuda error: out of memory", "cannot allocate memory")
_UNSUPPORTED_TYPES = (UnsupportedError, NotImplementedError, ImportError)


def is_oom(exc: BaseException) -> bool:
    """True for CUDA/CPU out-of-memory errors, whatever their type."""
    if isinstance(exc, MemoryError):
        return True
    text = f"{type(exc).__name__}: {exc}".lower()
    return any(marker in text for marker in _OOM_MARKERS)


def classify_failure(exc: BaseException, *, capability_stage: bool = False) -> tuple[str, str]:
    """Return ``(status, reason)`` for a failed config.

    ``capability_stage`` is True when the exception came from applying an optional capability (quantization,
    offload, compile, an attention kernel) rather than from running the model: library errors there mean "this
    device/library cannot do it", so they are ``unsupported`` with the library's message.
    """
    reason = f"{type(exc).__name__}: {exc}".strip()
    reason = reason.splitlines()[0][:500] if reason else type(exc).__name__
    if is_oom(exc):
        return "oom", reason
    if isinstance(exc, _UNSUPPORTED_TYPES):
        return "unsupported", reason
    if capability_stage and isinstance(exc, RuntimeError | ValueError | TypeError | AssertionError | AttributeError):
        return "unsupported", reason
    return "error", reason


def failure_detail(exc: BaseException) -> str:
    """Full traceback text (kept in raw logs, not in the one-line ``error`` column)."""
    return "".join(traceback.format_exception(exc))


__all__ = ["Engine", "EngineStatus", "classify_failure", "failure_detail", "is_oom"]
