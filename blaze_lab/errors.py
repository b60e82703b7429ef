"""One error tree for blaze_lab.

Every error the library raises on purpose derives from :class:`BlazeLabError`, so a caller can catch the
whole family with one ``except``::

    BlazeLabError
    ├── ConfigError            bad user input: names the field (and file) and the allowed values
    ├── ModelLoadError         a model spec that cannot be resolved or loaded (missing dir, no hub, bad GGUF)
    ├── UnsupportedError       a setting this device/library cannot run -> a status="unsupported" row
    ├── EngineError            failures of a running engine
    │   ├── EngineUnavailable  engine not READY (initializing, failed, stopped)
    │   ├── Overloaded         bounded queue full: backpressure, retry later
    │   ├── CircuitOpenError   the breaker refuses the call
    │   └── RequestTimeout     a request exceeded its deadline
    ├── CacheError             a cache tier failed (degraded to lower tiers, counted)
    ├── SweepError             a sweep cannot start or a group cannot be run
    │   └── ClusterUnavailable the executor's cluster cannot be reached
    └── ReportError            results missing or unreadable when building a report

Example:
    >>> from blaze_lab.errors import ConfigError, BlazeLabError
    >>> try:
    ...     raise ConfigError("llm.quantization", "int3", allowed=["none", "bnb-8bit"])
    ... except BlazeLabError as exc:
    ...     print(exc)
    llm.quantization: invalid value 'int3'; allowed: none, bnb-8bit
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable


class BlazeLabError(Exception):
    """Base of every error raised on purpose by blaze_lab."""


def short_repr(value: object) -> str:
    """``repr`` bounded in length and depth: an error message must stay one short line whatever the value.

    >>> short_repr("x" * 500)[:12], len(short_repr("x" * 500)) < 130
    ("'xxxxxxxxxxx", True)
    >>> short_repr([[1, 2]] * 100)
    '[[1, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2], ...]'
    """
    return _REPR.repr(value)


_REPR = reprlib.Repr()
_REPR.maxstring = 120
_REPR.maxother = 120
_REPR.maxlong = 80
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 8
_REPR.maxlevel = 3


class ConfigError(BlazeLabError, ValueError):
    """Invalid configuration: the message names the field and what is allowed.

    ``ConfigError(field, value, allowed=..., reason=...)`` builds a one-line message; ``ConfigError(message)``
    with a single argument keeps the message as given (used when the caller already formatted it).
    """

    def __init__(
        self,
        field: str,
        value: object = ...,
        *,
        allowed: Iterable[object] | None = None,
        reason: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.allowed = list(allowed) if allowed is not None else None
        self.reason = reason
        if value is ... and allowed is None and reason is None:
            message = field
        else:
            parts = [f"{field}: invalid value {short_repr(value)}" if value is not ... else f"{field}: invalid"]
            if reason:
                parts.append(reason)
            if self.allowed is not None:
                parts.append("allowed: " + ", ".join(str(a) for a in self.allowed))
            message = "; ".join(parts)
        super().__init__(message)


class ModelLoadError(BlazeLabError):
    """A model spec could not be resolved or loaded."""


class UnsupportedError(BlazeLabError):
    """This device or library cannot run the requested setting (becomes a ``status="unsupported"`` row)."""


class EngineError(BlazeLabError):
    """A running engine failed a request."""


class EngineUnavailable(EngineError):
    """The engine is not READY (initializing, failed or stopped)."""


class Overloaded(EngineError):
    """A bounded queue is full; the caller should back off."""


class CircuitOpenError(EngineError):
    """The circuit breaker refuses calls to this replica."""


class RequestTimeout(EngineError):
    """A request exceeded its deadline."""


class CacheError(BlazeLabError):
    """A cache tier failed; callers degrade to the other tiers."""


class SweepError(BlazeLabError):
    """A sweep could not start, or a group could not run."""


class ClusterUnavailable(SweepError):
    """The executor's cluster could not be reached."""


class ReportError(BlazeLabError):
    """Results are missing or unreadable when building a report."""


__all__ = [
    "BlazeLabError",
    "CacheError",
    "CircuitOpenError",
    "ClusterUnavailable",
    "ConfigError",
    "EngineError",
    "EngineUnavailable",
    "ModelLoadError",
    "Overloaded",
    "ReportError",
    "RequestTimeout",
    "SweepError",
    "UnsupportedError",
]
