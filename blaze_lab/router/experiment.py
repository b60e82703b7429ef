"""What a :class:`~blaze_lab.router.config.RouterExperimentConfig` means, for both modes: its service model, its
workload (synthetic lengths, or a shared-prefix workload with block hashes) and its fault events.

The simulator and the live driver both build their runs from these functions, so the two modes serve the same
requests at the same arrival times with the same service law.

The arrival rate is ``load`` × the replicas' aggregate capacity, the capacity taken at the workload's mean prompt
and output lengths with *every* prompt token prefilled: ``load`` is relative to a fleet without prefix caching, so
cache hits show up as headroom (lower latency), not as a different offered load.

Example:
    >>> from blaze_lab.router.config import RouterExperimentConfig
    >>> cfg = RouterExperimentConfig(workload="prefix", n_requests=4, replicas=2, prefix_groups=2, prefix_tokens=64,
    ...                              suffix_tokens=16, prefill_s_per_token=0.001)
    >>> columns, rate = experiment_columns(cfg)
    >>> sorted(columns), len(columns["blocks"][0]) >= 4
    (['arrival_s', 'blocks', 'id', 'output_tokens', 'prompt_tokens', 'session'], True)
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import pandas as pd

from blaze_lab.errors import ConfigError
from blaze_lab.load.prefix import PrefixWorkloadConfig, prefix_columns, prefix_workload
from blaze_lab.load.requests import WorkloadConfig, workload_arrays
from blaze_lab.replicas.faults import FaultEvent
from blaze_lab.replicas.service import ServiceModel
from blaze_lab.router.config import RouterExperimentConfig
from blaze_lab.router.faults import crash_schedule, fault_events, schedule


def experiment_model(cfg: RouterExperimentConfig) -> ServiceModel:
    """The experiment's service model: fitted from ``cfg.calibration`` (a parquet of measured engine rows) when
    set, else ``base_latency_s`` / ``per_request_s`` / ``service_cv``; plus the per-token prefill/decode costs. Its
    reference time (what "40x" knobs multiply) is a lone request of the workload's mean lengths."""
    prompt, output = _mean_tokens(cfg)
    if not cfg.calibration:
        model = ServiceModel(cfg.base_latency_s, cfg.per_request_s, cfg.service_cv, cfg.service_dist)
    else:
        model = _fitted(cfg)
    return dataclasses.replace(model, prefill_s_per_token=cfg.prefill_s_per_token,
                               decode_s_per_token=cfg.decode_s_per_token, reference_prompt_tokens=prompt,
                               reference_output_tokens=output)


def _fitted(cfg: RouterExperimentConfig) -> ServiceModel:
    path = Path(cfg.calibration)
    if not path.is_file():
        raise ConfigError("router.calibration", cfg.calibration, reason="file not found")
    df = pd.read_parquet(path)
    if "status" in df.columns:
        df = df[df["status"] == "ok"]
    return ServiceModel.fit(df, distribution=cfg.service_dist)


def _mean_tokens(cfg: RouterExperimentConfig) -> tuple[float, float]:
    """Mean prompt and output tokens of the experiment's workload (what capacity is computed at)."""
    if cfg.workload == "prefix":
        return cfg.prefix_tokens + cfg.suffix_tokens, cfg.output_tokens
    w = WorkloadConfig()
    return w.prompt_mean, w.output_mean


def experiment_workload(
    cfg: RouterExperimentConfig, model: ServiceModel | None = None
) -> tuple[WorkloadConfig | PrefixWorkloadConfig, float]:
    """The workload config of an experiment and its arrival rate (``load`` × aggregate capacity, module docstring)."""
    model = model or experiment_model(cfg)
    prompt, output = _mean_tokens(cfg)
    capacity = sum(model.capacity_rps(cfg.replica_slots, s, prompt, output) for s in cfg.replica_speeds())
    rate = cfg.load * capacity
    if cfg.workload == "prefix":
        pw = PrefixWorkloadConfig(
            n_requests=cfg.n_requests, n_groups=cfg.prefix_groups, conversation_share=cfg.conversation_share,
            prefix_dist="fixed", prefix_mean=cfg.prefix_tokens, suffix_dist="lognormal", suffix_mean=cfg.suffix_tokens,
            output_dist="fixed", output_mean=cfg.output_tokens, zipf_s=cfg.prefix_zipf_s,
            block_tokens=cfg.block_tokens, arrival=cfg.arrival, rate=rate,
            seed=cfg.seed,
        )
        return pw, rate
    w = WorkloadConfig(n_requests=cfg.n_requests, rate=rate, arrival=cfg.arrival, burstiness_cv=cfg.burstiness_cv,
                       sessions=cfg.sessions, seed=cfg.seed)
    return w, rate


@functools.lru_cache(maxsize=8)
def _prefix_columns(workload: PrefixWorkloadConfig) -> dict[str, np.ndarray]:
    # Runs of a sweep differ in strategy and faults far more often than in workload: hashing the prompts' blocks
    # once per workload (not once per run) keeps a 90-run experiment within minutes. Nobody mutates the columns.
    return prefix_columns(prefix_workload(workload), workload.block_tokens)


def experiment_columns(
    cfg: RouterExperimentConfig, model: ServiceModel | None = None
) -> tuple[dict[str, np.ndarray], float]:
    """The experiment's requests as columns (:func:`~blaze_lab.load.requests.iter_requests` reads them) and rate."""
    workload, rate = experiment_workload(cfg, model)
    if isinstance(workload, PrefixWorkloadConfig):
        return _prefix_columns(workload), rate
    return workload_arrays(workload), rate


def experiment_faults(cfg: RouterExperimentConfig, duration_s: float, model: ServiceModel) -> list[FaultEvent]:
    """The preset ``fault``, the grammar ``faults`` and the ``mtbf_s`` crash schedule of an experiment as absolute
    events (both modes)."""
    events = schedule(cfg.fault, duration_s, cfg.replicas, model.reference_s)
    events += fault_events(cfg.faults, duration_s, cfg.replicas, model.reference_s, seed=cfg.seed)
    events += crash_schedule(cfg.mtbf_s, cfg.restart_s, duration_s, cfg.replicas, seed=cfg.seed)
    return sorted(events, key=lambda e: (e.time_s, e.replica, not e.on))


def count_crashes(events: list[FaultEvent]) -> int:
    """Crashes in a fault schedule (its crash on-events)."""
    return sum(e.kind == "crash" and e.on for e in events)


__all__ = ["count_crashes", "experiment_columns", "experiment_faults", "experiment_model", "experiment_workload"]
