"""The serving benchmark: open-loop load against a batcher, per-request rows, summaries with CIs, goodput, and the
highest request rate that still meets the SLO.

:func:`run_serving` measures one :class:`~blaze_lab.serving.config.ServingConfig`: it draws arrival times
(Poisson, gamma with burstiness, or constant; :mod:`blaze_lab.load.arrivals`), sends each request at its time —
open loop: arrivals never wait for earlier answers — to the batcher the config names (``none`` | ``dynamic`` |
``continuous``), optionally behind the tiered result cache, and returns one row per request. Rejected requests
(``Overloaded``) are rows too. :func:`benchmark_group` is the ``serving`` kind's notebook entry point;
:func:`max_rate_under_slo` bisects the arrival rate (a few short runs) for the highest rate whose SLO attainment
stays at the target, like vLLM's SLA sweep.

Example:
    >>> cfg = ServingConfig(model="random:tiny-llama", batching="dynamic", rate_rps=20, n_requests=8, new_tokens=4)
    >>> summary, raw = benchmark_group([{"run_id": "r1", "config": cfg.to_dict()}])   # doctest: +SKIP
    >>> summary[["serving.batching", "ttft_s_p50", "tokens_per_s", "goodput_rps"]]      # doctest: +SKIP
    >>> max_rate_under_slo(cfg.replace(slo_ttft_s=0.5), low=1, high=64)["max_rate_rps"]  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import math
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from blaze_lab.clock import Clock, RealClock
from blaze_lab.errors import Overloaded
from blaze_lab.load.arrivals import arrival_times
from blaze_lab.load.slo import goodput
from blaze_lab.metrics.stats import summarize, summarize_columns
from blaze_lab.serving.batching import make_server
from blaze_lab.serving.config import ServingConfig
from blaze_lab.serving.handles import FAILED, OK, REJECTED, RequestHandle

# Per-request metrics summarized with CIs; latency_s (E2E) is primary (it decides n / valid).
REQUEST_METRICS = ("latency_s", "ttft_s", "tpot_s", "queue_wait_s")

T = TypeVar("T")


@dataclasses.dataclass
class ServingRun:
    """One measured config: request rows, pooled ITL gaps, batch rows, the measured window, cache stats."""

    rows: list[dict[str, Any]]
    itl_s: list[float]
    batches: list[dict[str, Any]]
    duration_s: float
    cache_stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    prefix_stats: dict[str, Any] = dataclasses.field(default_factory=dict)  # with prefix_reuse


def serving_prompts(tokenizer: Any, config: ServingConfig) -> list[str]:
    """``n_requests`` prompts of about ``prompt_tokens`` tokens cut from the bundled text at seeded offsets.

    With ``prompt_pool > 0`` they are drawn from a pool of that many with Zipf(``zipf_s``) popularity; with
    ``prefix_groups > 0`` they come from the shared-prefix workload (:mod:`blaze_lab.load.prefix`).
    """
    from blaze_lab.cache.workload import zipf_keys
    from blaze_lab.models import eval_text

    if config.prefix_groups:
        from blaze_lab.load.prefix import PrefixWorkloadConfig, prefix_workload, text_token_ids

        workload = PrefixWorkloadConfig(
            n_requests=config.n_requests, n_groups=config.prefix_groups, prefix_dist="fixed",
            prefix_mean=config.prompt_tokens, suffix_dist="fixed", suffix_mean=config.suffix_tokens,
            output_dist="fixed", output_mean=config.new_tokens, zipf_s=config.zipf_s, seed=config.seed)
        return [tokenizer.decode(list(r.token_ids)) for r in prefix_workload(workload, text_token_ids(tokenizer))]
    ids = tokenizer(eval_text(), add_special_tokens=False)["input_ids"]
    while len(ids) < config.prompt_tokens + 1:
        ids = ids + ids
    distinct = config.prompt_pool or config.n_requests
    rng = np.random.default_rng([config.seed, 1])
    starts = rng.integers(0, len(ids) - config.prompt_tokens, distinct)
    texts = [tokenizer.decode(ids[s : s + config.prompt_tokens]) for s in starts.tolist()]
    if not config.prompt_pool:
        return texts
    ranks = zipf_keys(config.prompt_pool, config.n_requests, s=config.zipf_s, seed=config.seed, prefix="")
    return [texts[int(r)] for r in ranks]


async def drive_open_loop(
    server: Any, prompts: Sequence[str], arrivals_s: Sequence[float], new_tokens: int, clock: Clock,
    stop: Callable[[float, int], bool] | None = None,
) -> tuple[list[dict[str, Any]], list[float], float]:
    """Submit ``prompts[i]`` at ``arrivals_s[i]`` (seconds from now) whatever is still running; wait for all.

    ``stop(t, in_flight)``, asked before each arrival, ends the arrivals early when it returns True (an
    over-saturation detector); requests already sent still finish. Returns request rows (``arrival_s`` added;
    rejected requests included), pooled ITL gaps and the window (first arrival to last completion).
    """
    t0 = clock.now()
    sent: list[tuple[int, float, RequestHandle]] = []
    rows: list[dict[str, Any]] = []
    for i, (prompt, at) in enumerate(zip(prompts, arrivals_s, strict=True)):
        delay = t0 + float(at) - clock.now()
        if delay > 0:
            await clock.sleep(delay)
        arrival = clock.now() - t0
        if stop is not None and stop(arrival, sum(not h.done for _, _, h in sent)):
            break
        try:
            handle = server.submit(prompt, new_tokens)
        except Overloaded as exc:
            rows.append({"request": i, "arrival_s": arrival, "outcome": REJECTED, "request_error": str(exc),
                         "output_tokens": 0, "batch_id": -1, "cache_tier": ""})
            continue
        sent.append((i, arrival, handle))
    itl: list[float] = []
    end = clock.now() - t0
    for i, arrival, handle in sent:
        await handle.result()
        row = handle.row()
        row["request"] = i
        row["arrival_s"] = arrival
        rows.append(row)
        if row["outcome"] == OK:
            itl.extend(handle.itl_s())
            end = max(end, arrival + row["latency_s"])
    first = float(arrivals_s[0]) if len(arrivals_s) else 0.0
    rows.sort(key=lambda r: r["request"])
    return rows, itl, max(end - first, 1e-9)


async def _serve(config: ServingConfig, engine: Any, clock: Clock, warmup: bool, cache: Any) -> ServingRun:
    loaded = engine.load()
    prompts = serving_prompts(loaded.tokenizer, config)
    arrivals = arrival_times(config.arrival, config.rate_rps, config.n_requests, cv=config.burstiness,
                             seed=config.seed)
    server = make_server(config, engine, clock=clock)
    await server.start()
    try:
        if warmup:  # first-call overheads (allocator, kernels, the manager's first step) are not part of the run
            await server.submit(prompts[0], config.new_tokens).result()
            server.batches.clear()
        front = server
        if cache is not None:
            from blaze_lab.serving.cache import CachedServer

            front = CachedServer(server, cache, config.model, {"device": config.device, "dtype": config.dtype})
        rows, itl, duration = await drive_open_loop(front, prompts, arrivals.tolist(), config.new_tokens, clock)
        if cache is not None:
            await front.flush()
    finally:
        await server.close()
    stats = cache.overall() if cache is not None else {}
    runner_stats = getattr(getattr(server, "runner", None), "stats", None)
    return ServingRun(rows=rows, itl_s=itl, batches=list(server.batches), duration_s=duration, cache_stats=stats,
                      prefix_stats=runner_stats() if config.prefix_reuse and callable(runner_stats) else {})


def run_serving(
    config: ServingConfig,
    *,
    engine: Any = None,
    clock: Clock | None = None,
    warmup: bool = True,
    cache: Any = None,
) -> ServingRun:
    """Measure one config live (its own event loop); ``engine`` defaults to an LLMEngine for the config's model."""
    if engine is None:
        engine = llm_engine_for(config)
    return run_async(lambda: _serve(config, engine, clock or RealClock(), warmup, cache))


def run_async(make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code — also inside Jupyter, whose kernel already runs a loop in this
    thread (``asyncio.run`` refuses that): then it gets its own loop in a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coro())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="blaze-serving") as pool:
        return pool.submit(lambda: asyncio.run(make_coro())).result()


def llm_engine_for(config: ServingConfig) -> Any:
    """An LLMEngine for the config's load-time fields (models shared through the process-wide model cache)."""
    from blaze_lab.engines.llm.config import LLMConfig
    from blaze_lab.engines.llm.engine import LLMEngine

    return LLMEngine(LLMConfig(model=config.model, device=config.device, dtype=config.dtype,
                               new_tokens=config.new_tokens, prompt_tokens=config.prompt_tokens))


def summarize_run(config: ServingConfig, run: ServingRun) -> dict[str, Any]:
    """One summary row's metrics: per-request stats with CIs, ITL, throughput, goodput, batches, cache."""
    df = pd.DataFrame(run.rows)
    ok = df[df["outcome"] == OK] if len(df) else df
    values = {m: ok[m].dropna().tolist() for m in REQUEST_METRICS if m in ok.columns}
    row: dict[str, Any] = summarize_columns(values, primary="latency_s")
    itl = summarize(run.itl_s)
    row.update({f"itl_s_{k}": itl[k] for k in ("mean", "p50", "p90", "p95", "p99", "ci_low", "ci_high")})
    tokens = int(ok["output_tokens"].sum()) if len(ok) else 0
    row.update(
        {
            "requests_sent": len(df),
            "completed": len(ok),
            "rejected": int((df["outcome"] == REJECTED).sum()) if len(df) else 0,
            "failed": int((df["outcome"] == FAILED).sum()) if len(df) else 0,
            "duration_s": run.duration_s,
            "offered_rps": config.rate_rps,
            "output_tokens": tokens,
            "tokens_per_s": tokens / run.duration_s,
            "requests_per_s": len(ok) / run.duration_s,
            **goodput(df, config.slo(), run.duration_s),
        }
    )
    batches = pd.DataFrame(run.batches)
    if len(batches):
        row.update(
            n_batches=len(batches),
            batch_size_mean=float(batches["batch_size"].mean()),
            padding_waste_mean=float(batches["padding_waste"].mean()),
            forward_s_mean=float(batches["forward_s"].mean()),
        )
    else:
        row.update(n_batches=0, batch_size_mean=math.nan, padding_waste_mean=math.nan, forward_s_mean=math.nan)
    row.update(run.prefix_stats)
    if run.cache_stats:
        row["cache_hit_rate"] = run.cache_stats.get("hit_rate", math.nan)
        tiers = df["cache_tier"].fillna("") if "cache_tier" in df.columns else pd.Series(dtype=str)
        for tier in ("memory", "disk", "redis"):
            row[f"cache_share_{tier}"] = float((tiers == tier).mean()) if len(tiers) else math.nan
    return row


def benchmark_group(
    runs: Sequence[Mapping[str, Any]],
    reference: Mapping[str, Any] | None = None,
    measure: Mapping[str, Any] | None = None,
    sweep: str = "adhoc",
    group: str = "g0",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Notebook entry point of kind ``serving``: ``runs`` = [{"run_id", "config"}] of one load-time group.

    ``reference`` is unused (serving has no quality reference); ``measure.warmup`` (default 1) > 0 runs one
    request before each measured config. Bad configs raise ConfigError, an unresolvable model ModelLoadError, an
    unreachable Redis (a config with the ``redis`` tier) ConfigError naming ``serving.redis_url`` — all before
    anything runs. Each config is one serving experiment measured through the one measurement loop; anything that
    fails while running becomes its row with its status, and the group goes on.
    """
    from blaze_lab.metrics.loop import run_configs
    from blaze_lab.models import resolve_model

    del reference
    configs = [ServingConfig.from_dict(r["config"]) for r in runs]
    warmup = int((measure or {}).get("warmup", 1)) > 0
    for spec in dict.fromkeys(c.model for c in configs):
        resolve_model(spec, kind="llm")
    caches = [_cache_for(c) for c in configs]  # fail fast on an unreachable Redis
    try:
        return run_configs(
            "serving",
            [(str(r["run_id"]), c) for r, c in zip(runs, configs, strict=True)],
            _ServingRuns(dict(zip([id(c) for c in configs], caches, strict=True)), warmup),
            extra={"sweep": sweep, "group": group},
            progress=False,
        )
    finally:
        for cache in caches:
            if cache is not None:
                cache.close()


class _ServingRuns:
    """The serving kind for the measurement loop: one config = one open-loop serving experiment."""

    raw_with_config = True  # a few hundred request rows; the report draws them per config

    def __init__(self, caches: dict[int, Any], warmup: bool) -> None:
        self.caches = caches
        self.warmup = warmup

    def run_one(self, cfg: ServingConfig) -> tuple[dict[str, Any], pd.DataFrame]:
        engine = llm_engine_for(cfg)
        loaded = engine.load()
        if cfg.schedule == "saturation":
            from blaze_lab.serving.saturation_run import run_saturation, saturation_result

            summary, raw = saturation_result(cfg, *run_saturation(cfg, engine=engine, warmup=self.warmup))
            raw.insert(0, "status", ["ok" if o == OK else "error" for o in raw["outcome"]])
            raw.insert(1, "error", raw.get("request_error", ""))
            raw.insert(2, "iteration", range(len(raw)))
            return {"random_weights": loaded.random_weights, "device": loaded.device, **summary}, raw
        result = run_serving(cfg, engine=engine, warmup=self.warmup, cache=self.caches.get(id(cfg)))
        rows = [
            {
                "status": "ok" if r["outcome"] == OK else "error",
                "error": r.get("request_error", ""),
                "iteration": r["request"],
                **r,
            }
            for r in result.rows
        ]
        cols = {"random_weights": loaded.random_weights, "device": loaded.device, **summarize_run(cfg, result)}
        return cols, pd.DataFrame(rows)


def _cache_for(config: ServingConfig) -> Any:
    if not config.cache_tiers:
        return None
    from blaze_lab.serving.cache import open_cache

    return open_cache(config.cache_tiers, redis_url=config.redis_url)


# -- highest rate under the SLO -----------------------------------------------------------------------------------


def bisect_max_rate(
    feasible: Callable[[float], bool], low: float, high: float, iterations: int = 4
) -> tuple[float | None, list[tuple[float, bool]]]:
    """Largest rate in ``[low, high]`` with ``feasible(rate)``, by bisection (assumes feasibility falls with rate).

    Returns ``(rate or None when even low fails, probes)``; ``high`` is probed first (a config that holds the SLO
    at ``high`` needs no search).

    >>> bisect_max_rate(lambda r: r <= 10.0, 1.0, 33.0, iterations=5)[0]
    10.0
    """
    probes: list[tuple[float, bool]] = []

    def probe(rate: float) -> bool:
        ok = bool(feasible(rate))
        probes.append((rate, ok))
        return ok

    if probe(high):
        return high, probes
    if not probe(low):
        return None, probes
    lo, hi = low, high
    for _ in range(iterations):
        mid = (lo + hi) / 2.0
        if probe(mid):
            lo = mid
        else:
            hi = mid
    return lo, probes


def max_rate_under_slo(
    config: ServingConfig,
    *,
    low: float = 0.5,
    high: float = 64.0,
    iterations: int = 4,
    target_attainment: float = 0.9,
    engine: Any = None,
    measure: Callable[[ServingConfig], float] | None = None,
) -> dict[str, Any]:
    """Highest ``rate_rps`` whose SLO attainment (share of requests meeting every SLO) is >= ``target_attainment``.

    Each probe is a short open-loop run of ``config`` (its ``n_requests``) at that rate; ``measure`` replaces the
    run (returns the attainment; tests and simulations). Returns ``max_rate_rps`` (None when even ``low`` fails),
    the probes as a frame (``rate_rps``, ``slo_attainment``, ``feasible``) and the config's SLO.
    """
    attainments: dict[float, float] = {}

    def attain(rate: float) -> float:
        cfg = config.replace(rate_rps=rate)
        if measure is not None:
            return float(measure(cfg))
        run = run_serving(cfg, engine=engine if engine is not None else llm_engine_for(cfg))
        return float(summarize_run(cfg, run)["slo_attainment"])

    def feasible(rate: float) -> bool:
        attainments[rate] = attain(rate)
        return attainments[rate] >= target_attainment

    best, probes = bisect_max_rate(feasible, low, high, iterations)
    frame = pd.DataFrame(
        [{"rate_rps": r, "slo_attainment": attainments[r], "feasible": ok} for r, ok in probes]
    )
    return {"max_rate_rps": best, "probes": frame, "target_attainment": target_attainment, **config.slo().flat()}


def max_rate_table(configs: Sequence[ServingConfig], **kwargs: Any) -> pd.DataFrame:
    """One row per config: its batching fields, the SLO and ``max_rate_rps`` (see :func:`max_rate_under_slo`)."""
    rows = []
    for cfg in configs:
        found = max_rate_under_slo(cfg, **kwargs)
        rows.append({**cfg.flat(), "max_rate_rps": found["max_rate_rps"], "probes": len(found["probes"]),
                     "target_attainment": found["target_attainment"]})
    return pd.DataFrame(rows)


__all__ = [
    "REQUEST_METRICS",
    "ServingRun",
    "benchmark_group",
    "bisect_max_rate",
    "drive_open_loop",
    "llm_engine_for",
    "max_rate_table",
    "max_rate_under_slo",
    "run_async",
    "run_serving",
    "serving_prompts",
    "summarize_run",
]
