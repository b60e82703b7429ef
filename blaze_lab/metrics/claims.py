"""A claim against a measurement: **supported**, **not supported**, or **cannot tell at this precision**.

A :class:`Claim` is a statement with a number: the metric it is about, a direction (``at_least`` or ``at_most``) and
the claimed value — "10× the throughput" is ``Claim(..., direction="at_least", value=10.0)``, "50% lower response
times" is a latency ratio ``at_most`` 0.5. A measurement of it is an estimate with its confidence interval (from
:mod:`blaze_lab.metrics.compare`, :mod:`blaze_lab.metrics.intervals` …); :func:`verdict` only compares that
interval with the claimed value, so no verdict is ever typed by hand:

- ``supported``: the whole interval lies on the claimed side (``at_least``: low >= value; ``at_most``: high <= value);
- ``not supported``: the whole interval lies on the other side (``at_least``: high < value; ``at_most``: low > value);
- ``cannot tell at this precision``: the interval holds the claimed value, or there is no interval at this n.

For "cannot tell", :func:`n_needed` says about how many units (replications, requests …) would decide it if the
observed spread held. An interval's half-width shrinks like 1/√n, and it decides the claim once the bound between
the estimate and the claimed value no longer reaches past that value, so

    n_needed ≈ n · (h / d)²

with h the distance from the estimate to that bound and d the distance from the estimate to the claimed value, both
on the claim's scale (the log scale for ratios, whose intervals are built there). It ignores that the t quantile
shrinks as n grows and that the estimate itself moves (a rough size for the next run, not a promise), and it is
infinite when the estimate sits on the claimed value.

Example:
    >>> c = Claim("throughput", "10x the throughput", "tokens/s ratio", "at_least", 10.0)
    >>> verdict(c, 12.0, 11.0, 13.5), verdict(c, 6.0, 5.2, 7.1), verdict(c, 9.0, 7.0, 11.0)
    ('supported', 'not supported', 'cannot tell at this precision')
    >>> n_needed(c, 9.0, 7.0, 11.0, n=3)  # the upper bound 11 must come below 10: 3 · (log(11/9) / log(10/9))²
    11
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from blaze_lab.errors import ConfigError

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
CANNOT_TELL = "cannot tell at this precision"
NOT_MEASURED = "not measured in this sweep"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, CANNOT_TELL, NOT_MEASURED)
DIRECTIONS = ("at_least", "at_most")
SCALES = ("log", "linear")


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claimed number. ``scale``: ``log`` for ratios and rates (their intervals are built on the log scale),
    ``linear`` for proportions such as availability.

    >>> Claim("x", "s", "m", "above", 1.0)
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: claim.direction: invalid value 'above'; allowed: at_least, at_most
    """

    key: str
    statement: str
    metric: str
    direction: str
    value: float
    scale: str = "log"

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ConfigError("claim.direction", self.direction, allowed=DIRECTIONS)
        if self.scale not in SCALES:
            raise ConfigError("claim.scale", self.scale, allowed=SCALES)
        if not (isinstance(self.value, int | float) and math.isfinite(self.value)):
            raise ConfigError("claim.value", self.value, reason="must be a finite number")
        if self.scale == "log" and self.value <= 0:
            raise ConfigError("claim.value", self.value, reason="must be > 0 on the log scale")

    @property
    def claimed(self) -> str:
        """The claim's number as text: ``>= 10``, ``<= 0.5``."""
        return f"{'>=' if self.direction == 'at_least' else '<='} {self.value:g}"


def _finite(*values: Any) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def verdict(claim: Claim, estimate: float, low: float, high: float) -> str:
    """The claim's verdict from the interval [low, high] (module docstring); ``estimate`` NaN: not measured."""
    if not _finite(estimate):
        return NOT_MEASURED
    if not (isinstance(low, int | float) and isinstance(high, int | float)) or math.isnan(low) or math.isnan(high):
        return CANNOT_TELL  # an estimate without an interval decides nothing
    if claim.direction == "at_least":
        return SUPPORTED if low >= claim.value else NOT_SUPPORTED if high < claim.value else CANNOT_TELL
    return SUPPORTED if high <= claim.value else NOT_SUPPORTED if low > claim.value else CANNOT_TELL


def _scaled(claim: Claim, x: float) -> float:
    if claim.scale == "linear":
        return x
    return math.log(x) if x > 0 else -math.inf


def n_needed(claim: Claim, estimate: float, low: float, high: float, n: float) -> float:
    """Units a "cannot tell" would need to decide the claim: n · (h / d)² (module docstring); NaN when the
    verdict is already decided or cannot be sized (no interval, no n); inf when the estimate equals the claim.

    >>> c = Claim("lat", "half the latency", "ratio", "at_most", 0.5)
    >>> n_needed(c, 0.4, 0.3, 0.55, n=4), n_needed(c, 0.4, 0.3, 0.45, n=4)
    (9, nan)
    """
    if verdict(claim, estimate, low, high) != CANNOT_TELL or not _finite(low, high, n) or n <= 0:
        return math.nan
    est, value = _scaled(claim, estimate), _scaled(claim, claim.value)
    bound = _scaled(claim, high if estimate < claim.value else low)  # the bound between estimate and claim
    d = abs(est - value)
    if d == 0:
        return math.inf
    h = abs(bound - est)
    if not math.isfinite(h):
        return math.inf
    return max(math.ceil(n * (h / d) ** 2 - 1e-9), int(n) + 1)


def assess(
    claim: Claim, estimate: float, low: float, high: float, n: float = math.nan, unit: str = ""
) -> dict[str, Any]:
    """One verdict row: ``claim``, ``statement``, ``claimed``, ``estimate``, ``ci_low``, ``ci_high``, ``n``,
    ``unit``, ``verdict``, ``n_needed`` (see :func:`n_needed`).

    >>> row = assess(Claim("a", "99.9% uptime", "availability", "at_least", 0.999, "linear"), 0.9995, 0.9980,
    ...              0.9999, n=4000, unit="requests")
    >>> row["verdict"], row["n_needed"]
    ('cannot tell at this precision', 36000)
    """
    return {
        "claim": claim.key,
        "statement": claim.statement,
        "claimed": claim.claimed,
        "estimate": estimate,
        "ci_low": low,
        "ci_high": high,
        "n": n,
        "unit": unit,
        "verdict": verdict(claim, estimate, low, high),
        "n_needed": n_needed(claim, estimate, low, high, n),
    }


__all__ = [
    "CANNOT_TELL",
    "DIRECTIONS",
    "NOT_MEASURED",
    "NOT_SUPPORTED",
    "SUPPORTED",
    "VERDICTS",
    "Claim",
    "assess",
    "n_needed",
    "verdict",
]
