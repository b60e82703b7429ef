"""Dynamic batching of diffusion requests: same run-time settings → one pipeline call, up to a size and a wait.

Requests whose configs are identical apart from the prompt and seed (same scheduler, steps, size, slicing, guidance
…) can share one pipeline call: the prompts go in as a list, each image keeps its own seeded generator, so a
request's image does not depend on who it was batched with. A group is dispatched when ``max_batch`` requests wait
or when its oldest request has waited ``max_wait_s``, whichever comes first. All deadlines are read from the
injected :class:`~blaze_lab.clock.Clock`: tests and simulations drive it with a ``VirtualClock`` and never sleep.

The batcher is synchronous and sans-IO: ``submit`` enqueues, ``dispatch_due`` runs every group that is due now,
``next_deadline`` says when the next one will be, and :func:`replay` drives the three from an arrival list
(``clock.sleep_sync`` between events; a VirtualClock advances, a RealClock really waits).

Per request (``records``): submit time, dispatch time, completion time, ``queue_wait_s`` (submit → dispatch),
``latency_s`` (submit → completion), the batch it ran in and its size.

Example:
    >>> from blaze_lab.clock import VirtualClock
    >>> clock = VirtualClock()
    >>> def run(cfg, prompts, seeds):             # a stand-in for the pipeline: 0.5 s per call
    ...     clock.advance(0.5)
    ...     return [f"img-{s}" for s in seeds]
    >>> batcher = DiffusionBatcher(run, BatchingConfig(max_batch=2, max_wait_s=0.1), clock=clock)
    >>> cfg = DiffusionConfig(steps=2)
    >>> ids = [batcher.submit("a", cfg, seed=1), batcher.submit("b", cfg, seed=2)]   # full: due now
    >>> [r.batch_size for r in batcher.dispatch_due()]
    [2, 2]
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

from blaze_lab.clock import Clock, RealClock
from blaze_lab.config import BaseConfig, check_int, check_number, stable_hash
from blaze_lab.engines.diffusion_config import DiffusionConfig

# A clock that slept "until the deadline" can land a few ulps short of it (t + (d - t) != d in floats): a group
# that is due within this margin counts as due, so a driver loop never spins on a 1e-17 s remainder.
_EPS_S = 1e-9

# (config, prompts, seeds) -> one output per request, in order.
BatchRunner = Callable[[DiffusionConfig, list[str], list[int]], Sequence[Any]]


@dataclasses.dataclass(frozen=True)
class BatchingConfig(BaseConfig):
    """When a group of compatible requests is dispatched.

    Attributes:
        max_batch: requests per pipeline call at most (each request is ``batch_size`` images of its config).
        max_wait_s: the oldest request of a group waits at most this long before its group is dispatched.
    """

    PREFIX = "diffusion_batching"

    max_batch: int = 4
    max_wait_s: float = 0.05

    def validate(self) -> None:
        check_int(self, "max_batch", minimum=1)
        check_number(self, "max_wait_s", minimum=0)


@dataclasses.dataclass
class RequestRecord:
    """One request's life: when it was submitted, dispatched and done, and the batch it ran in."""

    request_id: str
    group_key: str
    prompt: str
    seed: int
    submitted_s: float
    dispatched_s: float = float("nan")
    completed_s: float = float("nan")
    batch_id: int = -1
    batch_size: int = 0
    output: Any = None

    @property
    def queue_wait_s(self) -> float:
        return self.dispatched_s - self.submitted_s

    @property
    def latency_s(self) -> float:
        return self.completed_s - self.submitted_s

    def row(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "group_key": self.group_key,
            "seed": self.seed,
            "batch_id": self.batch_id,
            "batch_size": self.batch_size,
            "submitted_s": self.submitted_s,
            "queue_wait_s": self.queue_wait_s,
            "latency_s": self.latency_s,
        }


def group_key(config: DiffusionConfig) -> str:
    """Requests with equal keys can share a call: every config field except the prompt and the seed."""
    fields = {k: v for k, v in config.to_dict().items() if k not in ("prompt", "seed")}
    return stable_hash(fields)


class DiffusionBatcher:
    """Groups compatible requests and runs each group through ``run`` (see the module docstring)."""

    def __init__(self, run: BatchRunner, config: BatchingConfig | None = None, *, clock: Clock | None = None) -> None:
        self.run = run
        self.config = config or BatchingConfig()
        self.clock = clock or RealClock()
        self._queues: OrderedDict[str, list[tuple[RequestRecord, DiffusionConfig]]] = OrderedDict()
        self._ids = itertools.count()
        self._batches = itertools.count()
        self.records: list[RequestRecord] = []

    def submit(self, prompt: str, config: DiffusionConfig, seed: int | None = None) -> str:
        """Queue a request (``seed`` defaults to the config's); returns its id."""
        key = group_key(config)
        record = RequestRecord(
            request_id=f"r{next(self._ids)}",
            group_key=key,
            prompt=prompt,
            seed=config.seed if seed is None else seed,
            submitted_s=self.clock.now(),
        )
        self._queues.setdefault(key, []).append((record, config))
        self.records.append(record)
        return record.request_id

    @property
    def pending(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def next_deadline(self) -> float | None:
        """When the earliest waiting group becomes due (now, if one is already full); None when idle."""
        deadlines = [
            self.clock.now() if len(q) >= self.config.max_batch else q[0][0].submitted_s + self.config.max_wait_s
            for q in self._queues.values()
            if q
        ]
        return min(deadlines) if deadlines else None

    def dispatch_due(self, *, flush: bool = False) -> list[RequestRecord]:
        """Run every group that is due now (all waiting groups with ``flush``); returns the completed records."""
        done: list[RequestRecord] = []
        while True:
            key = self._due_key(flush)
            if key is None:
                return done
            done.extend(self._dispatch(key))

    def _due_key(self, flush: bool) -> str | None:
        now = self.clock.now()
        due = [
            (q[0][0].submitted_s, key)
            for key, q in self._queues.items()
            if q
            and (
                flush or len(q) >= self.config.max_batch or now + _EPS_S >= q[0][0].submitted_s + self.config.max_wait_s
            )
        ]
        return min(due, key=lambda item: item[0])[1] if due else None  # oldest first; ties: first queued

    def _dispatch(self, key: str) -> list[RequestRecord]:
        queue = self._queues[key]
        batch, self._queues[key] = queue[: self.config.max_batch], queue[self.config.max_batch :]
        if not self._queues[key]:
            del self._queues[key]
        batch_id = next(self._batches)
        start = self.clock.now()
        records = [r for r, _ in batch]
        outputs = self.run(batch[0][1], [r.prompt for r in records], [r.seed for r in records])
        end = self.clock.now()
        for record, output in zip(records, outputs, strict=True):
            record.dispatched_s, record.completed_s = start, end
            record.batch_id, record.batch_size, record.output = batch_id, len(records), output
        return records

    def frame(self) -> pd.DataFrame:
        """One row per request: ids, batch, ``queue_wait_s`` and ``latency_s``."""
        return pd.DataFrame([r.row() for r in self.records])


def replay(
    batcher: DiffusionBatcher, arrivals: Iterable[tuple[float, str, DiffusionConfig, int]]
) -> list[RequestRecord]:
    """Submit ``(arrival_s, prompt, config, seed)`` requests at their times and serve them all; returns the records.

    Time moves with ``batcher.clock.sleep_sync`` to the next arrival or group deadline, whichever is first.
    """
    pending = sorted(arrivals, key=lambda a: a[0])
    clock = batcher.clock
    i = 0
    while i < len(pending) or batcher.pending:
        deadline = batcher.next_deadline()
        arrival = pending[i][0] if i < len(pending) else None
        target = min(t for t in (deadline, arrival) if t is not None)
        if target > clock.now():
            clock.sleep_sync(target - clock.now())
        while i < len(pending) and pending[i][0] <= clock.now():
            _, prompt, config, seed = pending[i]
            batcher.submit(prompt, config, seed)
            i += 1
        batcher.dispatch_due()
    return batcher.records


def engine_runner(engine: Any) -> BatchRunner:
    """A :data:`BatchRunner` over a :class:`~blaze_lab.engines.diffusion.DiffusionEngine`: one instrumented call
    per batch; each request gets its ``batch_size`` images (``uint8`` arrays)."""

    def run(config: DiffusionConfig, prompts: list[str], seeds: list[int]) -> list[list[Any]]:
        loaded = engine.prepare(config)
        images = engine.run_call(loaded, config, prompts, seeds).images
        per = config.batch_size
        return [images[i * per : (i + 1) * per] for i in range(len(prompts))]

    return run


__all__ = [
    "BatchRunner",
    "BatchingConfig",
    "DiffusionBatcher",
    "RequestRecord",
    "engine_runner",
    "group_key",
    "replay",
]
