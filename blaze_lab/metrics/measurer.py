"""What a kind supplies to the measurement loop (:func:`blaze_lab.metrics.loop.run_configs`).

A kind measured by repeated calls (LLM, diffusion) is a :class:`Measurer`: ``open(config)`` loads what the config
needs and returns a :class:`Trial` whose ``call`` performs one measured call; a :class:`MetricSpec` says how the
calls' raw columns are summarized. A kind whose config is one whole experiment (router, serving) is a
:class:`OneShot`. Everything else — failures, order, interleaving, stop rules, contention, frames — is the loop's.

Example:
    >>> spec = MetricSpec(sampled=("latency_s",), primary="latency_s", ratios=(Ratio("tok_s", "tokens", "latency_s"),))
    >>> spec.ratios[0].numerator
    'tokens'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import pandas as pd

# -- what a kind supplies ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Ratio:
    """A throughput measured as a ratio estimator: ``sum(numerator) / sum(denominator)`` over the measured calls."""

    name: str
    numerator: str
    denominator: str


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """Which raw columns a kind's calls produce and how each is summarized.

    Attributes:
        sampled: per-call metrics summarized with mean/percentiles/CIs (``<metric>_<stat>`` columns).
        primary: the sampled metric that drives warm-up stability and the CI stop rule, and sets ``n``.
        peaks: columns reduced by their maximum over the measured calls (peak memory).
        ratios: throughputs as ratio estimators (see :class:`Ratio`).
        totals: columns summed over the measured calls (energy).
    """

    sampled: tuple[str, ...]
    primary: str
    peaks: tuple[str, ...] = ()
    ratios: tuple[Ratio, ...] = ()
    totals: tuple[str, ...] = ()


@runtime_checkable
class Trial(Protocol):
    """One opened config (model loaded, inputs built): called repeatedly by the loop.

    ``columns`` are constant per-run columns learned while opening (device, load time ...). ``call(i)`` performs one
    measured call (``i < 0`` during warm-up) and returns its raw metrics; ``finish(rows)`` returns extra summary
    columns from the measured rows (quality, roofline). ``stage`` names what the trial is doing (for error rows).
    """

    columns: dict[str, Any]

    def call(self, iteration: int) -> dict[str, Any]: ...

    def finish(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]: ...


class Measurer(Protocol):
    """A kind measured by repeated calls. Optional methods (looked up with ``getattr``):

    - ``cluster(config) -> Hashable``: configs with the same key share a load and are measured interleaved (default:
      ``config.load_key()``);
    - ``cluster_order(keys) -> keys``: the order clusters are measured in (default: first appearance);
    - ``release(key)``: called after a cluster, so its model does not inflate the next cluster's memory;
    - ``capability(config) -> bool``: True when the config applies an optional capability (quantization, offload,
      compile): library errors while opening it are then ``unsupported``.
    """

    def open(self, config: Any) -> Trial: ...


class OneShot(Protocol):
    """A kind whose config is one whole experiment (a router simulation, a serving benchmark).

    ``run_one(config) -> (summary columns, raw frame)``. Optional ``timing_sensitive(config) -> bool`` (default
    True): False for results that do not depend on the machine's speed (a simulation on a virtual clock), which
    are then never marked contended. Optional attribute ``raw_with_config`` (default False): copy the config's
    columns onto every raw row (small raw frames that the report groups by config).
    """

    def run_one(self, config: Any) -> tuple[dict[str, Any], pd.DataFrame]: ...


__all__ = ["Measurer", "MetricSpec", "OneShot", "Ratio", "Trial"]
