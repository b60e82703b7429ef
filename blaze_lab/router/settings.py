"""The router's own settings: circuit breaker, health checks and the router (strategy, timeouts, retries, hedging).

Frozen :class:`~blaze_lab.config.BaseConfig` subclasses; construction validates and raises
:class:`~blaze_lab.errors.ConfigError` naming the field and the allowed values. The flat experiment config a sweep
varies (:class:`~blaze_lab.router.config.RouterExperimentConfig`) builds these.

Example:
    >>> RouterConfig(strategy="power_of_two_choices").strategy
    'power_of_two_choices'
    >>> BreakerConfig(window_size=0)
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: breaker.window_size: invalid value 0; must be >= 1
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from blaze_lab.config import BaseConfig, check_choice, check_int, check_number
from blaze_lab.errors import ConfigError

# Kept here (not imported from strategies) so configs validate without importing strategy code.
STRATEGY_NAMES = (
    "round_robin",
    "weighted_round_robin",
    "random",
    "least_connections",
    "power_of_two_choices",
    "consistent_hash",
    "adaptive",
    "prefix_affinity",
    "weighted_scorer",
)


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
            raise ConfigError(
                self.field_name("minimum_calls"),
                self.minimum_calls,
                reason=f"must be <= window_size ({self.window_size}) or the rate rules never fire",
            )
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
        affinity_threshold: prefix_affinity sends a request to the replica with the longest cached prefix only when
            that prefix covers more than this share of the prompt (SGLang's cache_threshold); else to the replica
            holding the fewest cached tokens.
        balance_abs_threshold, balance_rel_threshold: prefix_affinity ignores the cache and takes the least loaded
            replica while the load is imbalanced: max − min outstanding > abs AND max > rel × min (SGLang's gateway
            rule; its defaults 64 / 1.5 are for engines batching hundreds of requests, ours hold a few).
        score_affinity, score_queue, score_kv: weighted_scorer's weights of prefix match share, queue headroom
            (min-max normalised outstanding) and free KV (1 − estimated KV use); sweepable knobs.
        kv_cache_tokens: the router's estimate of each replica's KV prefix capacity (tokens): its per-replica index
            of routed prefixes forgets least-recently-routed blocks beyond it (0 = never forgets).
        block_tokens: block size of the requests' block hashes (the index's granularity).
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
        max_ejection_fraction: at most this fraction of replicas may be out of rotation by breakers or passive
            ejection at once (Envoy's max_ejection_percent; at least one replica always may). A breaker that
            would exceed it stays closed. 1.0 = no cap.
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
    affinity_threshold: float = 0.3
    balance_abs_threshold: int = 8
    balance_rel_threshold: float = 1.5
    score_affinity: float = 1.0
    score_queue: float = 1.0
    score_kv: float = 1.0
    kv_cache_tokens: int = 0
    block_tokens: int = 16
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
    max_ejection_fraction: float = 1.0
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
        check_number(self, "affinity_threshold", minimum=0.0, maximum=1.0)
        check_int(self, "balance_abs_threshold", minimum=0)
        check_number(self, "balance_rel_threshold", minimum=1.0)
        for name in ("score_affinity", "score_queue", "score_kv"):
            check_number(self, name, minimum=0.0)
        check_int(self, "kv_cache_tokens", minimum=0)
        check_int(self, "block_tokens", minimum=1)
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
        check_number(self, "max_ejection_fraction", minimum=0.0, maximum=1.0)
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


# Time knobs of RouterExperimentConfig: number = seconds, "<k>x" = k mean service times (see blaze_lab.router.timing).


__all__ = ["STRATEGY_NAMES", "BreakerConfig", "HealthConfig", "RouterConfig"]
