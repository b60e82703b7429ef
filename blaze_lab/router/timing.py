"""Scale-free time knobs: a duration is absolute seconds or a multiple of the mean service time.

A router experiment is only comparable across services if its timeouts, SLO, breaker open time and health interval
scale with the service: a 2 s timeout is 40 service times at 50 ms but 2 at 1 s, where it times out a third of the
requests. So every time knob of :class:`~blaze_lab.router.config.RouterExperimentConfig` accepts

* a number: absolute seconds (``2.0``);
* ``"<k>x"``: ``k`` times the reference service time (``"40x"``), the form the defaults use;
* ``{"relative": k}`` or ``{"seconds": s}`` in a spec (normalised to the two forms above).

The reference is :attr:`~blaze_lab.replicas.service.ServiceModel.reference_s`: the mean service time of a lone
request on a speed-1 replica (``base_latency_s``, or the calibrated base latency).

Example:
    >>> resolve_time("4x", 0.05), resolve_time(2.0, 0.05), resolve_time("0.5s", 1.0)
    (0.2, 2.0, 0.5)
    >>> normalize_time({"relative": 4})
    '4x'
    >>> parse_time("router.slo_latency_s", "fast")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: router.slo_latency_s: invalid value 'fast'; a duration: seconds (2.0, '2s') or ...
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from blaze_lab.errors import ConfigError

_HELP = "a duration: seconds (2.0, '2s') or a multiple of the mean service time ('4x', {relative: 4})"


def normalize_time(value: Any) -> Any:
    """Spec forms to config forms: ``{relative: k}`` → ``"kx"``, ``{seconds: s}`` → ``s``; others unchanged."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, v),) = value.items()
        if key == "relative" and isinstance(v, int | float) and not isinstance(v, bool):
            return f"{v:g}x"
        if key == "seconds" and isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
    return value


def parse_time(field: str, value: Any) -> tuple[float, bool]:
    """``(number, relative)`` of a time knob; ConfigError naming ``field`` for anything else or a negative value."""
    number: float | None = None
    relative = False
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        relative = text.endswith("x")
        body = text[:-1] if relative or text.endswith("s") else text
        try:
            number = float(body)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise ConfigError(field, value, reason=_HELP)
    if number < 0:
        raise ConfigError(field, value, reason="must be >= 0")
    return number, relative


def resolve_time(value: Any, reference_s: float, field: str = "router.time") -> float:
    """Seconds of a time knob given the reference service time."""
    number, relative = parse_time(field, normalize_time(value))
    return number * reference_s if relative else number


__all__ = ["normalize_time", "parse_time", "resolve_time"]
