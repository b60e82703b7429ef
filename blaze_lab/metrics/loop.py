"""The one measurement loop: every kind's configs become summary and raw rows here, and only here.

A kind supplies "measure one config"; :func:`run_configs` owns everything around it, the same way for every kind:

- **ids and config columns**: ``run_id``, ``config_hash``, ``engine`` and the config's dotted columns with dtypes
  taken from the config class's field types (so frames of different groups concatenate without ``object`` drift);
- **failures**: ANY exception while opening, warming up, measuring or finishing a config becomes a row —
  ``unsupported`` / ``oom`` / ``error`` (:mod:`blaze_lab.metrics.failures`) with the stage and the exception type —
  and the other configs of the group go on;
- **order**: summary rows come back in input order; raw rows grouped by run in input order;
- **protocol** for repeated calls (LLM, diffusion): warm-up until stable (bounded), then configs that share a load
  are measured *interleaved* — round ``r`` calls every still-running config once, in an order rotated by one each
  round from a seeded start (recorded as ``order_seed``; raw rows carry ``round`` and ``position``) — so slow drift of
  the machine spreads over all configs instead of favouring whoever runs last; each config stops on its own rule
  (``min_iters`` and ``min_duration_s`` reached and, when set, the CI half-width target; or ``max_iters``; or its
  measured-time cap ``max_duration_s``, which leaves the row ``valid=False`` with the achieved half-width);
- **busy machine**: each call is bracketed by :class:`~blaze_lab.metrics.contention.ContentionProbe` snapshots; a
  contended row is ``valid=False`` with the figures in its reason; thread settings are recorded in every row;
- **raw → summary** through :func:`blaze_lab.metrics.recorder.summarize_frame` semantics: sampled metrics get the
  statistics of :mod:`blaze_lab.metrics.stats`, ratio metrics (throughput = total tokens / total time) their
  estimator, peak metrics their maximum.

Kinds whose one config is one whole experiment (router, serving) implement :class:`OneShot`; kinds measured by
repeated calls implement :class:`Measurer` (``open(config) -> Trial``).

Example (a toy kind on a virtual clock):
    >>> from blaze_lab.clock import VirtualClock
    >>> from blaze_lab.config import BaseConfig
    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class Toy(BaseConfig):
    ...     PREFIX = "toy"
    ...     cost_s: float = 0.5
    >>> clock = VirtualClock()
    >>> class ToyTrial:
    ...     columns = {}
    ...     def __init__(self, cfg): self.cfg = cfg
    ...     def call(self, i):
    ...         clock.advance(self.cfg.cost_s)
    ...         return {"latency_s": self.cfg.cost_s}
    ...     def finish(self, rows): return {}
    >>> class ToyMeasurer:
    ...     def open(self, cfg): return ToyTrial(cfg)
    >>> spec = MetricSpec(sampled=("latency_s",), primary="latency_s")
    >>> summary, raw = run_configs("toy", [("a", Toy(0.5)), ("b", Toy(0.25))], ToyMeasurer(), spec,
    ...                            settings=MeasureSettings(min_iters=5), clock=clock, probe=None, progress=False)
    >>> summary[["run_id", "status", "n", "latency_s_mean", "stopped_by"]].values.tolist()
    [['a', 'ok', 5, 0.5, 'ci_target'], ['b', 'ok', 5, 0.25, 'ci_target']]
    >>> sorted(set(raw["position"]))  # -1: warm-up calls (``warmup=True``)
    [-1, 0, 1]
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.clock import Clock, RealClock
from blaze_lab.config import BaseConfig
from blaze_lab.metrics import stats
from blaze_lab.metrics.contention import ContentionProbe, row_contention, thread_settings
from blaze_lab.metrics.failures import classify_failure
from blaze_lab.metrics.measurer import Measurer, MetricSpec, OneShot, Ratio, Trial
from blaze_lab.metrics.recorder import config_frame
from blaze_lab.metrics.timing import MeasureSettings
from blaze_lab.metrics.warmup import WarmupRule

# -- the loop ---------------------------------------------------------------------------------------------------


def run_configs(
    kind: str,
    runs: Sequence[tuple[str, BaseConfig]],
    measurer: Measurer | OneShot,
    metrics: MetricSpec | None = None,
    *,
    settings: MeasureSettings | None = None,
    clock: Clock | None = None,
    extra: Mapping[str, Any] | None = None,
    env: Mapping[str, Any] | None = None,
    probe: ContentionProbe | str | None = "auto",
    progress: bool = True,
    order_seed: int | None = None,
    warmup_rule: WarmupRule | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure ``runs`` (``[(run_id, config)]``) of one kind; returns ``(summary, raw)`` in input order.

    ``measurer`` is a :class:`Measurer` (repeated calls; ``metrics`` required) or a :class:`OneShot`. ``extra``
    columns go on every row (``sweep``, ``group``); ``env`` defaults to the environment fingerprint. ``probe``:
    the busy-machine probe (``"auto"``: one for the CPU; None: off, e.g. on a virtual clock).
    """
    if env is None:
        from blaze_lab.env import fingerprint

        env = fingerprint()
    ctx = _Context(
        kind=kind,
        settings=settings or MeasureSettings(),
        clock=clock or RealClock(),
        extra=dict(extra or {}),
        env={**env, **{f"env.{k}": v for k, v in thread_settings().items()}},
        probe=ContentionProbe() if probe == "auto" else probe if isinstance(probe, ContentionProbe) else None,
        order_seed=order_seed if order_seed is not None else (settings or MeasureSettings()).order_seed,
        warmup_rule=warmup_rule or WarmupRule(),
    )
    bar = _progress(len(runs), kind, progress)
    results: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    if hasattr(measurer, "run_one"):
        for i, (run_id, config) in enumerate(runs):
            results[i] = _one_shot(ctx, measurer, run_id, config)  # type: ignore[arg-type]
            bar.update(1)
    else:
        if metrics is None:
            raise TypeError("run_configs: a repeated-call Measurer needs a MetricSpec")
        for indices in _clusters(measurer, runs):
            results.update(_repeated(ctx, measurer, metrics, runs, indices, bar))
    bar.close()
    summary_rows = [results[i][0] for i in range(len(runs))]
    raw_rows = [row for i in range(len(runs)) for row in results[i][1]]
    configs = [config for _, config in runs]
    return config_frame(summary_rows, configs, summary=True), config_frame(raw_rows, configs, summary=False)


@dataclasses.dataclass
class _Context:
    kind: str
    settings: MeasureSettings
    clock: Clock
    extra: dict[str, Any]
    env: dict[str, Any]
    probe: ContentionProbe | None
    order_seed: int
    warmup_rule: WarmupRule

    def base(self, run_id: str, config: BaseConfig) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "config_hash": config.config_hash(),
            "engine": self.kind,
            **self.extra,
            **config.flat(),
        }

    def failure(self, base: Mapping[str, Any], stage: str, exc: BaseException, capability: bool) -> dict[str, Any]:
        status, reason = classify_failure(exc, capability_stage=capability and stage in ("load", "warmup"))
        return {
            **base,
            "status": status,
            "error": f"[{stage}] {reason}",
            "error_type": type(exc).__name__,
            "n": 0,
            "valid": False,
            "validity_reason": f"status={status}",
            "contended": False,
            **self.env,
        }


def _progress(total: int, kind: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"{kind} configs", disable=not enabled, leave=False)


def _one_shot(
    ctx: _Context, measurer: OneShot, run_id: str, config: BaseConfig
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    base = ctx.base(run_id, config)
    sensitive = bool(getattr(measurer, "timing_sensitive", lambda c: True)(config))
    before = ctx.probe.snapshot() if ctx.probe is not None and sensitive else None
    try:
        cols, raw = measurer.run_one(config)
    except Exception as exc:  # any failure of one run is a row; the group goes on
        return ctx.failure(base, "run", exc, capability=False), []
    row = {**base, "status": "ok", "error": "", "error_type": "", **cols}
    if before is not None and ctx.probe is not None:
        busy = ctx.probe.since(before)
        contended, reason, summary_cols = row_contention([busy])
        row.update(summary_cols, contended=contended)
        if contended:
            row["valid"] = False
            row["validity_reason"] = "; ".join(r for r in (str(row.get("validity_reason") or ""), reason) if r)
    else:
        row["contended"] = False
    row.update(ctx.env)
    # ids on raw rows; config columns too when the kind asks (a router ledger of 10^6 requests does not)
    with_config = bool(getattr(measurer, "raw_with_config", False))
    keep = base if with_config else {k: v for k, v in base.items() if "." not in k}
    env = ctx.env if with_config else {}
    raw_rows = [{**keep, **r, **env} for r in raw.to_dict("records")] if len(raw) else []
    return row, raw_rows


def _clusters(measurer: Measurer, runs: Sequence[tuple[str, BaseConfig]]) -> list[list[int]]:
    key_of: Callable[[Any], Hashable] = getattr(measurer, "cluster", lambda c: c.load_key())
    clusters: dict[Hashable, list[int]] = {}
    for i, (_, config) in enumerate(runs):
        clusters.setdefault(key_of(config), []).append(i)
    order = getattr(measurer, "cluster_order", None)
    keys = list(order(list(clusters))) if order is not None else list(clusters)
    return [clusters[k] for k in keys]


@dataclasses.dataclass
class _Active:
    index: int
    trial: Trial
    base: dict[str, Any]
    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    warmup_rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    measured_s: float = 0.0
    stopped_by: str = ""
    warmup_stable: bool = False
    failed: dict[str, Any] | None = None


def _repeated(
    ctx: _Context,
    measurer: Measurer,
    metrics: MetricSpec,
    runs: Sequence[tuple[str, BaseConfig]],
    indices: list[int],
    bar: Any,
) -> dict[int, tuple[dict[str, Any], list[dict[str, Any]]]]:
    out: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    capability: Callable[[Any], bool] = getattr(measurer, "capability", lambda c: False)
    active: list[_Active] = []
    try:
        for i in indices:
            run_id, config = runs[i]
            base = ctx.base(run_id, config)
            try:
                trial = measurer.open(config)
            except Exception as exc:
                out[i] = (ctx.failure(base, "load", exc, capability(config)), [])
                bar.update(1)
                continue
            state = _Active(i, trial, {**base, **trial.columns})
            try:
                _warm_up(ctx, state, metrics.primary)
            except Exception as exc:
                out[i] = (ctx.failure(state.base, "warmup", exc, capability(config)), state.warmup_rows)
                bar.update(1)
                continue
            active.append(state)
        _interleave(ctx, metrics.primary, active)
        for state in active:
            out[state.index] = _finish(ctx, metrics, state, capability(runs[state.index][1]))
            bar.update(1)
    finally:
        release = getattr(measurer, "release", None)
        if release is not None:
            key_of = getattr(measurer, "cluster", lambda c: c.load_key())
            release(key_of(runs[indices[0]][1]))
    return out


def _timed_call(ctx: _Context, state: _Active, iteration: int) -> tuple[dict[str, Any], float]:
    before = ctx.probe.snapshot() if ctx.probe is not None else None
    t0 = ctx.clock.now()
    row = dict(state.trial.call(iteration))
    elapsed = ctx.clock.now() - t0
    if before is not None and ctx.probe is not None:
        row.update(ctx.probe.since(before))
    return row, elapsed


def _warm_up(ctx: _Context, state: _Active, primary: str) -> None:
    s = ctx.settings
    values: list[float] = []
    spent = 0.0
    if s.warmup == 0:
        return  # warm-up off by request; the row says so
    for w in range(s.warmup_max):
        row, elapsed = _timed_call(ctx, state, -1 - w)
        spent += elapsed
        values.append(float(row.get(primary, math.nan)))
        state.warmup_rows.append(
            {
                **state.base,
                **row,
                "iteration": -1 - w,
                "round": -1,
                "position": -1,
                "warmup": True,
                "call_s": elapsed,
                "status": "ok",
            }
        )
        if w + 1 >= s.warmup and ctx.warmup_rule.stable(values):
            state.warmup_stable = True
            return
        if spent >= s.warmup_max_s:
            return


def _interleave(ctx: _Context, primary: str, active: list[_Active]) -> None:
    """Rounds over the configs still running; each round's order rotates by one from a seeded start."""
    s = ctx.settings
    running = list(active)
    start = random.Random(ctx.order_seed).randrange(len(running)) if running else 0
    r = 0
    while running:
        shift = (start + r) % len(running)
        order = running[shift:] + running[:shift]
        for position, state in enumerate(order):
            iteration = len(state.rows)
            try:
                row, elapsed = _timed_call(ctx, state, iteration)
            except Exception as exc:
                state.failed = {"exc": exc}
                running.remove(state)
                continue
            state.measured_s += elapsed
            state.rows.append(
                {
                    **state.base,
                    **row,
                    "iteration": iteration,
                    "round": r,
                    "position": position,
                    "warmup": False,
                    "call_s": elapsed,
                    "status": "ok",
                }
            )
            reason = _stop_reason(s, state, primary)
            if reason:
                state.stopped_by = reason
                running.remove(state)
        r += 1


def _stop_reason(s: MeasureSettings, state: _Active, primary: str) -> str:
    n = len(state.rows)
    if n >= s.max_iters:
        return "max_iters"
    if state.measured_s >= s.max_duration_s:
        return "time_cap"
    if n < s.min_iters or state.measured_s < s.min_duration_s:
        return ""
    if s.target_ci_rel is None:
        return "min_duration" if s.min_duration_s > 0 else "min_iters"
    values = [float(r[primary]) for r in state.rows if r.get(primary) == r.get(primary)]
    rel = _relative_half_width(values)
    return "ci_target" if rel <= s.target_ci_rel else ""


def _relative_half_width(values: Sequence[float]) -> float:
    if len(values) < 2:
        return math.inf
    mean = float(np.mean(values))
    half = stats.ci_half_width(values)
    return half / abs(mean) if mean and half == half else math.inf


def _finish(
    ctx: _Context, metrics: MetricSpec, state: _Active, capability: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    raw = state.warmup_rows + state.rows
    if state.failed is not None:
        return ctx.failure(state.base, "measure", state.failed["exc"], capability), raw
    try:
        extra = state.trial.finish(state.rows)
    except Exception as exc:
        return ctx.failure(state.base, "finish", exc, capability), raw
    row = {**state.base, "status": "ok", "error": "", "error_type": "", **_summarize(ctx, metrics, state), **extra}
    row.update(ctx.env)
    return row, [{**r, **ctx.env} for r in raw]


def _summarize(ctx: _Context, metrics: MetricSpec, state: _Active) -> dict[str, Any]:
    s = ctx.settings
    rows = state.rows
    values: dict[str, Sequence[float]] = {
        m: [float(r[m]) for r in rows if m in r and r[m] == r[m]] for m in metrics.sampled
    }
    ratios = {
        ratio.name: ([float(r[ratio.numerator]) for r in rows], [float(r[ratio.denominator]) for r in rows])
        for ratio in metrics.ratios
    }
    rel = _relative_half_width(values.get(metrics.primary, []))
    target = None if s.target_ci_rel is None else state.stopped_by == "ci_target" or rel <= s.target_ci_rel
    rules = dataclasses.replace(stats.DEFAULT_RULES, target_ci_rel=s.target_ci_rel or stats.DEFAULT_RULES.target_ci_rel)
    cols = stats.summarize_columns(
        dict(values), primary=metrics.primary, ratios=ratios, ci_target_met=target, ci_rel_half_width=rel, rules=rules
    )
    for m in metrics.peaks:
        present = [r[m] for r in rows if m in r and r[m] == r[m]]
        cols[m] = max(present) if present else math.nan
    for m in metrics.totals:
        cols[f"{m}_total"] = float(sum(r.get(m, 0.0) for r in rows))
    reasons = [cols["validity_reason"]] if cols.get("validity_reason") else []
    if state.stopped_by == "time_cap" and target is False:
        reasons.append(f"stopped by the {s.max_duration_s:g}s time cap")
    if s.warmup == 0:
        reasons.append("no warm-up (measure.warmup=0)")
    elif not state.warmup_stable:
        reasons.append(f"warm-up not stable after {len(state.warmup_rows)} calls")
    contended, busy_reason, busy_cols = row_contention(rows)
    if contended:
        reasons.append(busy_reason)
    cols.update(busy_cols)
    cols.update(
        contended=contended,
        valid=not reasons,
        validity_reason="; ".join(reasons),
        ci_half_width_rel=rel,
        duration_s=state.measured_s,
        stopped_by=state.stopped_by,
        warmup_calls=len(state.warmup_rows),
        warmup_stable=state.warmup_stable,
        order_seed=ctx.order_seed,
        # what combining replications needs to recompute the estimates (blaze_lab.sweep.replications)
        primary_metric=metrics.primary,
        ratio_metrics=";".join(f"{r.name}={r.numerator}/{r.denominator}" for r in metrics.ratios),
    )
    return cols


__all__ = ["Measurer", "MetricSpec", "OneShot", "Ratio", "Trial", "run_configs"]
