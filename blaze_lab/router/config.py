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
from typing import Any

from blaze_lab.config import BaseConfig, check_choice, check_int, check_number
from blaze_lab.errors import ConfigError
from blaze_lab.replicas.service import DISTRIBUTIONS
from blaze_lab.router.settings import STRATEGY_NAMES, BreakerConfig, HealthConfig, RouterConfig

MODES = ("sim", "live")
WORKLOADS = ("synthetic", "prefix")
REPLICA_ENGINES = ("fake", "llm")
SCHEDULES = ("fixed", "saturation")
ARRIVALS = ("poisson", "gamma", "constant")


TIME_KNOBS = (
    "attempt_timeout_s",
    "hedge_delay_s",
    "queue_timeout_s",
    "retry_backoff_s",
    "retry_backoff_max_s",
    "breaker_open_s",
    "breaker_max_open_s",
    "breaker_slow_call_s",
    "health_interval_s",
    "health_timeout_s",
    "eject_s",
    "slo_latency_s",
    "saturation_step_s",
)


@dataclasses.dataclass(frozen=True)
class RouterExperimentConfig(BaseConfig):
    """One router benchmark run (flat, so a sweep can vary every field; columns ``router.*``).

    Time knobs (:data:`TIME_KNOBS`) take seconds or ``"<k>x"`` = k times the mean service time of a lone request
    (:mod:`blaze_lab.router.timing`); their defaults are relative so an experiment means the same at 50 ms and at
    1 s per request. Defaults and why:

    Attributes:
        mode: "sim" (discrete-event simulation on a virtual clock) or "live" (asyncio, fake replicas, real time).
        strategy: balancing strategy (see :data:`STRATEGY_NAMES`).
        replicas: number of replicas (>= 1).
        heterogeneity: the slowest replica is (1 + heterogeneity) times slower than the fastest; speeds are
            spread evenly between them (0 = identical replicas).
        speeds: explicit slowdown factor per replica (overrides heterogeneity; one per replica).
        base_latency_s: mean service time of a lone request on the fastest replica (the reference of "x" knobs).
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
        fault: a preset fault scenario (see :data:`blaze_lab.router.faults.SCENARIOS`; each is written in the
            fault grammar).
        faults: more faults in the grammar of :mod:`blaze_lab.router.faults` (which replicas, what, when), added to
            the preset: e.g. ``[{replicas: [2, 5], kind: slowdown, factor: 3, window: [0.3, 0.7]}]``.
        seed: seeds arrivals, lengths, service noise, faults and the router's RNG.
        schedule: "fixed" (one run at ``load``) or "saturation" (simulated: a synchronous probe, a max-throughput
            probe, then ``saturation_steps`` rates up to ``saturation_overshoot`` x the max throughput,
            ``n_requests`` each, stopped early when over-saturated; the knee and the max rate meeting the SLO at
            ``slo_target``; ``load`` is then unused; :mod:`blaze_lab.router.saturation`).
        saturation_steps, saturation_overshoot: rate steps of the saturation schedule and its top rate as a
            multiple of the max-throughput rate (8, 1.5).
        saturation_step_s: each rate step sends about rate x this long of arrivals, at least ``n_requests``
            (200x: long enough for the detector's window of 40 arrivals and 5 unloaded latencies to see a trend).
        slo_target: SLO attainment the max rate meeting the SLO must keep (0.9).
        scaling_baseline: also run the schedule on one replica (same seed) and report ``scaling_efficiency`` =
            max rate meeting the SLO / (replicas x the one-replica rate); sweep ``replicas`` with it.
        max_attempts: attempts per request including the first (3: two retries absorb a crash).
        hedge_delay_s: a second attempt after this long without an answer (0 = off).
        queue_size: requests the router queue holds before rejecting (Overloaded).
        attempt_timeout_s: an attempt slower than this fails (default 40x: far beyond a loaded queue's wait, so
            only hung or pathologically slow replicas time out).
        queue_timeout_s: a request waiting longer than this in the router queue fails (0 = no limit).
        retry_backoff_s, retry_backoff_max_s: retry delay base and cap (0.1x, 10x; full jitter, doubling).
        retry_budget_ratio, retry_budget_min: retry tokens earned per request (0.2: retries add at most ~20% load)
            and available at start.
        bounded_load_c: consistent-hash load bound (1.25; 0 = plain consistent hashing).
        weights: static per-replica weights (empty: capacity-proportional when speeds differ, else all 1).
        ewma_alpha: adaptive's latency EWMA weight of the newest sample (0.3).
        adaptive_explore: probability that adaptive picks a random replica (0.01).
        adaptive_choices: adaptive scores this many distinct random candidates (0 = all).
        max_inflight_per_replica: attempts a replica may hold before requests wait in the router queue
            (0 = unbounded, the replica's own FIFO absorbs the backlog).
        breaker: "on" or "off".
        breaker_open_s, breaker_max_open_s: open period (20x) and its backed-off cap (600x).
        breaker_failure_threshold: consecutive failures that open a breaker (5).
        breaker_success_threshold: successful trials that close it (2).
        breaker_window_size, breaker_minimum_calls, breaker_failure_rate_threshold: the rate rule (20, 10, 0.5).
        breaker_slow_call_s, breaker_slow_call_rate_threshold: the slow-call rule (off by default: a slow but
            successful replica is not failing; set e.g. "4x" and 0.5 to eject gray failures).
        breaker_half_open_max_calls: concurrent trial calls while half-open (1).
        health_interval_s, health_timeout_s: active health checks (10x, 5x; interval 0 = off).
        health_unhealthy_threshold, health_healthy_threshold: N failed / M passed checks (3, 2).
        eject_consecutive_errors, eject_s: passive ejection after N consecutive errors (0 = off) for eject_s (100x).
        max_ejection_fraction: at most this fraction of the replicas may be out by breakers or passive ejection
            at once (0.5; at least one always may): stops a slow-call cascade from ejecting every replica.
        slo_latency_s: end-to-end latency SLO for goodput (10x).
        time_scale: live mode only: real seconds per model second (0.1 makes a 50 ms service take 5 ms).
        workload: "synthetic" (independent prompt/output lengths, ``sessions`` keys) or "prefix" (a shared-prefix
            workload, :mod:`blaze_lab.load.prefix`: requests carry their prompt's KV block hashes).
        prefix_groups, prefix_tokens, suffix_tokens, output_tokens, prefix_zipf_s, conversation_share: the prefix
            workload: groups, fixed shared-prefix length, mean (lognormal) own suffix, fixed output length, Zipf
            popularity of groups, share of multi-turn conversation groups.
        block_tokens: KV block size (tokens) of the block hashes, the replica caches and the router's index.
        kv_cache_tokens: each replica's KV prefix cache (tokens, LRU over blocks; 0 = no cache): a hit skips
            the prefill of the reused blocks. The prefix strategies assume the same capacity for their index.
        prefill_s_per_token, decode_s_per_token: service cost per prefilled prompt token (before the first token)
            and per output token (after it); fit them from measured rows (benchmarks/calibrate_llm_service.py).
        affinity_threshold, balance_abs_threshold, balance_rel_threshold: prefix_affinity's match threshold and
            load-imbalance fallback (see :class:`~blaze_lab.router.settings.RouterConfig`).
        score_affinity, score_queue, score_kv: weighted_scorer's weights.
        calibration: path of a parquet of measured engine rows (e.g. an LLM sweep's summary with ``latency_s_mean``
            and ``llm.batch_size``); when set, the service model is fitted from it (base latency + slope per
            concurrent request + noise) instead of base_latency_s / per_request_s / service_cv.
        mtbf_s: a crash schedule: each replica crashes after an exponential up time of mean ``mtbf_s`` model
            seconds (its mean time between failures; 0 = no schedule), stays down ``restart_s``, comes back, and
            the cycle repeats (independent per replica, seeded by ``seed``); see
            :func:`blaze_lab.router.faults.crash_schedule`. Added to ``fault`` / ``faults``.
        restart_s: how long a scheduled crash keeps its replica down (model seconds). Live mode then adds the
            engine manager's detection, backoff and the real restart (``recovery_s``).
        replica_engine: live mode's replicas: "fake" (sleeps the service model) or "llm" (a real
            :class:`~blaze_lab.engines.llm.engine.LLMEngine` per replica, loading ``llm_model`` into its own
            model cache; a crash unloads it and a restart loads it again). With "llm" the service model is
            measured at start (``time_scale`` must be 1: a real engine runs in real time).
        llm_model: the model each "llm" replica loads (default a tiny random-weight Llama).
        llm_new_tokens: tokens each request generates on an "llm" replica (greedy, from a fixed 9-word prompt).
        raw_requests: request rows kept in the run's raw frame: 0 = every request (the default), else a seeded
            uniform sample of that many (a 10^6-request ledger is ~50 MB of parquet and GBs in memory as rows);
            the summary always covers every request, and breaker/health/lifecycle rows are always all kept.
    """

    PREFIX = "router"
    mode: str = "sim"
    strategy: str = "power_of_two_choices"
    replicas: int = 8
    heterogeneity: float = 0.0
    speeds: tuple[float, ...] = ()
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
    faults: tuple[Any, ...] = ()
    seed: int = 0
    schedule: str = "fixed"
    saturation_steps: int = 8
    saturation_overshoot: float = 1.5
    saturation_step_s: float | str = "200x"
    slo_target: float = 0.9
    scaling_baseline: bool = False
    max_attempts: int = 3
    hedge_delay_s: float | str = 0.0
    queue_size: int = 100_000
    attempt_timeout_s: float | str = "40x"
    queue_timeout_s: float | str = 0.0
    retry_backoff_s: float | str = "0.1x"
    retry_backoff_max_s: float | str = "10x"
    retry_budget_ratio: float = 0.2
    retry_budget_min: float = 10.0
    bounded_load_c: float = 1.25
    weights: tuple[float, ...] = ()
    ewma_alpha: float = 0.3
    adaptive_explore: float = 0.01
    adaptive_choices: int = 0
    max_inflight_per_replica: int = 0
    breaker: str = "on"
    breaker_open_s: float | str = "20x"
    breaker_max_open_s: float | str = "600x"
    breaker_failure_threshold: int = 5
    breaker_success_threshold: int = 2
    breaker_window_size: int = 20
    breaker_minimum_calls: int = 10
    breaker_failure_rate_threshold: float = 0.5
    breaker_slow_call_s: float | str = 0.0
    breaker_slow_call_rate_threshold: float = 0.5
    breaker_half_open_max_calls: int = 1
    health_interval_s: float | str = "10x"
    health_timeout_s: float | str = "5x"
    health_unhealthy_threshold: int = 3
    health_healthy_threshold: int = 2
    eject_consecutive_errors: int = 0
    eject_s: float | str = "100x"
    max_ejection_fraction: float = 0.5
    slo_latency_s: float | str = "10x"
    time_scale: float = 0.1
    calibration: str = ""
    workload: str = "synthetic"
    prefix_groups: int = 16
    prefix_tokens: float = 512.0
    suffix_tokens: float = 64.0
    output_tokens: float = 32.0
    prefix_zipf_s: float = 1.1
    conversation_share: float = 0.0
    block_tokens: int = 16
    kv_cache_tokens: int = 0
    prefill_s_per_token: float = 0.0
    decode_s_per_token: float = 0.0
    affinity_threshold: float = 0.3
    balance_abs_threshold: int = 8
    balance_rel_threshold: float = 1.5
    score_affinity: float = 1.0
    score_queue: float = 1.0
    score_kv: float = 1.0
    mtbf_s: float = 0.0
    restart_s: float = 1.0
    replica_engine: str = "fake"
    llm_model: str = "random:tiny-llama"
    llm_new_tokens: int = 4
    raw_requests: int = 0

    @classmethod
    def from_dict(cls, data: Any, where: str = "", *, literal_secrets: bool = False) -> RouterExperimentConfig:
        """As :meth:`BaseConfig.from_dict`, with time knobs also given as ``{relative: k}`` / ``{seconds: s}``."""
        from blaze_lab.router.timing import normalize_time

        fixed = {k: normalize_time(v) if k in TIME_KNOBS else v for k, v in dict(data).items()}
        return super().from_dict(fixed, where, literal_secrets=literal_secrets)

    def validate(self) -> None:
        from blaze_lab.router.faults import SCENARIOS, parse_faults  # local: faults imports this module's names
        from blaze_lab.router.timing import parse_time

        check_choice(self, "mode", MODES)
        check_choice(self, "strategy", STRATEGY_NAMES)
        if isinstance(self.replicas, int) and not isinstance(self.replicas, bool) and self.replicas < 1:
            raise ConfigError(self.field_name("replicas"), self.replicas, reason="empty replica set; need at least 1")
        check_int(self, "replicas", minimum=1)
        check_number(self, "heterogeneity", minimum=0.0)
        if self.speeds:
            if len(self.speeds) != self.replicas:
                raise ConfigError(
                    self.field_name("speeds"),
                    list(self.speeds),
                    reason=f"{len(self.speeds)} speeds for {self.replicas} replicas",
                )
            if any(isinstance(v, bool) or not isinstance(v, int | float) or not v > 0 for v in self.speeds):
                raise ConfigError(self.field_name("speeds"), list(self.speeds), reason="each speed must be > 0")
        check_number(self, "base_latency_s", minimum=0.0, strict_min=True)
        check_number(self, "per_request_s", minimum=0.0)
        check_int(self, "replica_slots", minimum=1)
        check_number(self, "service_cv", minimum=0.0)
        check_choice(self, "service_dist", DISTRIBUTIONS)
        if self.service_dist == "empirical" and not self.calibration:
            raise ConfigError(
                self.field_name("service_dist"),
                self.service_dist,
                reason="empirical service times are resampled from measured rows: set calibration",
            )
        check_choice(self, "arrival", ARRIVALS)
        check_number(self, "burstiness_cv", minimum=0.0, strict_min=True)
        check_number(self, "load", minimum=0.0, strict_min=True)
        check_int(self, "n_requests", minimum=1)
        check_int(self, "sessions", minimum=1)
        check_choice(self, "fault", sorted(SCENARIOS))
        parse_faults(self.faults, self.replicas, field=self.field_name("faults"))
        check_int(self, "seed", minimum=0)
        self._validate_schedule()
        check_choice(self, "breaker", ("on", "off"))
        for name in TIME_KNOBS:
            parse_time(self.field_name(name), getattr(self, name))
        if parse_time(self.field_name("slo_latency_s"), self.slo_latency_s)[0] <= 0:
            raise ConfigError(self.field_name("slo_latency_s"), self.slo_latency_s, reason="must be > 0")
        check_number(self, "max_ejection_fraction", minimum=0.0, maximum=1.0)
        check_number(self, "time_scale", minimum=0.0, strict_min=True)
        check_choice(self, "workload", WORKLOADS)
        check_int(self, "prefix_groups", minimum=1)
        for name in ("prefix_tokens", "suffix_tokens", "output_tokens"):
            check_number(self, name, minimum=1.0)
        check_number(self, "prefix_zipf_s", minimum=0.0)
        check_number(self, "conversation_share", minimum=0.0, maximum=1.0)
        check_number(self, "prefill_s_per_token", minimum=0.0)
        check_number(self, "decode_s_per_token", minimum=0.0)
        check_number(self, "mtbf_s", minimum=0.0)
        check_number(self, "restart_s", minimum=0.0)
        check_choice(self, "replica_engine", REPLICA_ENGINES)
        check_int(self, "llm_new_tokens", minimum=1)
        check_int(self, "raw_requests", minimum=0)
        if self.replica_engine == "llm":
            if self.mode != "live":
                raise ConfigError(self.field_name("replica_engine"), self.replica_engine,
                                  reason="real engine replicas run in live mode: set mode: live")
            if self.time_scale != 1.0:
                raise ConfigError(self.field_name("time_scale"), self.time_scale,
                                  reason="a real engine runs in real time: set time_scale: 1 with replica_engine: llm")
            if not isinstance(self.llm_model, str) or not self.llm_model.strip():
                raise ConfigError(self.field_name("llm_model"), self.llm_model, reason="must name a model")
        # The router knobs are validated by building the RouterConfig (ConfigError names router.<field>).
        self.router_config(self.base_latency_s)

    def _validate_schedule(self) -> None:
        check_choice(self, "schedule", SCHEDULES)
        check_int(self, "saturation_steps", minimum=0, maximum=64)
        check_number(self, "saturation_overshoot", minimum=0.0, strict_min=True)
        check_number(self, "slo_target", minimum=0.0, maximum=1.0, strict_min=True)
        if not isinstance(self.scaling_baseline, bool):
            raise ConfigError(self.field_name("scaling_baseline"), self.scaling_baseline, allowed=(True, False))
        if self.schedule == "saturation" and self.mode != "sim":
            raise ConfigError(self.field_name("schedule"), self.schedule,
                              reason="the router's saturation schedule is simulated only (mode: sim)")
        if self.scaling_baseline and (self.schedule != "saturation" or self.faults or self.fault != "none"):
            raise ConfigError(self.field_name("scaling_baseline"), self.scaling_baseline,
                              reason="needs schedule: saturation and no faults (the baseline is one healthy replica)")

    def replica_speeds(self) -> list[float]:
        """Slowdown factor per replica: ``speeds`` when given, else spread by ``heterogeneity``."""
        return [float(v) for v in self.speeds] if self.speeds else replica_speeds(self.replicas, self.heterogeneity)

    def seconds(self, name: str, reference_s: float) -> float:
        """A time knob in seconds given the reference service time."""
        from blaze_lab.router.timing import resolve_time

        return resolve_time(getattr(self, name), reference_s, self.field_name(name))

    def flat(self) -> dict[str, Any]:
        """Dotted columns; time knobs as text (``"40x"`` or ``"2.0"``) so a column never mixes types, faults as
        JSON."""
        import json

        out = super().flat()
        for name in TIME_KNOBS:
            out[self.field_name(name)] = str(getattr(self, name))
        out[self.field_name("faults")] = json.dumps(list(self.faults), sort_keys=True) if self.faults else ""
        return out

    def router_config(self, reference_s: float) -> RouterConfig:
        """The RouterConfig this experiment runs with, time knobs resolved against ``reference_s``."""
        speeds = self.replica_speeds()
        sec = {name: self.seconds(name, reference_s) for name in TIME_KNOBS}
        if self.weights:
            weights = tuple(float(w) for w in self.weights)
        elif len(set(speeds)) > 1:
            # Static weights proportional to capacity: what an operator would configure for weighted RR.
            weights = tuple(round(1.0 / s, 6) for s in speeds)
        else:
            weights = ()
        return RouterConfig(
            strategy=self.strategy,
            weights=weights,
            bounded_load_c=self.bounded_load_c,
            ewma_alpha=self.ewma_alpha,
            adaptive_explore=self.adaptive_explore,
            adaptive_choices=self.adaptive_choices,
            affinity_threshold=self.affinity_threshold,
            balance_abs_threshold=self.balance_abs_threshold,
            balance_rel_threshold=self.balance_rel_threshold,
            score_affinity=self.score_affinity,
            score_queue=self.score_queue,
            score_kv=self.score_kv,
            kv_cache_tokens=self.kv_cache_tokens,
            block_tokens=self.block_tokens,
            max_attempts=self.max_attempts,
            retry_budget_ratio=self.retry_budget_ratio,
            retry_budget_min=self.retry_budget_min,
            retry_backoff_s=sec["retry_backoff_s"],
            retry_backoff_max_s=sec["retry_backoff_max_s"],
            hedge_delay_s=sec["hedge_delay_s"],
            queue_size=self.queue_size,
            max_inflight_per_replica=self.max_inflight_per_replica,
            attempt_timeout_s=sec["attempt_timeout_s"],
            queue_timeout_s=sec["queue_timeout_s"],
            max_ejection_fraction=self.max_ejection_fraction,
            breaker=BreakerConfig(
                enabled=self.breaker == "on",
                open_s=max(sec["breaker_open_s"], 1e-9),
                max_open_s=max(sec["breaker_max_open_s"], sec["breaker_open_s"], 1e-9),
                failure_threshold=self.breaker_failure_threshold,
                success_threshold=self.breaker_success_threshold,
                window_size=self.breaker_window_size,
                minimum_calls=self.breaker_minimum_calls,
                failure_rate_threshold=self.breaker_failure_rate_threshold,
                slow_call_s=sec["breaker_slow_call_s"],
                slow_call_rate_threshold=self.breaker_slow_call_rate_threshold,
                half_open_max_calls=self.breaker_half_open_max_calls,
            ),
            health=HealthConfig(
                interval_s=sec["health_interval_s"],
                timeout_s=max(sec["health_timeout_s"], 1e-9),
                unhealthy_threshold=self.health_unhealthy_threshold,
                healthy_threshold=self.health_healthy_threshold,
                eject_consecutive_errors=self.eject_consecutive_errors,
                eject_s=sec["eject_s"],
            ),
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
    "REPLICA_ENGINES",
    "SCHEDULES",
    "STRATEGY_NAMES",
    "TIME_KNOBS",
    "WORKLOADS",
    "BreakerConfig",
    "HealthConfig",
    "RouterConfig",
    "RouterExperimentConfig",
    "replica_speeds",
]
