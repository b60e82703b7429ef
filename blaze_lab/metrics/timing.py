"""Timing: device-synchronized timers and the measurement settings.

On CUDA a region is timed with CUDA events (the GPU's own timeline, no host jitter); on CPU with the injected
clock after a device synchronize. :class:`MeasureSettings` says how long to measure one config; the loop that
applies it — warm-up until stable, interleaved rounds, the CI stop rule — is :func:`blaze_lab.metrics.loop.run_configs`
(the only per-run loop in the library).

Example:
    >>> MeasureSettings(min_iters=5, target_ci_rel=0.05).max_duration_s
    30.0
    >>> MeasureSettings(min_iters=0)
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: measure.min_iters: invalid value 0; must be >= 1
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from blaze_lab.clock import Clock, RealClock
from blaze_lab.config import BaseConfig, check_int, check_number
from blaze_lab.errors import ConfigError

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
        min_iters: measured calls at least (10: with the CI stop rule on, stopping at the first n whose
            half-width meets the target lowers the reported CI's coverage to ~92% at n >= 5; from n >= 10 it holds
            93.8–95.3% in the coverage harness, see docs/metrics.md).
        max_iters: measured calls at most.
        min_duration_s: measured time at least (short runs are noisy).
        max_duration_s: measured-time cap per config; a config stopped by it before the CI target is
            ``valid=False`` with the achieved half-width in its reason.
        target_ci_rel: stop once the 95% CI half-width of the primary metric's mean is <= this fraction of the
            mean (None: stop at ``min_iters`` / ``min_duration_s``).
        order_seed: seed of the interleaving start (each replication of a sweep group gets its own).
    """

    PREFIX = "measure"

    warmup: int = 1
    warmup_max: int = 10
    warmup_max_s: float = 60.0
    min_iters: int = 10
    max_iters: int = 50
    min_duration_s: float = 0.0
    max_duration_s: float = 30.0
    target_ci_rel: float | None = 0.05
    order_seed: int = 0

    def validate(self) -> None:
        check_int(self, "warmup", minimum=0)
        check_int(self, "warmup_max", minimum=0)
        if self.warmup_max < self.warmup:
            raise ConfigError(
                self.field_name("warmup_max"), self.warmup_max, reason=f"must be >= warmup ({self.warmup})"
            )
        check_number(self, "warmup_max_s", minimum=0)
        check_int(self, "order_seed", minimum=0)
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


__all__ = ["MeasureSettings", "RegionTimer", "synchronize"]
