"""Per-token timing of generation, measured directly (metric definitions: docs/metrics.md).

A :class:`TokenTimer` is both a transformers streamer (``put`` is called once with the prompt, then once per
decode step with that step's tokens) and a logits processor (called right after each forward, when the next
token's logits exist). From those hooks it takes, relative to the submit time:

- ``prefill_s``: submit → logits of the first generated token (first logits-processor call),
- ``ttft_s``: submit → first generated token handed to the caller (first streamer ``put`` after the prompt),
- ``decode_s``: first token → last token, measured (never "generate minus prefill"),
- ``itl_s``: every gap between consecutive tokens,
- ``tpot_s``: (E2E − TTFT) / (output_tokens − 1), E2E = submit → last token.

On CUDA each hook also records a CUDA event, so the same quantities come from the GPU timeline.

Example:
    >>> from blaze_lab.clock import VirtualClock
    >>> clock = VirtualClock()
    >>> timer = TokenTimer(clock=clock)
    >>> timer.start()
    >>> timer.put([[1, 2, 3]])      # the prompt
    >>> for _ in range(3):
    ...     clock.advance(0.1)
    ...     timer.put([7])
    >>> timer.end()
    >>> t = timer.timings()
    >>> round(t.ttft_s, 3), round(t.tpot_s, 3), t.output_tokens
    (0.1, 0.1, 3)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from blaze_lab.clock import Clock, RealClock


@dataclass(frozen=True)
class GenerationTimings:
    """Directly measured timings of one generate call (all seconds)."""

    e2e_s: float
    ttft_s: float
    prefill_s: float
    decode_s: float
    tpot_s: float
    output_tokens: int  # decode steps (tokens per sequence)
    itl_s: list[float] = field(default_factory=list)
    token_times_s: list[float] = field(default_factory=list)  # each token's time since submit
    method: str = "perf_counter"


class TokenTimer:
    """Streamer + logits processor that timestamps prefill and every generated token."""

    def __init__(self, device: str = "cpu", clock: Clock | None = None) -> None:
        self.device = device
        self.clock = clock or RealClock()
        self._cuda = device.startswith("cuda")
        self.reset()

    def reset(self) -> None:
        self._t0 = math.nan
        self._prompt_seen = False
        self._logits_t: float = math.nan
        self._token_t: list[float] = []
        self._end_t = math.nan
        self._events: list[Any] = []
        self._start_event: Any = None
        self._logits_event: Any = None

    def _event(self) -> Any:
        import torch

        ev = torch.cuda.Event(enable_timing=True)
        ev.record()
        return ev

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Mark the submit time (call just before tokenization / generate)."""
        self.reset()
        self._t0 = self.clock.now()
        if self._cuda:
            self._start_event = self._event()

    # -- transformers streamer protocol --------------------------------------------------------------------------
    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True  # generate() first streams the prompt ids; they are not generated tokens
            return
        self._token_t.append(self.clock.now())
        if self._cuda:
            self._events.append(self._event())

    def end(self) -> None:
        self._end_t = self.clock.now()

    # -- transformers logits-processor protocol -------------------------------------------------------------------
    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if math.isnan(self._logits_t):
            self._logits_t = self.clock.now()
            if self._cuda:
                self._logits_event = self._event()
        return scores

    # -- results ------------------------------------------------------------------------------------------------
    def timings(self) -> GenerationTimings:
        """Timings of the last generate call."""
        if self._cuda and self._events:
            import torch

            torch.cuda.synchronize()
            times = [self._start_event.elapsed_time(ev) / 1000.0 for ev in self._events]
            prefill = (
                self._start_event.elapsed_time(self._logits_event) / 1000.0
                if self._logits_event is not None
                else math.nan
            )
            method = "cuda_event"
        else:
            times = [t - self._t0 for t in self._token_t]
            prefill = self._logits_t - self._t0
            method = "perf_counter"
        n = len(times)
        if n == 0:
            nan = math.nan
            return GenerationTimings(nan, nan, prefill, nan, nan, 0, method=method)
        ttft = times[0]
        e2e = times[-1]
        itl = [b - a for a, b in itertools.pairwise(times)]
        tpot = (e2e - ttft) / (n - 1) if n > 1 else math.nan
        return GenerationTimings(
            e2e_s=e2e,
            ttft_s=ttft,
            prefill_s=prefill,
            decode_s=e2e - ttft,
            tpot_s=tpot,
            output_tokens=n,
            itl_s=itl,
            token_times_s=times,
            method=method,
        )


__all__ = ["GenerationTimings", "TokenTimer"]
