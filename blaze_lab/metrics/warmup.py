"""Warm-up until stable: keep calling until the last calls stop trending.

The first calls after a model load are slower for several calls (allocator growth, lazy kernels, caches): on this
project's CPUs fp32 batch 2 took 2.15, 2.20, 2.01, then 1.6–1.7 s. One fixed warm-up call does not cover that, and a
fixed large number wastes time where one is enough. :class:`WarmupRule` declares the sequence stable when the last
``window`` calls agree with each other — their spread (max/min − 1) is at most ``tolerance`` — and the last call is
not above the running minimum of all calls by more than ``tolerance`` (a sequence still falling is not stable). The
loop bounds warm-up by ``MeasureSettings.warmup_max`` calls and ``warmup_max_s`` seconds; a row whose warm-up never
became stable says so in its ``validity_reason``.

Three calls is the window: two slow first calls often agree with each other (2.15, 2.20), so a window of two
would stop inside the slow phase.

Example:
    >>> rule = WarmupRule()
    >>> calls = [2.15, 2.20, 2.01, 1.65, 1.62, 1.63]
    >>> [rule.stable(calls[:k]) for k in range(1, 7)]
    [False, False, False, False, False, True]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class WarmupRule:
    """Stable when the last ``window`` values agree within ``tolerance`` and the last is near the running minimum.

    Values are per-call costs or rates; the rule is symmetric in scale (ratios), so either works: for rates
    (higher is better) the running *maximum* is used when ``higher_is_better``.
    """

    window: int = 3
    tolerance: float = 0.05
    higher_is_better: bool = False

    def stable(self, values: Sequence[float]) -> bool:
        clean = [v for v in values if v == v and v > 0]
        if len(clean) < max(self.window, 2):
            return False
        last = clean[-self.window :]
        if max(last) / min(last) - 1.0 > self.tolerance:
            return False
        if self.higher_is_better:
            return max(clean) / clean[-1] - 1.0 <= self.tolerance
        return clean[-1] / min(clean) - 1.0 <= self.tolerance or math.isclose(clean[-1], min(clean))


__all__ = ["WarmupRule"]
