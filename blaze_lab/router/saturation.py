"""Sweep to saturation for the router kind (``schedule: saturation``, simulated): the schedule of
:mod:`blaze_lab.load.saturation` run on a fleet of simulated replicas behind the router.

One config is measured as a sequence of simulated steps, each a run of :func:`~blaze_lab.router.simulate.simulate`
with the config's strategy, fleet, service model and seed (deterministic for a seed):

1. **synchronous** — ``n_requests / 10`` (at least 20, at most 500) requests spaced 20 × the slowest replica's mean
   service time apart, so none overlaps another: W₀ = their mean latency, r_sync = 1 / W₀;
2. **throughput** — 10 requests per replica slot all at once (every slot busy for ~10 service times, well inside
   the attempt timeout): r_max = completed / window;
3. **rates** — ``saturation_steps`` rates (``arrival``) up to ``saturation_overshoot`` × r_max, each
   rate × ``saturation_step_s`` requests (at least ``n_requests``).

Each rate step is stopped early when :class:`~blaze_lab.load.saturation.OversaturationDetector` fires on the
requests in flight at each arrival. The simulator is causal — what happens before an arrival never depends on
later arrivals — so the in-flight trace of the full step up to the arrival where the detector fires is the one an
online detector would have seen; the step is then re-simulated with only the arrivals before it (the same
workload's first ``k`` requests: its streams are drawn in order), which is exactly "arrivals stop, those in
flight finish".

Per config the summary row carries the knee step's statistics (the operating point), ``knee_*``,
``max_rate_slo_rps`` with ``max_rate_slo_ci_low`` / ``max_rate_slo_ci_high`` (Wilson crossings at
``slo_target``), ``sync_rps``, ``max_throughput_rps``, ``oversaturated_steps`` and, with ``scaling_baseline``, the
same schedule on one replica (``baseline_max_rate_slo_rps``, ``baseline_knee_rps``) and
``scaling_efficiency`` = max_rate_slo_rps / (replicas × baseline) (``knee_scaling_efficiency`` likewise). The raw
frame holds one row per step (``row_kind="saturation_step"``).

Example:
    >>> from blaze_lab.router.config import RouterExperimentConfig
    >>> cfg = RouterExperimentConfig(replicas=2, n_requests=400, schedule="saturation", saturation_steps=3)
    >>> summary, steps = run_saturation(cfg)
    >>> steps["step_kind"].tolist()
    ['synchronous', 'throughput', 'rate', 'rate', 'rate']
    >>> bool(steps["oversaturated"].iloc[-1]), summary["knee_rps"] < summary["max_throughput_rps"]
    (True, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.load.saturation import (
    NO_SLO_RATE,
    OversaturationDetector,
    detector_window,
    in_flight_at_arrivals,
    knee,
    max_rate_meeting_slo,
    rate_schedule,
)
from blaze_lab.router.config import RouterExperimentConfig
from blaze_lab.router.simulate import experiment_model, simulate

SYNC_SPACING = 20.0  # synchronous probe: arrivals this many slowest-replica service times apart
ROUNDS_PER_SLOT = 10  # throughput probe: requests per replica slot, all at once
STEP_COLUMNS = ("step", "step_kind", "offered_rps", "arrived_rps", "requests_planned", "requests_sent",
                "requests_per_s", "latency_s_p50", "latency_s_p99", "latency_s_mean", "slo_attainment", "slo_met",
                "goodput_rps", "ok_rate", "oversaturated", "oversaturation_reason", "stopped_at_s")


def capacity_rps(cfg: RouterExperimentConfig) -> float:
    """The fleet's nominal capacity (what ``load = 1`` means): the service model's rate with every slot busy."""
    model = experiment_model(cfg)
    return float(sum(model.capacity_rps(cfg.replica_slots, s) for s in cfg.replica_speeds()))


def _run(cfg: RouterExperimentConfig, rate: float, n: int, arrival: str) -> tuple[dict[str, Any], pd.DataFrame]:
    from blaze_lab.router.bench import summarize_run  # local: bench imports this module

    step = cfg.replace(schedule="fixed", load=rate / capacity_rps(cfg), n_requests=n, arrival=arrival,
                       scaling_baseline=False)
    res = simulate(step)
    row, _ = summarize_run(step, res)
    return row, res.ledger


def _step_row(kind: str, offered: float, planned: int, row: dict[str, Any], ledger: pd.DataFrame,
              reason: str = "", stopped_at: float = math.nan) -> dict[str, Any]:
    arrivals = np.sort(ledger["arrival_s"].to_numpy(dtype=float))
    span = float(arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    return {"step_kind": kind, "offered_rps": offered,
            "arrived_rps": (len(arrivals) - 1) / span if span > 0 else math.nan,
            "requests_planned": planned, "requests_sent": len(ledger), "requests_per_s": row["throughput_rps"],
            **{k: row[k] for k in ("latency_s_p50", "latency_s_p99", "latency_s_mean", "slo_attainment", "slo_met",
                                   "goodput_rps", "ok_rate")},
            "oversaturated": bool(reason), "oversaturation_reason": reason, "stopped_at_s": stopped_at,
            "_row": row}


def schedule_steps(cfg: RouterExperimentConfig) -> pd.DataFrame:
    """Simulate the saturation schedule of ``cfg``: one row per step (:data:`STEP_COLUMNS`, plus ``_row``: the
    step's full router summary)."""
    model = experiment_model(cfg)
    slowest = model.reference_s * max(cfg.replica_speeds())
    n_sync = int(min(500, max(20, cfg.n_requests // 10)))
    steps: list[dict[str, Any]] = []
    row, ledger = _run(cfg, 1.0 / (SYNC_SPACING * slowest), n_sync, "constant")
    steps.append(_step_row("synchronous", math.nan, n_sync, row, ledger))
    w0 = float(row["latency_s_mean"])
    n_max = ROUNDS_PER_SLOT * cfg.replica_slots * cfg.replicas
    # "constant" arrivals a microsecond of fleet capacity apart: all at once, in request order
    row, ledger = _run(cfg, 1e6 * capacity_rps(cfg), n_max, "constant")
    steps.append(_step_row("throughput", math.nan, n_max, row, ledger))
    sync_rps = 1.0 / w0 if w0 > 0 else math.nan
    step_s = cfg.seconds("saturation_step_s", model.reference_s)
    for rate in rate_schedule(sync_rps, float(row["throughput_rps"]), cfg.saturation_steps,
                              cfg.saturation_overshoot):
        planned = max(cfg.n_requests, math.ceil(rate * step_s))
        row, ledger = _run(cfg, rate, planned, cfg.arrival)
        order = ledger.sort_values("arrival_s", kind="stable")
        times = order["arrival_s"].to_numpy(dtype=float)
        in_flight = in_flight_at_arrivals(times, order["finish_s"].to_numpy(dtype=float))
        detector = OversaturationDetector(rate, w0, window_s=detector_window(rate, w0))
        stop = next((i for i, (t, n) in enumerate(zip(times, in_flight, strict=True))
                     if detector.observe(float(t), int(n))), None)
        if stop is not None and stop > 1:
            row, ledger = _run(cfg, rate, stop, cfg.arrival)  # the same step with arrivals ending where it fired
        steps.append(_step_row("rate", rate, planned, row, ledger, detector.reason, detector.fired_at_s))
    return pd.DataFrame(steps).assign(step=range(len(steps)))


def saturation_summary(cfg: RouterExperimentConfig, steps: pd.DataFrame) -> dict[str, Any]:
    """The summary columns of one schedule (see the module docstring)."""
    w0 = float(steps.iloc[0]["latency_s_mean"])
    found = knee(steps, w0)
    rates = steps[steps["step_kind"] == "rate"]
    best = max_rate_meeting_slo(rates, cfg.slo_target, "arrived_rps") if len(rates) else {
        **NO_SLO_RATE, "slo_target_attainment": cfg.slo_target}
    at = steps.iloc[found["knee_step"] if found["knee_step"] >= 0 else 0]
    out: dict[str, Any] = dict(at["_row"])
    out.update(found)
    out.update(best)
    out.update(sync_rps=1.0 / w0 if w0 > 0 else math.nan, sync_latency_s=w0,
               max_throughput_rps=float(steps.iloc[1]["requests_per_s"]),
               saturation_steps_run=len(steps), oversaturated_steps=int(steps["oversaturated"].sum()))
    return out


def run_saturation(cfg: RouterExperimentConfig) -> tuple[dict[str, Any], pd.DataFrame]:
    """``(summary metrics, one raw row per step)`` of ``cfg``'s schedule, with the one-replica baseline when
    ``cfg.scaling_baseline`` is set."""
    steps = schedule_steps(cfg)
    summary = saturation_summary(cfg, steps)
    if cfg.scaling_baseline:
        base = summary if cfg.replicas == 1 else saturation_summary(
            cfg, schedule_steps(cfg.replace(replicas=1, speeds=(), weights=(), scaling_baseline=False)))
        summary.update(baseline_max_rate_slo_rps=base["max_rate_slo_rps"], baseline_knee_rps=base["knee_rps"],
                       scaling_efficiency=_efficiency(summary["max_rate_slo_rps"], base["max_rate_slo_rps"],
                                                      cfg.replicas),
                       knee_scaling_efficiency=_efficiency(summary["knee_rps"], base["knee_rps"], cfg.replicas))
    raw = steps.drop(columns="_row").assign(row_kind="saturation_step", iteration=lambda d: d["step"])
    raw["knee"] = raw["step"] == summary["knee_step"]
    raw = raw.rename(columns={c: f"step_{c}" for c in STEP_COLUMNS
                              if c not in ("step", "step_kind", "oversaturated", "oversaturation_reason")})
    return summary, raw


def _efficiency(rate: float, baseline: float, replicas: int) -> float:
    return float(rate / (replicas * baseline)) if baseline > 0 and math.isfinite(baseline) else math.nan


__all__ = ["STEP_COLUMNS", "capacity_rps", "run_saturation", "saturation_summary", "schedule_steps"]
