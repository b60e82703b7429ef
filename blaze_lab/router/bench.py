"""Router benchmark entry point for the sweep notebook: runs → (summary frame, raw frame).

Each run is a :class:`~blaze_lab.router.config.RouterExperimentConfig` (``router.*`` columns), simulated
(``mode="sim"``) or run live over fake engines (``mode="live"``). The summary has one row per run: latency
statistics of successful requests (``latency_s_*`` with bootstrap CIs and validity), queue wait, goodput under the
latency SLO, throughput, retries, hedges, errors by cause (``errors_<Type>``), breaker openings, per-replica load
spread and, for live runs, the engine manager's recovery time. The raw frame holds the decision ledger (one row per
request, ``row_kind="request"``) plus breaker/health transitions (``row_kind="transition"``) and, live, engine
lifecycle events (``row_kind="lifecycle"``). ``reference`` and ``measure`` are accepted for the notebook contract;
routing runs have no quality reference and are sized by ``n_requests`` rather than by measurement settings.

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
from blaze_lab.metrics.loop import run_configs
from blaze_lab.metrics.stats import STAT_SUFFIXES, ValidityRules, summarize, validity_reasons
from blaze_lab.router.config import RouterExperimentConfig
from blaze_lab.router.simulate import simulate

ERROR_CAUSES = ("EngineError", "EngineUnavailable", "CircuitOpenError", "RequestTimeout", "Overloaded")
# Bootstrap CIs on at most this many samples (a 1000 × 1M resample matrix would not fit in memory); percentiles,
# mean and std always use every sample.
_BOOTSTRAP_CAP = 5000
# Per-request latencies spread widely by design (queueing, faults): that spread is what is studied, not measurement
# noise, so the CV rule is off; too few samples for p99 still invalidates a row.
RULES = ValidityRules(cv_threshold=math.inf)


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


def run_one(cfg: RouterExperimentConfig) -> tuple[dict[str, Any], pd.DataFrame]:
    """One experiment → (summary metrics, raw rows)."""
    wall0 = time.perf_counter()
    extra: dict[str, Any] = {}
    if cfg.mode == "sim":
        res: Any = simulate(cfg)
        extra["sim_events"] = res.events
        lifecycle = pd.DataFrame()
        recovery = math.nan
    else:
        from blaze_lab.router.live import run_live_async

        res = _run_coroutine(lambda: run_live_async(cfg, _real_clock()))
        lifecycle = res.manager_events
        rec = lifecycle.loc[lifecycle["event"] == "recovered", "recovery_s"]
        recovery = float(rec.mean()) if len(rec) else math.nan
        extra["lost"] = res.lost
    wall = time.perf_counter() - wall0
    ledger: pd.DataFrame = res.ledger
    row = summarize_ledger(ledger, res.transitions, res.duration_s, SLO(e2e_s=cfg.slo_latency_s))
    row.update(extra, wall_s=wall, requests_per_wall_s=len(ledger) / wall if wall > 0 else math.nan,
               recovery_s=recovery, max_queue=res.max_waiting)
    raw = ledger.assign(row_kind="request", iteration=ledger["request_id"])
    parts = [raw, res.transitions.assign(row_kind="transition")]
    if len(lifecycle):
        renamed = lifecycle.rename(columns={"event": "to_state", "detail": "reason", "status": "engine_status"})
        parts.append(renamed.assign(row_kind="lifecycle"))
    return row, pd.concat(parts, ignore_index=True)


def summarize_ledger(
    ledger: pd.DataFrame, transitions: pd.DataFrame, duration_s: float, slo: SLO
) -> dict[str, Any]:
    """Summary metrics of one run's ledger (pure: frame in, dict out)."""
    ok = ledger["outcome"] == "ok"
    latency = ledger.loc[ok, "latency_s"].to_numpy(dtype=float)
    row: dict[str, Any] = {}
    stats = _stats(latency)
    for key in STAT_SUFFIXES:
        row[f"latency_s_{key}"] = stats[key]
    row.update(n=stats["n"], valid=stats["valid"], validity_reason=stats["validity_reason"])
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
    row["health_changes"] = int((transitions["kind"] == "health").sum())
    load = ledger.loc[ok, "replica"].value_counts(normalize=True)
    row["replica_share_max"] = float(load.max()) if len(load) else math.nan
    row["replica_share_min"] = float(load.min()) if len(load) else math.nan
    return row


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


__all__ = ["ERROR_CAUSES", "benchmark_group", "run_one", "summarize_ledger"]
