"""Router benchmark entry point for the sweep notebook: runs → (summary frame, raw frame).

Each run is a :class:`~blaze_lab.router.config.RouterExperimentConfig` (``router.*`` columns), simulated
(``mode="sim"``) or run live over fake or real engine replicas (``mode="live"``). The summary has one row per run:
goodput under the latency SLO (the headline); latency statistics of successful requests (``latency_s_*`` with
bootstrap CIs) beside failure-aware ones over every request (``latency_all_s_*``, a failure counted at the attempt
timeout, and ``slo_miss_rate``); the validity verdict (invalid when failures, timeouts or breaker openings
dominate, with the fractions); queue wait, throughput, retries, hedges, errors by cause (``errors_<Type>``),
breaker openings, ejections refused by the cap, per-replica load spread, time to first token, KV prefix-cache hit
rates and load imbalance (:mod:`blaze_lab.router.llm_metrics`), the resolved time knobs (``reference_s``,
``slo_s``) and, for live runs, the engine manager's recovery time. ``availability`` is the share of all requests
answered ok within the SLO, with an exact binomial interval widened for bursts of failures
(:func:`availability_columns`), beside the ``crashes`` the run's fault schedule injected. The raw frame holds the
decision ledger (one row per request, ``row_kind="request"``) plus breaker/health transitions
(``row_kind="transition"``) and, live, engine lifecycle events (``row_kind="lifecycle"``). ``reference`` and
``measure`` are accepted for the notebook contract; routing runs have no quality reference and are sized by
``n_requests`` rather than by measurement settings.

Example:
    >>> summary, raw = benchmark_group([{"run_id": "a", "config": {"n_requests": 500, "replicas": 2}}])
    >>> summary[["run_id", "status", "router.strategy", "n"]].values.tolist()
    [['a', 'ok', 'power_of_two_choices', 500]]
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.load.slo import SLO, goodput
from blaze_lab.metrics.intervals import binomial_ci, clustered_binomial_ci, quantile_min_n
from blaze_lab.metrics.loop import run_configs
from blaze_lab.metrics.stats import STAT_SUFFIXES, ValidityRules, summarize, validity_reasons
from blaze_lab.router.config import RouterExperimentConfig
from blaze_lab.router.experiment import experiment_model
from blaze_lab.router.llm_metrics import prefix_metrics
from blaze_lab.router.simulate import simulate

ERROR_CAUSES = ("EngineError", "EngineUnavailable", "CircuitOpenError", "RequestTimeout", "Overloaded")
# Bootstrap CIs on at most this many samples (a 1000 × 1M resample matrix would not fit in memory); percentiles,
# mean and std always use every sample.
_BOOTSTRAP_CAP = 5000
# Per-request latencies spread widely by design (queueing, faults): that spread is what is studied, not measurement
# noise, so the CV rule is off; too few samples for p99 still invalidates a row.
RULES = ValidityRules(cv_threshold=math.inf)
# A run is not a verdict on the strategy when more than 5% of its requests fail (timeouts, open breakers, rejects)
# or breakers open more than once per 100 requests: the failure handling, not the routing, decides its latencies.
FAILURES_DOMINATE = 0.05
BREAKER_OPENS_DOMINATE = 0.01


def benchmark_group(
    runs: Sequence[Mapping[str, Any]],
    reference: Mapping[str, Any] | None = None,
    measure: Mapping[str, Any] | None = None,
    sweep: str = "adhoc",
    group: str = "g0",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run every router experiment in ``runs`` ([{"run_id", "config"}]) through the one measurement loop.

    Bad configs raise ConfigError before anything runs; any exception of one run becomes its row (the others go on).
    """
    del reference, measure
    configs = [(str(r["run_id"]), RouterExperimentConfig.from_dict(dict(r["config"]))) for r in runs]
    return run_configs("router", configs, _RouterRuns(), extra={"sweep": sweep, "group": group}, progress=False)


class _RouterRuns:
    """The router kind for the measurement loop: one config = one whole experiment."""

    def run_one(self, cfg: RouterExperimentConfig) -> tuple[dict[str, Any], pd.DataFrame]:
        return run_one(cfg)

    def timing_sensitive(self, cfg: RouterExperimentConfig) -> bool:
        # A simulation runs on a virtual clock: a busy machine slows it down but cannot change its numbers.
        return cfg.mode != "sim"


def run_one(cfg: RouterExperimentConfig, clock: Any = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """One experiment → (summary metrics, raw rows). ``clock``: live mode's clock (default the real clock; a
    VirtualClock runs the live code in virtual time)."""
    wall0 = time.perf_counter()
    if cfg.schedule == "saturation":
        from blaze_lab.router.saturation import run_saturation

        summary, raw = run_saturation(cfg)
        return {**summary, "wall_s": time.perf_counter() - wall0}, raw
    if cfg.mode == "sim":
        res: Any = simulate(cfg)
    else:
        from blaze_lab.router.live import run_live_async

        res = _run_coroutine(lambda: run_live_async(cfg, clock or _real_clock()))
    return summarize_run(cfg, res, time.perf_counter() - wall0)


def summarize_run(cfg: RouterExperimentConfig, res: Any, wall_s: float = math.nan) -> tuple[dict[str, Any],
                                                                                         pd.DataFrame]:
    """A finished simulated (SimResult) or live (LiveResult) run → (summary metrics, raw rows)."""
    extra: dict[str, Any] = {}
    lifecycle = getattr(res, "manager_events", pd.DataFrame())
    recovery = math.nan
    if cfg.mode == "sim":
        extra["sim_events"] = res.events
    else:
        rec = lifecycle.loc[lifecycle["event"] == "recovered", "recovery_s"]
        recovery = float(rec.mean()) if len(rec) else math.nan
        extra["lost"] = res.lost
    ledger: pd.DataFrame = res.ledger
    measured = getattr(res, "reference_s", math.nan)  # real engine replicas: the measured service time
    ref = measured if math.isfinite(measured) else experiment_model(cfg).reference_s
    slo_s = cfg.seconds("slo_latency_s", ref)
    timeout_s = cfg.seconds("attempt_timeout_s", ref)
    row = summarize_ledger(ledger, res.transitions, res.duration_s, SLO(e2e_s=slo_s),
                           fail_at_s=timeout_s if timeout_s > 0 else slo_s)
    lost = cfg.n_requests - len(ledger)
    if lost > 0:  # every request the workload generated counts: one that got no ledger row (live: lost) failed
        met = _met_in_order(ledger, slo_s)
        row.update(availability_columns(np.concatenate([met, np.zeros(lost, dtype=bool)])))
    row["crashes"] = int(getattr(res, "crashes", 0))
    row.update(extra, wall_s=wall_s, requests_per_wall_s=len(ledger) / wall_s if wall_s > 0 else math.nan,
               recovery_s=recovery, max_queue=res.max_waiting, reference_s=ref, slo_s=slo_s,
               attempt_timeout_resolved_s=timeout_s,
               ejections_capped=int(res.replicas["ejections_capped"].sum()))
    row.update(prefix_metrics(ledger, res.replicas))
    kept = ledger
    if 0 < cfg.raw_requests < len(ledger):
        # A seeded uniform sample (in request order): every figure drawn from raw rows stays unbiased.
        kept = ledger.sample(n=cfg.raw_requests, random_state=cfg.seed).sort_values("request_id")
    raw = kept.assign(row_kind="request", iteration=kept["request_id"])
    parts = [raw, res.transitions.assign(row_kind="transition")]
    if len(lifecycle):
        renamed = lifecycle.rename(columns={"event": "to_state", "detail": "reason", "status": "engine_status"})
        parts.append(renamed.assign(row_kind="lifecycle"))
    return row, pd.concat(parts, ignore_index=True)


def summarize_ledger(
    ledger: pd.DataFrame, transitions: pd.DataFrame, duration_s: float, slo: SLO, fail_at_s: float = math.inf
) -> dict[str, Any]:
    """Summary metrics of one run's ledger (pure: frame in, dict out).

    ``latency_s_*`` cover successful requests only; ``latency_all_s_*`` cover every request, a failed one counted
    at ``max(its latency, fail_at_s)`` (the attempt timeout: what a client waiting for an answer would see at
    best), so a strategy that sheds or times out load cannot look faster. ``slo_miss_rate`` counts failures as
    misses. ``valid`` is False, with the fractions in ``validity_reason``, when failures, timeouts or breaker
    openings dominate the run: its latencies then describe the failure handling, not the strategy.
    """
    ok = ledger["outcome"] == "ok"
    latency = ledger.loc[ok, "latency_s"].to_numpy(dtype=float)
    row: dict[str, Any] = {}
    stats = _stats(latency)
    for key in STAT_SUFFIXES:
        row[f"latency_s_{key}"] = stats[key]
    row.update(n=stats["n"], valid=stats["valid"], validity_reason=stats["validity_reason"])
    every = ledger["latency_s"].to_numpy(dtype=float)
    every = np.where(ok.to_numpy(), every, np.maximum(np.nan_to_num(every, nan=0.0), fail_at_s))
    for key, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        # Same rule as the success-only percentiles: reported only from the n whose order-statistic CI exists.
        enough = len(every) >= quantile_min_n(q / 100.0)
        row[f"latency_all_s_{key}"] = float(np.percentile(every, q)) if enough else math.nan
    row["latency_all_s_mean"] = float(every.mean()) if len(every) else math.nan
    n_all = len(ledger)
    met = ok & (ledger["latency_s"] <= slo.e2e_s) if slo.e2e_s else ok
    row["slo_miss_rate"] = float(1.0 - met.mean()) if n_all else math.nan
    row.update(availability_columns(_met_in_order(ledger, slo.e2e_s or 0.0)))
    failure = float(1.0 - ok.mean()) if n_all else 0.0
    timeouts = float((ledger["error_type"] == "RequestTimeout").mean()) if n_all else 0.0
    opens = int(((transitions["kind"] == "breaker") & (transitions["to_state"] == "open")).sum())
    row.update(failure_fraction=failure, timeout_fraction=timeouts,
               breaker_opens_per_1k=1000.0 * opens / n_all if n_all else math.nan)
    reasons = [r for r in (row["validity_reason"],) if r]
    if failure > FAILURES_DOMINATE:
        reasons.append(f"failures dominate: {failure:.1%} of requests failed ({timeouts:.1%} timed out)")
    if n_all and opens / n_all > BREAKER_OPENS_DOMINATE:
        reasons.append(f"breakers dominate: {1000.0 * opens / n_all:.1f} openings per 1000 requests")
    row.update(valid=not reasons, validity_reason="; ".join(reasons))
    wait = ledger.loc[ok, "queue_wait_s"].to_numpy(dtype=float)
    row["queue_wait_s_mean"] = float(wait.mean()) if len(wait) else math.nan
    row["queue_wait_s_p99"] = float(np.percentile(wait, 99)) if len(wait) else math.nan
    n = len(ledger)
    row["n_requests"] = n
    row["ok_rate"] = float(ok.mean()) if n else math.nan
    row["duration_s"] = duration_s
    row["throughput_rps"] = int(ok.sum()) / duration_s if duration_s > 0 else math.nan
    row.update(goodput(ledger, slo, duration_s))
    # A hedge is an extra attempt but not a retry (a ticket hedges at most once).
    row["retries"] = int((ledger["attempts"] - 1 - ledger["hedged"].astype(int)).clip(lower=0).sum())
    row["hedged"] = int(ledger["hedged"].sum())
    errors = ledger.loc[~ok, "error_type"].value_counts()
    for cause in ERROR_CAUSES:
        row[f"errors_{cause}"] = int(errors.get(cause, 0))
    row["errors_other"] = int(errors.drop(list(ERROR_CAUSES), errors="ignore").sum())
    is_breaker = transitions["kind"] == "breaker"
    row["breaker_opens"] = int((is_breaker & (transitions["to_state"] == "open")).sum())
    row["max_breakers_not_closed"] = _max_not_closed(transitions[is_breaker])
    row["health_changes"] = int((transitions["kind"] == "health").sum())
    load = ledger.loc[ok, "replica"].value_counts(normalize=True)
    row["replica_share_max"] = float(load.max()) if len(load) else math.nan
    row["replica_share_min"] = float(load.min()) if len(load) else math.nan
    return row


def availability_columns(met: Any, confidence: float = 0.95) -> dict[str, Any]:
    """Request availability from per-request outcomes in arrival order (True = answered ok within the SLO).

    ``availability`` = share met; ``availability_ci_low`` / ``_high`` its exact interval widened for bursts of
    failures (:func:`~blaze_lab.metrics.intervals.clustered_binomial_ci`: requests failing around one crash are not
    independent) with ``availability_deff`` the design effect it measured; ``availability_cp_low`` / ``_high`` the
    plain Clopper–Pearson interval, valid only for independent requests; ``availability_n`` / ``availability_ok``
    the counts.

    >>> cols = availability_columns([True] * 3000)
    >>> cols["availability"], round(cols["availability_ci_low"], 5), cols["availability_n"], cols["availability_deff"]
    (1.0, 0.99877, 3000, 1.0)
    """
    met = np.asarray(met, dtype=bool)
    n, ok = len(met), int(met.sum())
    if n == 0:
        nan = math.nan
        return {"availability": nan, "availability_ci_low": nan, "availability_ci_high": nan, "availability_n": 0,
                "availability_ok": 0, "availability_deff": nan, "availability_cp_low": nan, "availability_cp_high": nan}
    est, lo, hi, deff = clustered_binomial_ci(met, confidence=confidence)
    _, cp_lo, cp_hi = binomial_ci(ok, n, confidence)
    return {"availability": est, "availability_ci_low": lo, "availability_ci_high": hi, "availability_n": n,
            "availability_ok": ok, "availability_deff": deff, "availability_cp_low": cp_lo,
            "availability_cp_high": cp_hi}


def _met_in_order(ledger: pd.DataFrame, slo_s: float) -> np.ndarray:
    """Per request in arrival order (request ids; a ledger without them in its own order): answered ok within the
    SLO (``slo_s`` 0 = any ok answer)."""
    ordered = ledger.sort_values("request_id", kind="stable") if "request_id" in ledger.columns else ledger
    ok = ordered["outcome"] == "ok"
    met = ok & (ordered["latency_s"] <= slo_s) if slo_s else ok
    return met.to_numpy(dtype=bool)


def _max_not_closed(breaker_rows: pd.DataFrame) -> int:
    """Most breakers open or half-open at the same time (the size of a cascade)."""
    if breaker_rows.empty:
        return 0
    state: dict[str, bool] = {}
    most = 0
    for replica, to_state in zip(breaker_rows["replica"], breaker_rows["to_state"], strict=True):
        state[replica] = to_state != "closed"
        most = max(most, sum(state.values()))
    return most


def _stats(values: np.ndarray) -> dict[str, Any]:
    if len(values) <= _BOOTSTRAP_CAP:
        return summarize(values, report_p99=True, rules=RULES)
    sub = np.random.default_rng(0).choice(values, _BOOTSTRAP_CAP, replace=False)
    s = summarize(sub, report_p99=True, rules=RULES)
    std = float(values.std(ddof=1))
    mean = float(values.mean())
    p50, p90, p95, p99 = (float(x) for x in np.percentile(values, [50, 90, 95, 99]))
    s.update(n=len(values), mean=mean, std=std, cv=std / mean if mean else math.nan, p50=p50, p90=p90, p95=p95,
             p99=p99)
    reasons = validity_reasons(s, report_p99=True, rules=RULES)
    s.update(valid=not reasons, validity_reason="; ".join(reasons))
    return s


def _real_clock() -> Any:
    from blaze_lab.clock import RealClock

    return RealClock()


def _run_coroutine(factory: Any) -> Any:
    """Run a coroutine to completion, also from inside a running loop (a Jupyter kernel): then in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


__all__ = ["ERROR_CAUSES", "availability_columns", "benchmark_group", "run_one", "summarize_ledger", "summarize_run"]
