"""Timing: device-synchronized timers and the measurement loop.

On CUDA a region is timed with CUDA events (the GPU's own timeline, no host jitter); on CPU with the injected
clock after a device synchronize. The measurement loop runs warm-up iterations, then measures until it has at
least ``min_iters`` samples and ``min_duration_s`` of measured time, optionally until the bootstrap 95% CI
half-width of the mean falls under ``target_ci_rel`` × mean, and never past ``max_iters`` / ``max_duration_s``.

Example:
    >>> from blaze_lab.clock import VirtualClock
    >>> clock = VirtualClock()
    >>> def step(i):
    ...     clock.advance(0.5)
    ...     return {"latency_s": 0.5}
    >>> settings = MeasureSettings(min_iters=4, target_ci_rel=None)
    >>> out = measure(step, settings, clock=clock, value=lambda r: r["latency_s"])
    >>> len(out.samples), out.stopped_by
    (4, 'min_iters')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from blaze_lab.clock import Clock, RealClock
from blaze_lab.config import BaseConfig, check_int, check_number
from blaze_lab.errors import ConfigError
from blaze_lab.metrics.stats import ci_half_width

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class MeasureSettings(BaseConfig):
    """How long to measure one config.

    Attributes:
        warmup: warm-up calls at least (run first, kept in the raw rows with ``warmup=True``, not summarized);
            0 turns warm-up off (the row then says so in its validity reason).
        warmup_max: warm-up calls at most: warm-up continues until the last calls stop trending
            (:class:`~blaze_lab.metrics.warmup.WarmupRule`) or this many calls ran.
        warmup_max_s: warm-up time cap (seconds of warm-up calls per config).
        min_iters: measured calls at least (5: the smallest n whose t-interval holds its coverage on the
            skewed timing distributions of the coverage harness, see docs/metrics.md).
        max_iters: measured calls at most.
        min_duration_s: measured time at least (short runs are noisy).
        max_duration_s: measured-time cap per config; a config stopped by it before the CI target is
            ``valid=False`` with the achieved half-width in its reason.
        target_ci_rel: stop once the 95% CI half-width of the primary metric's mean is <= this fraction of the
            mean (None: stop at ``min_iters`` / ``min_duration_s``).
    """

    PREFIX = "measure"

    warmup: int = 1
    warmup_max: int = 10
    warmup_max_s: float = 60.0
    min_iters: int = 5
    max_iters: int = 50
    min_duration_s: float = 0.0
    max_duration_s: float = 30.0
    target_ci_rel: float | None = 0.05

    def validate(self) -> None:
        check_int(self, "warmup", minimum=0)
        check_int(self, "warmup_max", minimum=0)
        if self.warmup_max < self.warmup:
            raise ConfigError(
                self.field_name("warmup_max"), self.warmup_max, reason=f"must be >= warmup ({self.warmup})"
            )
        check_number(self, "warmup_max_s", minimum=0)
        check_int(self, "min_iters", minimum=1)
        check_int(self, "max_iters", minimum=1)
        if self.max_iters < self.min_iters:
            raise ConfigError(
                self.field_name("max_iters"), self.max_iters, reason=f"must be >= min_iters ({self.min_iters})"
            )
        check_number(self, "min_duration_s", minimum=0)
        check_number(self, "max_duration_s", minimum=0, strict_min=True)
        if self.target_ci_rel is not None:
            check_number(self, "target_ci_rel", minimum=0, maximum=1, strict_min=True)


@dataclasses.dataclass
class MeasureOutcome(Generic[T]):
    """What the loop measured: one result per measured iteration and why it stopped."""

    samples: list[T]
    duration_s: float
    stopped_by: str  # "min_iters" | "ci_target" | "max_iters" | "time_cap" | "min_duration"


def measure(
    step: Callable[[int], T],
    settings: MeasureSettings | None = None,
    *,
    clock: Clock | None = None,
    value: Callable[[T], float] | None = None,
    on_sample: Callable[[int, T], None] | None = None,
) -> MeasureOutcome[T]:
    """Run ``step(i)`` under the warm-up / min / max / CI stop rules.

    ``value`` extracts the float the CI stop rule looks at (required when ``target_ci_rel`` is set).
    ``on_sample`` is called after every measured iteration (progress bars).
    """
    settings = settings or MeasureSettings()
    clock = clock or RealClock()
    for i in range(settings.warmup):
        step(-1 - i)
    samples: list[T] = []
    values: list[float] = []
    start = clock.now()
    stopped_by = "max_iters"
    for i in range(settings.max_iters):
        result = step(i)
        samples.append(result)
        if on_sample is not None:
            on_sample(i, result)
        if value is not None:
            values.append(float(value(result)))
        elapsed = clock.now() - start
        if elapsed >= settings.max_duration_s:
            stopped_by = "time_cap"
            break
        if len(samples) < settings.min_iters or elapsed < settings.min_duration_s:
            continue
        if settings.target_ci_rel is None:
            stopped_by = "min_duration" if settings.min_duration_s > 0 else "min_iters"
            break
        if len(values) >= 2:
            mean = sum(values) / len(values)
            if mean and ci_half_width(values) / abs(mean) <= settings.target_ci_rel:
                stopped_by = "ci_target"
                break
    return MeasureOutcome(samples=samples, duration_s=clock.now() - start, stopped_by=stopped_by)


class RegionTimer:
    """Times a region on the device: CUDA events on a CUDA device, else the clock after a synchronize.

    >>> t = RegionTimer("cpu")
    >>> with t:
    ...     _ = sum(range(1000))
    >>> t.elapsed_s >= 0
    True
    """

    def __init__(self, device: str = "cpu", clock: Clock | None = None) -> None:
        self.device = device
        self.clock = clock or RealClock()
        self.elapsed_s = float("nan")
        self._events: tuple[Any, Any] | None = None
        self._t0 = 0.0

    @property
    def method(self) -> str:
        return "cuda_event" if self.device.startswith("cuda") else "perf_counter"

    def __enter__(self) -> RegionTimer:
        if self.device.startswith("cuda"):
            import torch

            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            self._events = (start, end)
            start.record()
        else:
            self._t0 = self.clock.now()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._events is not None:
            import torch

            start, end = self._events
            end.record()
            torch.cuda.synchronize()
            self.elapsed_s = start.elapsed_time(end) / 1000.0
        else:
            self.elapsed_s = self.clock.now() - self._t0


def synchronize(device: str) -> None:
    """Wait for queued device work (no-op on CPU)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


__all__ = ["MeasureOutcome", "MeasureSettings", "RegionTimer", "measure", "synchronize"]
