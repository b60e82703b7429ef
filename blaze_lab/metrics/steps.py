"""Per-step timing of a diffusion pipeline call: step boundaries from hooks, on the device's own timeline.

A :class:`StepTimer` marks step boundaries from two hooks: a forward pre-hook on the denoiser (a step starts when
the UNet is called) and the pipeline's ``callback_on_step_end`` (a step ends after the scheduler update). With the
callback, step ``i`` lasts from the end of step ``i-1`` (the first UNet call for step 0) to the end of step ``i``;
without one (pipelines lacking the callback), from one UNet call to the next, the last step closing at
:meth:`StepTimer.end`. On CUDA each mark is a CUDA event and times come from ``Event.elapsed_time`` after one
synchronize, so they are GPU execution times rather than kernel-launch times; on CPU marks are clock readings.

Example:
    >>> from blaze_lab.clock import VirtualClock
    >>> clock = VirtualClock()
    >>> timer = StepTimer(clock=clock)
    >>> timer.on_denoiser_call(first_only=True)
    >>> for _ in range(3):
    ...     clock.advance(0.25)
    ...     _ = timer.callback(None, 0, 0, {})
    >>> timer.step_times()
    [0.25, 0.25, 0.25]
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from blaze_lab.clock import Clock, RealClock


@dataclass(frozen=True)
class DiffusionTimings:
    """Directly measured timings of one pipeline call (seconds; NaN for a stage the pipeline does not have)."""

    latency_s: float
    text_encode_s: float
    denoise_s: float
    vae_decode_s: float
    step_latency_s: list[float] = field(default_factory=list)
    images: int = 0
    method: str = "perf_counter"

    def row(self) -> dict[str, Any]:
        """The raw-row columns of this call (``step_latency_s`` stays a list: every step of the call)."""
        steps = self.step_latency_s
        return {
            "latency_s": self.latency_s,
            "images_per_s": self.images / self.latency_s if self.latency_s > 0 else math.nan,
            "text_encode_s": self.text_encode_s,
            "denoise_s": self.denoise_s,
            "vae_decode_s": self.vae_decode_s,
            "step_latency_s": list(steps),
            "step_latency_s_call_mean": sum(steps) / len(steps) if steps else math.nan,
            "steps_run": len(steps),
            "images": self.images,
        }


class StepTimer:
    """Collects step-boundary marks of one call; :meth:`step_times` turns them into per-step seconds."""

    def __init__(self, device: str = "cpu", clock: Clock | None = None) -> None:
        self.device = device
        self.clock = clock or RealClock()
        self._cuda = device.startswith("cuda")
        self._starts: list[Any] = []
        self._ends: list[Any] = []
        self._end: Any = None

    @property
    def method(self) -> str:
        return "cuda_event" if self._cuda else "perf_counter"

    def _mark(self) -> Any:
        if self._cuda:
            import torch

            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return self.clock.now()

    def on_denoiser_call(self, first_only: bool) -> None:
        """A denoiser forward is starting (only the first is kept when the callback closes steps)."""
        if not first_only or not self._starts:
            self._starts.append(self._mark())

    def callback(self, pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        """``callback_on_step_end``: the step's scheduler update is done."""
        self._ends.append(self._mark())
        return callback_kwargs

    def end(self) -> None:
        """The call returned (closes the last step when there is no callback)."""
        self._end = self._mark()

    @contextlib.contextmanager
    def attach(self, denoiser: Any, *, first_only: bool) -> Iterator[StepTimer]:
        """Register the pre-hook on ``denoiser`` (a torch module) for the duration of the block."""
        handle = denoiser.register_forward_pre_hook(lambda module, args: self.on_denoiser_call(first_only))
        try:
            yield self
        finally:
            handle.remove()

    def step_times(self) -> list[float]:
        """Seconds per step, in order."""
        if not self._starts:
            return []
        marks = [self._starts[0], *self._ends] if self._ends else [*self._starts, self._end]
        marks = [m for m in marks if m is not None]
        if self._cuda:
            import torch

            torch.cuda.synchronize()
            return [a.elapsed_time(b) / 1000.0 for a, b in itertools.pairwise(marks)]
        return [float(b - a) for a, b in itertools.pairwise(marks)]


__all__ = ["DiffusionTimings", "StepTimer"]
