"""How a failure becomes a row status: ``unsupported``, ``oom`` or ``error`` — for any exception, never a crash.

Whatever goes wrong for one config must become a row, never a crash of the batch: :func:`classify_failure` maps an
exception to ``unsupported`` (the device or library cannot run this setting), ``oom`` (out of memory, whatever the
exception type: ``MemoryError``, CUDA's ``OutOfMemoryError``, an allocator's RuntimeError) or ``error`` (anything
else), keeping the library's own message (first line, at most 500 characters) as the reason.

Example:
    >>> classify_failure(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    ('oom', 'RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB')
    >>> classify_failure(MemoryError())
    ('oom', 'MemoryError')
    >>> classify_failure(KeyError("x"))
    ('error', "KeyError: 'x'")
"""

from __future__ import annotations

import traceback

from blaze_lab.errors import UnsupportedError

_OOM_MARKERS = ("out of memory", "outofmemoryerror", "cuda error: out of memory", "cannot allocate memory")
_UNSUPPORTED_TYPES = (UnsupportedError, NotImplementedError, ImportError)
_CAPABILITY_ERRORS = (RuntimeError, ValueError, TypeError, AssertionError, AttributeError)


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
    if str(exc).strip() == "":
        reason = type(exc).__name__
    reason = reason.splitlines()[0][:500] if reason else type(exc).__name__
    if is_oom(exc):
        return "oom", reason
    if isinstance(exc, _UNSUPPORTED_TYPES):
        return "unsupported", reason
    if capability_stage and isinstance(exc, _CAPABILITY_ERRORS):
        return "unsupported", reason
    return "error", reason


def failure_detail(exc: BaseException) -> str:
    """Full traceback text (kept in raw logs, not in the one-line ``error`` column)."""
    return "".join(traceback.format_exception(exc))


__all__ = ["classify_failure", "failure_detail", "is_oom"]
