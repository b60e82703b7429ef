"""Running the saturation schedule live against one batcher (``schedule: saturation``).

:func:`run_saturation` measures the synchronous probe, the max-throughput probe and the interpolated rate steps
(:mod:`blaze_lab.load.saturation`) on one started server, and returns one row per step and one row per request
(tagged with its step). :func:`saturation_result` turns them into the serving kind's summary columns (the knee
step's request statistics, the knee, the max rate meeting the SLO with its interval) and raw rows.

Example:
    >>> cfg = ServingConfig(model="random:tiny-llama", schedule="saturation", n_requests=8, new_tokens=4)
    >>> steps, requests = run_saturation(cfg)             # doctest: +SKIP
    >>> steps[["step_kind", "offered_rps", "requests_per_s", "oversaturated"]]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from blaze_lab.clock import Clock, RealClock
from blaze_lab.load.arrivals import arrival_times
from blaze_lab.load.saturation import (
    NO_SLO_RATE,
    OversaturationDetector,
    detector_window,
    knee,
    max_rate_meeting_slo,
    rate_schedule,
)
from blaze_lab.serving.batching import make_server
from blaze_lab.serving.bench import ServingRun, drive_open_loop, run_async, serving_prompts, summarize_run
from blaze_lab.serving.config import ServingConfig
from blaze_lab.serving.handles import OK

STEP_COLUMNS = ("arrived_rps", "requests_sent", "requests_planned", "stopped_at_s", "latency_s_p50", "ttft_s_p50",
                "tpot_s_p50", "tokens_per_s", "requests_per_s", "slo_attainment", "goodput_rps")


async def _synchronous(server: Any, prompts: list[str], new_tokens: int, clock: Clock) -> ServingRun:
    t0 = clock.now()
    rows, itl = [], []
    for i, prompt in enumerate(prompts):
        arrival = clock.now() - t0
        handle = server.submit(prompt, new_tokens)
        await handle.result()
        row = {**handle.row(), "request": i, "arrival_s": arrival}
        rows.append(row)
        if row["outcome"] == OK:
            itl.extend(handle.itl_s())
    return ServingRun(rows=rows, itl_s=itl, batches=[], duration_s=max(clock.now() - t0, 1e-9))


async def _schedule(config: ServingConfig, engine: Any, clock: Clock, warmup: bool) -> tuple[list[dict[str, Any]],
                                                                                          list[dict[str, Any]]]:
    loaded = engine.load()
    prompts = serving_prompts(loaded.tokenizer, config)
    server = make_server(config, engine, clock=clock)
    await server.start()
    steps: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []

    def record(kind: str, offered: float, run: ServingRun, planned: int, reason: str = "",
               stopped_at: float = math.nan) -> None:
        step = len(steps)
        summary = summarize_run(config.replace(rate_rps=offered if offered > 0 else config.rate_rps), run)
        sent = sorted(r["arrival_s"] for r in run.rows)
        # what the load generator really sent: on a busy machine the event loop can fall behind the schedule
        arrived = (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 and sent[-1] > sent[0] else math.nan
        steps.append({"step": step, "step_kind": kind, **summary, "offered_rps": offered, "arrived_rps": arrived,
                      "requests_planned": planned, "oversaturated": bool(reason), "oversaturation_reason": reason,
                      "stopped_at_s": stopped_at})
        requests.extend({**r, "step": step, "step_kind": kind, "step_offered_rps": offered} for r in run.rows)
        server.batches.clear()

    try:
        if warmup:  # first-call overheads are not part of any step
            await server.submit(prompts[0], config.new_tokens).result()
            server.batches.clear()
        n_sync = max(2, config.n_requests // 2)  # one at a time is slow and its latency varies little
        sync = await _synchronous(server, prompts[:n_sync], config.new_tokens, clock)
        record("synchronous", math.nan, sync, n_sync)
        ref_latency = float(steps[0]["latency_s_mean"])
        rows, itl, duration = await drive_open_loop(server, prompts, [0.0] * len(prompts), config.new_tokens, clock)
        record("throughput", math.nan, ServingRun(rows, itl, list(server.batches), duration), len(prompts))
        sync_rps = 1.0 / ref_latency if ref_latency > 0 else math.nan
        max_rps = float(steps[1]["requests_per_s"])
        for rate in rate_schedule(sync_rps, max_rps, config.saturation_steps, config.saturation_overshoot):
            n = step_requests(config, rate)
            # the same seed every step: each step's arrivals are one pattern scaled to its rate (comparable steps)
            arrivals = arrival_times(config.arrival, rate, n, cv=config.burstiness, seed=config.seed)
            detector = OversaturationDetector(rate, ref_latency,
                                              window_s=detector_window(rate, ref_latency, config.saturation_window_s))
            step_prompts = [prompts[i % len(prompts)] for i in range(n)]
            rows, itl, duration = await drive_open_loop(server, step_prompts, arrivals.tolist(), config.new_tokens,
                                                        clock, stop=detector.observe)
            record("rate", rate, ServingRun(rows, itl, list(server.batches), duration), n, detector.reason,
                   detector.fired_at_s)
    finally:
        await server.close()
    return steps, requests


def step_requests(config: ServingConfig, rate: float) -> int:
    """Arrivals planned for a rate step: ``rate`` × ``saturation_step_s`` (at least ``n_requests``).

    >>> step_requests(ServingConfig(n_requests=20, saturation_step_s=30.0), 2.0)
    60
    """
    return max(config.n_requests, math.ceil(rate * config.saturation_step_s))


def run_saturation(config: ServingConfig, *, engine: Any = None, clock: Clock | None = None,
                   warmup: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure the saturation schedule of ``config``: ``(steps, requests)`` frames."""
    from blaze_lab.serving.bench import llm_engine_for

    if engine is None:
        engine = llm_engine_for(config)
    steps, requests = run_async(lambda: _schedule(config, engine, clock or RealClock(), warmup))
    return pd.DataFrame(steps), pd.DataFrame(requests)


def saturation_result(config: ServingConfig, steps: pd.DataFrame, requests: pd.DataFrame
                      ) -> tuple[dict[str, Any], pd.DataFrame]:
    """The serving kind's summary columns and raw rows of one schedule.

    Summary: the knee step's request statistics (the operating point; the synchronous step when no step
    qualifies), ``sync_rps``, ``max_throughput_rps``, ``knee_*``, ``max_rate_slo_*``, ``oversaturated_steps``.
    Raw: each request row with its step's headline numbers (``step_*``), ``oversaturated`` and the reason.
    """
    ref = float(steps.iloc[0]["latency_s_mean"])
    found = knee(steps, ref)
    rates = steps[steps["step_kind"] == "rate"]
    slo_set = any(v is not None for v in config.slo().to_dict().values())
    best = max_rate_meeting_slo(rates, config.slo_target, "arrived_rps") if slo_set and len(rates) else {
        **NO_SLO_RATE, "slo_target_attainment": config.slo_target}
    at = steps.iloc[found["knee_step"] if found["knee_step"] >= 0 else 0]
    summary = {k: at[k] for k in steps.columns if k not in ("step", "step_kind", "oversaturation_reason")}
    summary.update(found)
    summary.update(best)
    summary.update(sync_rps=1.0 / ref if ref > 0 else math.nan,
                   max_throughput_rps=float(steps.iloc[1]["requests_per_s"]) if len(steps) > 1 else math.nan,
                   saturation_steps_run=len(steps), oversaturated_steps=int(steps["oversaturated"].sum()))
    per_step = steps.set_index("step")
    extra = per_step[[c for c in STEP_COLUMNS if c in per_step.columns]].add_prefix("step_")
    extra["oversaturated"] = per_step["oversaturated"]
    extra["oversaturation_reason"] = per_step["oversaturation_reason"]
    extra["knee"] = per_step.index == found["knee_step"]
    raw = requests.join(extra, on="step")
    return summary, raw


__all__ = ["STEP_COLUMNS", "run_saturation", "saturation_result", "step_requests"]
