"""Router configs: breaker, health checks, the router itself, and the flat experiment config a sweep varies.

All are frozen :class:`~blaze_lab.config.BaseConfig` subclasses; construction validates and raises
:class:`~blaze_lab.errors.ConfigError` naming the field and the allowed values.

Example:
    >>> RouterConfig(strategy="power_of_two_choices").strategy
    'power_of_two_choices'
    >>> RouterConfig(strategy="fastest")
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: router.strategy: invalid value 'fastest'; allowed: round_robin, ...
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from blaze_lab.config import BaseConfig, check_choice, check_int, check_number
from blaze_lab.errors import ConfigError
from blaze_lab.replicas.service import DISTRIBUTIONS

# Kept here (not imported from strategies) so configs validate without importing strategy code.
STRATEGY_NAMES = (
    "round_robin",
    "weighted_round_robin",
    "random",
    "least_connections",
    "power_of_two_choices",
    "consistent_hash",
    "adaptive",
)
MODES = ("sim", "live")
ARRIVALS = ("poisson", "gamma", "constant")


@dataclasses.dataclass(frozen=True)
class BreakerConfig(BaseConfig):
    """Circuit-breaker thresholds (one breaker per replica).

    Attributes:
        enabled: False makes the breaker always admit (baseline without breakers).
        failure_threshold: consecutive failures that open the breaker (0 disables this rule).
        window_size: number of most recent calls in the failure-rate / slow-call-rate window.
        failure_rate_threshold: open when failures / window >= this (1.0 with errors only at 100%).
        minimum_calls: the rate rules apply only after this many calls are in the window.
        slow_call_s: a call slower than this counts as slow (0 disables the slow-call rule).
        slow_call_rate_threshold: open when slow calls / window >= this.
        open_s: how long the breaker stays open before admitting trial calls.
        backoff_multiplier: each re-open right after a failed trial multiplies the open duration (1 = constant).
        max_open_s: cap of the backed-off open duration.
        half_open_max_calls: trial calls admitted concurrently while half-open.
        success_threshold: successful trials needed to close again (>= 1).
    """

    PREFIX = "breaker"
    enabled: bool = True
    failure_threshold: int = 5
    window_size: int = 20
    failure_rate_threshold: float = 0.5
    minimum_calls: int = 10
    slow_call_s: float = 0.0
    slow_call_rate_threshold: float = 1.0
    open_s: float = 1.0
    backoff_multiplier: float = 2.0
    max_open_s: float = 30.0
    half_open_max_calls: int = 1
    success_threshold: int = 2

    def validate(self) -> None:
        check_int(self, "failure_threshold", minimum=0)
        check_int(self, "window_size", minimum=1)
        check_number(self, "failure_rate_threshold", minimum=0.0, maximum=1.0, strict_min=True)
        check_int(self, "minimum_calls", minimum=1)
        if self.minimum_calls > self.window_size:
            # The window never holds that many calls: the rate rules could never fire.
            raise ConfigError(self.field_name("minimum_calls"), self.minimum_calls,
                              reason=f"must be <= window_size ({self.window_size}) or the rate rules never fire")
        check_number(self, "slow_call_s", minimum=0.0)
        check_number(self, "slow_call_rate_threshold", minimum=0.0, maximum=1.0, strict_min=True)
        check_number(self, "open_s", minimum=0.0, strict_min=True)
        check_number(self, "backoff_multiplier", minimum=1.0)
        check_number(self, "max_open_s", minimum=self.open_s)
        check_int(self, "half_open_max_calls", minimum=1)
        check_int(self, "success_threshold", minimum=1)


@dataclasses.dataclass(frozen=True)
class HealthConfig(BaseConfig):
    """Active health checks and passive ejection.

    Attributes:
        interval_s: period of active checks per replica (0 disables active checks).
        timeout_s: a check that takes longer than this fails.
        unhealthy_threshold: N consecutive failed checks mark a replica unhealthy.
        healthy_threshold: M consecutive passed checks mark it healthy again.
        eject_consecutive_errors: passive ejection after this many consecutive request errors (0 disables).
        eject_s: how long a passively ejected replica is kept out of rotation.
    """

    PREFIX = "health"
    interval_s: float = 0.5
    timeout_s: float = 0.25
    unhealthy_threshold: int = 3
    healthy_threshold: int = 2
    eject_consecutive_errors: int = 0
    eject_s: float = 5.0

    def validate(self) -> None:
        check_number(self, "interval_s", minimum=0.0)
        check_number(self, "timeout_s", minimum=0.0, strict_min=True)
        check_int(self, "unhealthy_threshold", minimum=1)
        check_int(self, "healthy_threshold", minimum=1)
        check_int(self, "eject_consecutive_errors", minimum=0)
        check_number(self, "eject_s", minimum=0.0)


@dataclasses.dataclass(frozen=True)
class RouterConfig(BaseConfig):
    """How the router picks replicas, retries, hedges and queues.

    Attributes:
        strategy: one of :data:`STRATEGY_NAMES`.
        weights: static per-replica weights (empty = all 1); used by weighted_round_robin and adaptive.
        bounded_load_c: consistent_hash load bound factor c (a replica takes at most ceil(c * mean load));
            0 = plain consistent hashing.
        ewma_alpha: smoothing of the per-replica latency EWMA (weight of the newest sample).
        adaptive_explore: probability that adaptive picks a random replica (keeps stale EWMAs fresh).
        adaptive_choices: adaptive scores this many random candidates (0 = all of them).
        max_attempts: attempts per request including the first (1 = no retries).
        retry_budget_ratio: retry tokens earned per request (0.2 = retries add at most ~20% load).
        retry_budget_min: retry tokens available at start (and the floor of the bucket's cap).
        retry_backoff_s: base delay before a retry (doubles per attempt, full jitter).
        retry_backoff_max_s: cap of the retry delay.
        hedge_delay_s: send a second attempt to another replica if no answer after this long (0 = off).
        queue_size: requests allowed to wait for a replica; beyond this submissions fail with Overloaded.
        max_inflight_per_replica: concurrent attempts per replica before requests wait (0 = unlimited).
        attempt_timeout_s: an attempt slower than this fails with RequestTimeout (0 = no timeout). Default 30 s:
            without one a hung replica holds its requests forever.
        queue_timeout_s: a request waiting longer than this fails with RequestTimeout (0 = no timeout).
        breaker: per-replica circuit-breaker settings.
        health: health-check settings.
    """

    PREFIX = "router"
    strategy: str = "power_of_two_choices"
    weights: tuple[float, ...] = ()
    bounded_load_c: float = 0.0
    ewma_alpha: float = 0.3
    adaptive_explore: float = 0.01
    adaptive_choices: int = 0
    max_attempts: int = 3
    retry_budget_ratio: float = 0.2
    retry_budget_min: float = 10.0
    retry_backoff_s: float = 0.005
    retry_backoff_max_s: float = 0.5
    hedge_delay_s: float = 0.0
    queue_size: int = 1024
    max_inflight_per_replica: int = 0
    attempt_timeout_s: float = 30.0
    queue_timeout_s: float = 0.0
    breaker: BreakerConfig = dataclasses.field(default_factory=BreakerConfig)
    health: HealthConfig = dataclasses.field(default_factory=HealthConfig)

    def validate(self) -> None:
        check_choice(self, "strategy", STRATEGY_NAMES)
        for i, w in enumerate(self.weights):
            if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
                raise ConfigError(self.field_name("weights"), self.weights, reason=f"weight {i} must be a number >= 0")
        if self.weights and not any(w > 0 for w in self.weights):
            raise ConfigError(self.field_name("weights"), self.weights, reason="at least one weight must be > 0")
        if self.bounded_load_c != 0:
            check_number(self, "bounded_load_c", minimum=1.0)
        check_number(self, "ewma_alpha", minimum=0.0, maximum=1.0, strict_min=True)
        check_number(self, "adaptive_explore", minimum=0.0, maximum=1.0)
        check_int(self, "adaptive_choices", minimum=0)
        check_int(self, "max_attempts", minimum=1)
        check_number(self, "retry_budget_ratio", minimum=0.0)
        check_number(self, "retry_budget_min", minimum=0.0)
        check_number(self, "retry_backoff_s", minimum=0.0)
        check_number(self, "retry_backoff_max_s", minimum=0.0)
        check_number(self, "hedge_delay_s", minimum=0.0)
        check_int(self, "queue_size", minimum=0)
        check_int(self, "max_inflight_per_replica", minimum=0)
        check_number(self, "attempt_timeout_s", minimum=0.0)
        check_number(self, "queue_timeout_s", minimum=0.0)
        for name, typ in (("breaker", BreakerConfig), ("health", HealthConfig)):
            if not isinstance(getattr(self, name), typ):
                raise ConfigError(self.field_name(name), getattr(self, name), reason=f"must be a {typ.__name__}")

    def flat(self) -> dict[str, Any]:
        """Dotted columns, with breaker and health fields nested (``router.breaker.open_s``)."""
        out = {k: v for k, v in super().flat().items() if not k.endswith((".breaker", ".health"))}
        for name in ("breaker", "health"):
            for key, value in getattr(self, name).flat().items():
                out[f"{self.PREFIX}.{key}"] = value
        return out

    def weight_of(self, index: int) -> float:
        return float(self.weights[index]) if self.weights else 1.0

    def check_replicas(self, count: int) -> None:
        """Raise ConfigError for an empty replica set or a weights tuple of the wrong length."""
        if count < 1:
            raise ConfigError(self.field_name("replicas"), count, reason="empty replica set; need at least 1")
        if self.weights and len(self.weights) != count:
            raise ConfigError(
                self.field_name("weights"), self.weights, reason=f"{len(self.weights)} weights for {count} replicas"
            )


@dataclasses.dataclass(frozen=True)
class RouterExperimentConfig(BaseConfig):
    """One router benchmark run (flat, so a sweep can vary every field; columns ``router.*``).

    Attributes:
        mode: "sim" (discrete-event simulation on a virtual clock) or "live" (asyncio, fake engines, real time).
        strategy: balancing strategy (see :data:`STRATEGY_NAMES`).
        replicas: number of replicas (>= 1).
        heterogeneity: the slowest replica is (1 + heterogeneity) times slower than the fastest; speeds are
            spread evenly between them (0 = identical replicas).
        base_latency_s: service time of a lone request on the fastest replica.
        per_request_s: extra service time per other request running on the same replica (load dependence).
        replica_slots: requests a replica runs at once; further requests wait in the replica's own queue.
        service_cv: coefficient of variation of the lognormal service-time noise.
        service_dist: service-time noise: lognormal (CV ``service_cv``), exponential (CV 1), deterministic, or
            empirical (resampled from the ``calibration`` rows; see :class:`~blaze_lab.replicas.service.ServiceModel`).
        arrival: "poisson", "gamma" (burstiness_cv sets the inter-arrival CV) or "constant".
        burstiness_cv: inter-arrival coefficient of variation for gamma arrivals (1 = Poisson).
        load: offered load as a fraction of the replicas' aggregate capacity.
        n_requests: requests generated.
        sessions: distinct session keys (consistent hashing affinity).
        fault: fault scenario name (see :data:`blaze_lab.router.faults.SCENARIOS`).
        seed: seeds arrivals, lengths, service noise, faults and the router's RNG.
        max_attempts, hedge_delay_s, queue_size, attempt_timeout_s, bounded_load_c: router knobs (RouterConfig).
        breaker: "on" or "off".
        breaker_open_s, breaker_failure_threshold, breaker_success_threshold: breaker knobs.
        health_interval_s: active health check period (0 = off).
        slo_latency_s: end-to-end latency SLO used for goodput.
        time_scale: live mode only: real seconds per model second (0.1 makes a 50 ms service take 5 ms).
        calibration: path of a parquet of measured engine rows (e.g. an LLM sweep's summary with ``latency_s_mean``
            and ``llm.batch_size``); when set, the service model is fitted from it (base latency + slope per
            concurrent request + noise CV) instead of base_latency_s / per_request_s / service_cv.
    """

    PREFIX = "router"
    mode: str = "sim"
    strategy: str = "power_of_two_choices"
    replicas: int = 8
    heterogeneity: float = 0.0
    base_latency_s: float = 0.05
    per_request_s: float = 0.01
    replica_slots: int = 4
    service_cv: float = 0.2
    service_dist: str = "lognormal"
    arrival: str = "poisson"
    burstiness_cv: float = 1.0
    load: float = 0.7
    n_requests: int = 10_000
    sessions: int = 1000
    fault: str = "none"
    seed: int = 0
    max_attempts: int = 3
    hedge_delay_s: float = 0.0
    queue_size: int = 100_000
    attempt_timeout_s: float = 2.0
    bounded_load_c: float = 1.25
    breaker: str = "on"
    breaker_open_s: float = 1.0
    breaker_failure_threshold: int = 5
    breaker_success_threshold: int = 2
    health_interval_s: float = 0.5
    slo_latency_s: float = 0.5
    time_scale: float = 0.1
    calibration: str = ""

    def validate(self) -> None:
        from blaze_lab.router.faults import SCENARIOS  # local: faults imports this module's names

        check_choice(self, "mode", MODES)
        check_choice(self, "strategy", STRATEGY_NAMES)
        if isinstance(self.replicas, int) and not isinstance(self.replicas, bool) and self.replicas < 1:
            raise ConfigError(self.field_name("replicas"), self.replicas, reason="empty replica set; need at least 1")
        check_int(self, "replicas", minimum=1)
        check_number(self, "heterogeneity", minimum=0.0)
        check_number(self, "base_latency_s", minimum=0.0, strict_min=True)
        check_number(self, "per_request_s", minimum=0.0)
        check_int(self, "replica_slots", minimum=1)
        check_number(self, "service_cv", minimum=0.0)
        check_choice(self, "service_dist", DISTRIBUTIONS)
        if self.service_dist == "empirical" and not self.calibration:
            raise ConfigError(self.field_name("service_dist"), self.service_dist,
                              reason="empirical service times are resampled from measured rows: set calibration")
        check_choice(self, "arrival", ARRIVALS)
        check_number(self, "burstiness_cv", minimum=0.0, strict_min=True)
        check_number(self, "load", minimum=0.0, strict_min=True)
        check_int(self, "n_requests", minimum=1)
        check_int(self, "sessions", minimum=1)
        check_choice(self, "fault", sorted(SCENARIOS))
        check_int(self, "seed", minimum=0)
        check_choice(self, "breaker", ("on", "off"))
        check_number(self, "slo_latency_s", minimum=0.0, strict_min=True)
        check_number(self, "time_scale", minimum=0.0, strict_min=True)
        # The router knobs are validated by building the RouterConfig (ConfigError names router.<field>).
        self.router_config()

    def router_config(self) -> RouterConfig:
        """The RouterConfig this experiment runs with."""
        speeds = replica_speeds(self.replicas, self.heterogeneity)
        return RouterConfig(
            strategy=self.strategy,
            # Static weights proportional to capacity: what an operator would configure for weighted RR.
            weights=tuple(round(1.0 / s, 6) for s in speeds) if self.heterogeneity else (),
            bounded_load_c=self.bounded_load_c,
            max_attempts=self.max_attempts,
            hedge_delay_s=self.hedge_delay_s,
            queue_size=self.queue_size,
            attempt_timeout_s=self.attempt_timeout_s,
            breaker=BreakerConfig(
                enabled=self.breaker == "on",
                open_s=self.breaker_open_s,
                max_open_s=max(30.0, self.breaker_open_s),
                failure_threshold=self.breaker_failure_threshold,
                success_threshold=self.breaker_success_threshold,
            ),
            health=HealthConfig(interval_s=self.health_interval_s),
        )


def replica_speeds(count: int, heterogeneity: float) -> list[float]:
    """Slowdown factor per replica: evenly spread from 1 (fastest) to 1 + heterogeneity (slowest).

    >>> replica_speeds(3, 2.0)
    [1.0, 2.0, 3.0]
    """
    if count == 1:
        return [1.0]
    return [1.0 + heterogeneity * i / (count - 1) for i in range(count)]


__all__ = [
    "ARRIVALS",
    "MODES",
    "STRATEGY_NAMES",
    "BreakerConfig",
    "HealthConfig",
    "RouterConfig",
    "RouterExperimentConfig",
    "replica_speeds",
]
