"""The Replica protocol, engine status, and how a failure becomes a row status.

An engine turns a config into measurements. Whatever goes wrong for one config must become a row, never a crash
of the batch: :func:`classify_failure` (defined in :mod:`blaze_lab.metrics.failures`, used by the one measurement loop,
re-exported here for engines) maps an exception to ``unsupported``, ``oom`` or ``error`` with the library's message.

Example:
    >>> classify_failure(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    ('oom', 'RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB')
    >>> EngineStatus.READY.accepts_requests
    True
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from blaze_lab.errors import UnsupportedError
from blaze_lab.metrics.failures import classify_failure, failure_detail, is_oom

if TYPE_CHECKING:
    from blaze_lab.cache.models import ModelCache


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
class Replica(Protocol):
    """What a managed, routable replica offers: the engine manager restarts it, the router sends it requests.

    In-process fake replicas, blocking engines behind an adapter and remote actors all implement it; the router
    and the manager depend on this protocol only, never on an engine implementation.
    """

    name: str

    @property
    def status(self) -> EngineStatus: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def health(self) -> bool:
        """A cheap liveness/readiness probe."""
        ...

    async def submit(self, request: Any) -> Any: ...


class CachedModelEngine:
    """Lifecycle shared by engines whose models come from a :class:`~blaze_lab.cache.models.ModelCache`.

    Subclasses set ``config`` and ``model_cache``, call :meth:`_init_lifecycle`, and implement
    :meth:`_load_uncached` (``config -> (loaded, nbytes)``). A load that failed is remembered per load-time key and
    re-raised, so the next config of the same group does not retry it; an unsupported setting does not mark the
    engine FAILED (the engine is fine, the setting is not).
    """

    config: Any
    model_cache: ModelCache

    def _init_lifecycle(self) -> None:
        self._status = EngineStatus.INITIALIZING
        self._last_error = ""
        self._failed_loads: dict[tuple[Any, ...], BaseException] = {}

    def _load_uncached(self, config: Any) -> tuple[Any, int]:
        raise NotImplementedError

    @property
    def status(self) -> EngineStatus:
        return self._status

    def health(self) -> dict[str, Any]:
        return {"status": self._status, "ok": self._status.accepts_requests, "error": self._last_error}

    def load(self, config: Any = None) -> Any:
        """Load (or fetch from the model cache) the model for ``config``; raises on failure."""
        cfg = config or self.config
        key = cfg.load_key()
        if key in self._failed_loads:
            raise self._failed_loads[key]
        try:
            loaded = self.model_cache.get_or_load(key, lambda: self._load_uncached(cfg))
        except Exception as exc:
            self._failed_loads[key] = exc
            self._last_error = str(exc)
            if not isinstance(exc, UnsupportedError):
                self._status = EngineStatus.FAILED
            raise
        self._status = EngineStatus.READY
        return loaded

    def forget_failures(self) -> None:
        """Drop the failed-load memo: a restart must try the load again (the memo only spares the configs of
        one sweep group a load that already failed)."""
        self._failed_loads.clear()

    def close(self) -> None:
        """Release the model and move to STOPPED."""
        self.model_cache.evict(self.config.load_key())
        self._status = EngineStatus.STOPPED


__all__ = ["CachedModelEngine", "EngineStatus", "Replica", "classify_failure", "failure_detail", "is_oom"]
