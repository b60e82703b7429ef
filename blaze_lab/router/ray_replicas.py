"""Router replicas living in Ray actors: a routing experiment whose engines run on other processes or machines.

:class:`RayReplica` implements the :class:`~blaze_lab.engines.base.Replica` protocol the live router and the
:class:`~blaze_lab.replicas.manager.EngineManager` use (``name``, ``status``, async ``start/stop/health/submit``)
as an adapter around a Ray actor handle (:class:`EngineActor`), so the router code is unchanged. The actor builds
its engine from a picklable factory *inside* the actor (on whichever node Ray places it: normally one actor per
GPU, ``actor_options={"num_gpus": 1}``) and every call is ``await actor.method.remote(...)``.

- ``status`` is synchronous in the protocol, so the adapter caches the engine's status from every answer (start,
  health, submit) instead of asking the actor on each read.
- Engine errors cross the process boundary as (type name, message) and are raised again as the same
  :mod:`blaze_lab.errors` type, so the ledger's ``error_type`` is the same as with in-process replicas.
- A dead actor (its process or node died) makes the replica FAILED; the manager's restart (``stop`` + ``start``)
  then creates a fresh actor, wherever Ray can place it.
- Fault events (:meth:`RayReplica.apply_fault`), the fault knobs (``error_rate``, ``added_s``, ``slowdown``,
  ``hung``) and ``crash()`` are forwarded to the actor's engine, so the live mode's fault schedules apply
  unchanged (the engine applies them to its own fault state on its own clock).

Example (needs a running cluster; ``run_live`` with ``replica_factory``)::

    import ray
    from blaze_lab.router.live import run_live
    ray.init(address="127.0.0.1:6379")
    res = run_live(RouterExperimentConfig(mode="live", replicas=2, n_requests=100),
                   replica_factory=ray_fake_replica)
    res.ledger.columns  # the same columns as with in-process replicas
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

from blaze_lab import errors
from blaze_lab.clock import Clock, RealClock
from blaze_lab.engines.base import EngineStatus
from blaze_lab.errors import BlazeLabError, EngineError, EngineUnavailable

# The settable fault knobs of blaze_lab.replicas.fake.FakeEngine (timed faults travel as events: apply_fault).
FAULT_KNOBS = ("error_rate", "added_s", "slowdown", "hung")


class EngineActor:
    """The actor's body (made a Ray actor by :class:`RayReplica`): one engine built in the actor's process.

    Methods are ``async``, so Ray runs the actor as an asyncio actor and concurrent ``submit`` calls overlap like
    they do on an in-process engine.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.engine = factory()

    def _status(self) -> str:
        return str(self.engine.status.value)

    async def start(self) -> str:
        await self.engine.start()
        return self._status()

    async def stop(self) -> str:
        await self.engine.stop()
        return self._status()

    async def health(self) -> tuple[bool, str]:
        return bool(await self.engine.health()), self._status()

    async def submit(self, request: Any) -> tuple[str, Any, str]:
        """("ok", answer, status) or ("error", (type name, message), status): errors keep their blaze_lab type."""
        try:
            answer = await self.engine.submit(request)
        except BlazeLabError as exc:
            return "error", (type(exc).__name__, str(exc)), self._status()
        return "ok", answer, self._status()

    async def configure(self, knobs: Mapping[str, Any]) -> str:
        for name, value in knobs.items():
            if name in FAULT_KNOBS:
                setattr(self.engine, name, value)
        return self._status()

    async def apply_fault(self, event: Any) -> str:
        # Applied on the engine's own clock (the driver's clock is another process's).
        self.engine.apply_fault(event)
        return self._status()

    async def crash(self) -> str:
        self.engine.crash()
        return self._status()

    async def info(self) -> dict[str, Any]:
        import ray

        return {
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "served": getattr(self.engine, "served", None),
            "status": self._status(),
        }


class RayReplica:
    """A :class:`~blaze_lab.engines.base.Replica` whose engine lives in a Ray actor (see the module docstring).

    ``factory`` must be picklable (a class, or ``functools.partial`` of one) and builds the engine in the actor.

    Example:
        >>> from blaze_lab.replicas.fake import FakeEngine
        >>> replica = RayReplica("r0", functools.partial(FakeEngine, "r0", base_s=0.01))  # doctest: +SKIP
        >>> await replica.start(); await replica.submit(request)  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str,
        factory: Callable[[], Any],
        *,
        actor_options: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
        time_scale: float = 1.0,
    ) -> None:
        self.name = name
        self.factory = factory
        # An asyncio actor needs no CPU while it waits; num_cpus=0 lets tiny clusters host many replicas.
        self.actor_options = {"num_cpus": 0, **dict(actor_options or {})}
        self.clock = clock or RealClock()
        self.time_scale = time_scale
        self.actor: Any = None
        self.actors_created = 0
        self._status = EngineStatus.INITIALIZING
        self._knobs: dict[str, Any] = {}
        self._configuring: list[Any] = []

    # -- fault knobs (the live fault injector sets attributes on engines) ----------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name in FAULT_KNOBS:
            return self.__dict__.get("_knobs", {}).get(name, 0.0 if name != "slowdown" else 1.0)
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in FAULT_KNOBS:
            self._knobs[name] = value
            if self.actor is not None:
                # Sent now, awaited before the next call: Ray does not promise that an async actor starts calls
                # in submission order, and a request must not overtake the fault meant to hit it.
                self._configuring.append(self.actor.configure.remote({name: value}))
            return
        super().__setattr__(name, value)

    def apply_fault(self, event: Any) -> None:
        """Forward a fault event to the engine in the actor (a crash also marks this replica FAILED now)."""
        if event.kind == "crash" and event.on:
            self._status = EngineStatus.FAILED
        if self.actor is not None:
            self._configuring.append(self.actor.apply_fault.remote(event))

    def crash(self) -> None:
        """Crash the engine in the actor (a live fault); the replica is FAILED until the manager restarts it."""
        self._status = EngineStatus.FAILED
        if self.actor is not None:
            self._configuring.append(self.actor.crash.remote())

    # -- Replica protocol ----------------------------------------------------------------------------------
    @property
    def status(self) -> EngineStatus:
        return self._status

    async def start(self) -> None:
        """Start the engine, creating the actor first when there is none or it died."""
        import ray

        if self.actor is None:
            self._spawn()
        await self._settle()
        try:
            self._status = EngineStatus(await self.actor.start.remote())
        except ray.exceptions.RayActorError:
            self._spawn()  # the actor died since the last call: replace it
            self._status = EngineStatus(await self.actor.start.remote())
        if self._knobs:
            await self.actor.configure.remote(dict(self._knobs))

    async def stop(self) -> None:
        import ray

        if self.actor is None:
            return
        await self._settle()
        try:
            self._status = EngineStatus(await self.actor.stop.remote())
        except ray.exceptions.RayActorError:
            self.actor = None  # dead already; start() creates a new one
            self._status = EngineStatus.STOPPED

    async def _settle(self) -> None:
        """Wait until fault knobs set so far have reached the actor."""
        pending, self._configuring = self._configuring, []
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def health(self) -> bool:
        import ray

        if self.actor is None:
            return False
        await self._settle()
        ref = self.actor.health.remote()
        try:
            ok, status = await ref
        except asyncio.CancelledError:
            # The health checker timed out (a hung engine): cancel the check in the actor too, or every hung check
            # would stay pending there until the actor's concurrency limit refuses all calls.
            ray.cancel(ref)
            raise
        except ray.exceptions.RayActorError:
            self._status = EngineStatus.FAILED
            return False
        self._status = EngineStatus(status)
        return bool(ok)

    async def submit(self, request: Any) -> Any:
        import ray

        if self.actor is None or not self._status.accepts_requests:
            raise EngineUnavailable(f"{self.name} is {self._status.value}")
        if self._configuring:
            await self._settle()
        ref = self.actor.submit.remote(request)
        try:
            kind, payload, status = await ref
        except asyncio.CancelledError:
            ray.cancel(ref)  # a hedge loser or timed-out attempt: stop it in the actor too
            raise
        except ray.exceptions.RayActorError as exc:
            self._status = EngineStatus.FAILED
            raise EngineUnavailable(f"{self.name}: actor died ({type(exc).__name__})") from None
        self._status = EngineStatus(status)
        if kind == "error":
            name, message = payload
            error_type = getattr(errors, name, EngineError)
            raise (error_type if isinstance(error_type, type) else EngineError)(message)
        return payload

    # -- extras --------------------------------------------------------------------------------------------
    async def info(self) -> dict[str, Any]:
        """Where the engine runs (``pid``, ``node_id``) and what it served."""
        return dict(await self.actor.info.remote())

    def close(self) -> None:
        """Kill the actor (the engine and its memory go with it)."""
        import ray

        if self.actor is not None:
            ray.kill(self.actor)
            self.actor = None
        self._status = EngineStatus.STOPPED

    def _spawn(self) -> None:
        import ray

        actor_class = ray.remote(EngineActor)
        self.actor = actor_class.options(**self.actor_options).remote(self.factory)
        self.actors_created += 1


def ray_fake_replica(
    name: str, *, clock: Clock | None = None, time_scale: float = 1.0, **engine_kwargs: Any
) -> RayReplica:
    """A :class:`~blaze_lab.replicas.fake.FakeEngine` in a Ray actor; same arguments as ``FakeEngine``.

    It is the ``replica_factory`` of :func:`blaze_lab.router.live.run_live` for live experiments over Ray actors
    (the engine sleeps on its own clock in the actor; ``clock`` stays with the driver).

    Example:
        >>> replica = ray_fake_replica("r0", base_s=0.01, time_scale=0.1)  # doctest: +SKIP
    """
    from blaze_lab.replicas.fake import FakeEngine

    factory = functools.partial(FakeEngine, name, time_scale=time_scale, **engine_kwargs)
    return RayReplica(name, factory, clock=clock, time_scale=time_scale)


__all__ = ["FAULT_KNOBS", "EngineActor", "RayReplica", "ray_fake_replica"]
