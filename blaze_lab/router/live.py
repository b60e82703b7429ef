"""Live mode: an experiment config run in real time over in-process fake or real engines.

Same workload, fault schedule and router as the simulation, but the replicas are
:class:`~blaze_lab.replicas.fake.FakeEngine` s sleeping their service times on a real clock (scaled by
``time_scale``) or, with ``replica_engine="llm"``, real LLM engines
(:class:`~blaze_lab.replicas.llm_replica.LLMReplica`, whose service model is measured at start); a crash really
kills an engine and the :class:`~blaze_lab.replicas.manager.EngineManager` restarts it. Times in the ledger are
model seconds (real seconds / ``time_scale``) so live and simulated runs compare directly.

Example:
    >>> from blaze_lab.router.config import RouterExperimentConfig
    >>> res = run_live(RouterExperimentConfig(mode="live", replicas=2, n_requests=50, time_scale=0.01))
    >>> len(res.ledger), res.lost
    (50, 0)
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.clock import Clock, RealClock, VirtualClock
from blaze_lab.errors import BlazeLabError
from blaze_lab.load.requests import Request, iter_requests
from blaze_lab.replicas.fake import FakeEngine
from blaze_lab.replicas.manager import EngineManager
from blaze_lab.replicas.service import ServiceModel
from blaze_lab.router.config import RouterConfig, RouterExperimentConfig
from blaze_lab.router.experiment import count_crashes, experiment_columns, experiment_faults, experiment_model
from blaze_lab.router.faults import inject
from blaze_lab.router.router import Router


@dataclasses.dataclass
class LiveResult:
    """A live run: the ledger (model seconds), transitions, per-replica load, manager events and counts."""

    ledger: pd.DataFrame
    transitions: pd.DataFrame
    replicas: pd.DataFrame
    manager_events: pd.DataFrame
    duration_s: float
    answered: int
    typed_errors: int
    lost: int
    max_waiting: int
    crashes: int = 0  # crash events injected while requests ran
    reference_s: float = math.nan  # the service model's reference time (measured for real engine replicas)


def run_live(
    cfg: RouterExperimentConfig, clock: Clock | None = None, replica_factory: Callable[..., Any] | None = None
) -> LiveResult:
    """Run ``cfg`` live (blocking; starts its own event loop). With a :class:`~blaze_lab.clock.VirtualClock` the
    same asyncio code runs in virtual time (deterministic, no real waiting: what the tests use).

    ``replica_factory(name, **FakeEngine keyword arguments)`` builds each fake replica (default: an in-process
    ``FakeEngine``; ``blaze_lab.router.ray_replicas.ray_fake_replica`` puts each one in a Ray actor); unused with
    ``replica_engine="llm"``."""
    return asyncio.run(run_live_async(cfg, clock or RealClock(), replica_factory))


async def run_live_async(
    cfg: RouterExperimentConfig, clock: Clock, replica_factory: Callable[..., Any] | None = None
) -> LiveResult:
    # A full garbage collection walks every live object; in a kernel that imported torch that is a pause of a few
    # hundred ms, long enough to turn a run into a burst of overdue arrivals (a real overload, but one caused by
    # the harness). Freezing the objects that exist before the run keeps collections during the run short.
    gc.collect()
    gc.freeze()
    try:
        return await _run_live(cfg, clock, replica_factory or FakeEngine)
    finally:
        gc.unfreeze()


async def _drive_virtual(clock: VirtualClock) -> None:
    """Advance a virtual clock to its next deadline whenever the loop has run out of ready work.

    Twenty yields let every chain of zero-time work (an answer → the core → the next dispatch) settle first, so a
    live run on a virtual clock is deterministic and takes no real time.
    """
    while True:
        for _ in range(20):
            await asyncio.sleep(0)
        deadline = clock.next_deadline()
        if deadline is not None:
            clock.advance_to(deadline)


async def _run_live(cfg: RouterExperimentConfig, clock: Clock, make_replica: Callable[..., Any]) -> LiveResult:
    driver = asyncio.create_task(_drive_virtual(clock)) if isinstance(clock, VirtualClock) else None
    try:
        return await _run_live_inner(cfg, clock, make_replica)
    finally:
        if driver is not None:
            driver.cancel()
            await asyncio.gather(driver, return_exceptions=True)


async def _run_live_inner(cfg: RouterExperimentConfig, clock: Clock, make_replica: Callable[..., Any]) -> LiveResult:
    scale = cfg.time_scale
    speeds = cfg.replica_speeds()
    if cfg.replica_engine == "llm":
        engines: list[Any] = [_llm_replica(cfg, i, clock) for i in range(cfg.replicas)]
    else:
        model = experiment_model(cfg)
        engines = [
            make_replica(f"r{i}", clock=clock, model=model, speed=s, slots=cfg.replica_slots, time_scale=scale,
                         start_s=0.1, warmup_s=0.5, warmup_factor=2.0, seed=cfg.seed, index=i,
                         cache_tokens=cfg.kv_cache_tokens, block_tokens=cfg.block_tokens)
            for i, s in enumerate(speeds)
        ]
    # Restart attempts every 0.1-0.2 model s: a crash fault's replica comes back within ~0.3 s of its window's end
    # (detection + backoff + start), close to the simulator's restart at the window end.
    manager = EngineManager(engines, clock, check_interval_s=0.05 * scale, backoff_s=0.1 * scale,
                            max_backoff_s=0.2 * scale, max_restarts=1000)
    await manager.start()
    if cfg.replica_engine == "llm":
        # A real engine's speed is the machine's: measure it, so the offered load and the "x" time knobs mean on
        # any machine what they mean in simulation.
        model = await measure_service_model(engines)
    columns, rate = experiment_columns(cfg, model)
    router_cfg = _scaled(cfg.router_config(model.reference_s), scale)
    router = Router(router_cfg, engines, clock, seed=cfg.seed)
    outcomes = {"answered": 0, "typed": 0}

    async def one(req: Any) -> None:
        try:
            await router.submit(req)
            outcomes["answered"] += 1
        except BlazeLabError:
            outcomes["typed"] += 1

    duration = cfg.n_requests / rate
    t0 = clock.now()
    await router.start()
    fault_schedule = experiment_faults(cfg, duration, model)
    faults = asyncio.create_task(inject(engines, fault_schedule, clock, scale))
    tasks = []
    for req in iter_requests(columns):
        delay = t0 + req.arrival_s * scale - clock.now()
        if delay > 0:
            await clock.sleep(delay)
        req.arrival_s = (clock.now() - t0) / scale
        tasks.append(asyncio.create_task(one(req)))
    await asyncio.gather(*tasks)
    elapsed = (clock.now() - t0) / scale
    faults.cancel()
    await asyncio.gather(faults, return_exceptions=True)
    await router.stop()
    await manager.stop()
    ledger = _unscale(router.ledger(), t0, scale)
    transitions = router.transitions()
    transitions["time_s"] = (transitions["time_s"] - t0) / scale
    events = manager.events_frame()
    events["time_s"] = (events["time_s"] - t0) / scale
    events["recovery_s"] = events["recovery_s"] / scale
    answered, typed = outcomes["answered"], outcomes["typed"]
    return LiveResult(
        ledger=ledger,
        transitions=transitions,
        replicas=router.core.replica_stats().assign(speed=speeds),
        manager_events=events,
        duration_s=elapsed,
        answered=answered,
        typed_errors=typed,
        lost=cfg.n_requests - answered - typed,
        max_waiting=router.core.max_waiting,
        # Crashes that happened: a scheduled crash after the last answer (the schedule runs on) is not counted.
        crashes=count_crashes([e for e in fault_schedule if e.time_s <= elapsed]),
        reference_s=model.reference_s,
    )


def _llm_replica(cfg: RouterExperimentConfig, index: int, clock: Clock) -> Any:
    from blaze_lab.replicas.llm_replica import LLMReplica  # local: loads torch/transformers only when used

    return LLMReplica.from_model(f"r{index}", cfg.llm_model, clock=clock, new_tokens=cfg.llm_new_tokens,
                                 seed=cfg.seed, index=index)


async def measure_service_model(engines: Sequence[Any], warmup: int = 3, samples: int = 10) -> ServiceModel:
    """The service model of real replicas: requests timed with every replica busy at once (``warmup`` rounds untimed).

    Each round submits one request to every replica together and times each. Why together: the replicas of one
    live run share this process's cores (and the GIL), so a request on an idle fleet is several times faster than
    one while the others work — measured alone (4 ms for the tiny model on 2 cores), a nominal load of 0.3 offered
    ~3x what three busy replicas could serve and 82% of the requests timed out. A replica runs one request at a
    time, so ``per_request_s`` is the base time itself (capacity = 1 / base per replica); the base is the median.
    """
    times: list[float] = []

    async def timed(engine: Any, request_id: int) -> float:
        t0 = time.perf_counter()
        await engine.submit(Request(request_id))
        return time.perf_counter() - t0

    for i in range(warmup + samples):
        round_times = await asyncio.gather(*(timed(e, -1 - i * len(engines) - j) for j, e in enumerate(engines)))
        if i >= warmup:
            times.extend(round_times)
    base = float(np.median(times))
    cv = float(np.std(times) / np.mean(times)) if len(times) > 1 else 0.0
    return ServiceModel(base_s=base, per_request_s=base, cv=cv)


def _scaled(rc: RouterConfig, scale: float) -> RouterConfig:
    """The router config with every duration in real seconds."""
    return rc.replace(
        hedge_delay_s=rc.hedge_delay_s * scale,
        queue_timeout_s=rc.queue_timeout_s * scale,
        attempt_timeout_s=rc.attempt_timeout_s * scale,
        retry_backoff_s=rc.retry_backoff_s * scale,
        retry_backoff_max_s=rc.retry_backoff_max_s * scale,
        breaker=rc.breaker.replace(open_s=rc.breaker.open_s * scale, max_open_s=rc.breaker.max_open_s * scale,
                                   slow_call_s=rc.breaker.slow_call_s * scale),
        health=rc.health.replace(interval_s=rc.health.interval_s * scale, timeout_s=rc.health.timeout_s * scale,
                                 eject_s=rc.health.eject_s * scale),
    )


def _unscale(df: pd.DataFrame, t0: float, scale: float) -> pd.DataFrame:
    df = df.copy()
    df["finish_s"] = (df["finish_s"] - t0) / scale
    df["arrival_s"] = df["finish_s"] - df["latency_s"] / scale
    for col in ("queue_wait_s", "latency_s", "ttft_s"):
        df[col] = df[col] / scale
    return df


__all__ = ["LiveResult", "measure_service_model", "run_live", "run_live_async"]
