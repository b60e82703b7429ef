"""Saturation schedule: rates, the over-saturation detector (synthetic traces and a fake server on a virtual
clock), the knee, the max rate meeting the SLO, a live run."""

from __future__ import annotations

import asyncio
import math
from collections import deque

import numpy as np
import pandas as pd
import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError
from blaze_lab.load.arrivals import arrival_times
from blaze_lab.load.saturation import (
    OversaturationDetector,
    detector_window,
    in_flight_at_arrivals,
    knee,
    max_rate_meeting_slo,
    rate_schedule,
    wilson_interval,
)
from blaze_lab.serving.bench import drive_open_loop
from blaze_lab.serving.config import ServingConfig
from blaze_lab.serving.handles import OK, RequestHandle
from blaze_lab.serving.saturation_run import step_requests


def test_rates_reach_past_the_max_throughput_probe() -> None:
    assert rate_schedule(2.0, 10.0, 4, overshoot=1.0) == [4.0, 6.0, 8.0, 10.0]
    assert rate_schedule(2.0, 10.0, 2) == [8.5, 15.0]  # top = 1.5 x r_max: over capacity by construction
    assert rate_schedule(2.0, 1.5, 1, overshoot=1.0) == [4.0]  # no batching gain: probe above r_sync anyway
    assert rate_schedule(math.nan, 4.0, 3) == [] and rate_schedule(1.0, 4.0, 0) == []
    with pytest.raises(ConfigError, match="saturation_overshoot"):
        rate_schedule(1.0, 2.0, 2, overshoot=0.0)


def test_step_size_and_window() -> None:
    assert step_requests(ServingConfig(n_requests=20), 3.0) == 20
    assert step_requests(ServingConfig(n_requests=20, saturation_step_s=30.0), 3.0) == 90
    assert detector_window(10.0, 0.1, floor_s=0.5) == 4.0  # 40 arrival gaps
    assert detector_window(10.0, 2.0) == 10.0  # 5 unloaded latencies: a batch cycle cannot look like growth


def test_in_flight_trace_from_arrivals_and_finishes() -> None:
    arrivals = np.array([0.0, 0.5, 1.0, 1.5, 4.0])
    finishes = arrivals + np.array([2.0, 2.0, 2.0, 2.0, 0.5])
    assert in_flight_at_arrivals(arrivals, finishes).tolist() == [0, 1, 2, 3, 0]


def _queue(rate: float, service_rate: float, seconds: float, dt: float = 0.05) -> list[tuple[float, int]]:
    """In-flight counts sampled every ``dt``: a queue growing at ``rate - service_rate`` per second, or (when the
    server keeps up) Little's-law occupancy rate·W = 1 request with ±1 jitter."""
    out = []
    for k in range(int(seconds / dt)):
        t = k * dt
        n = round((rate - service_rate) * t) if rate > service_rate else 1 + (k % 3) - 1
        out.append((t, n))
    return out


def test_detector_fires_on_a_growing_queue_only() -> None:
    over = OversaturationDetector(rate_rps=10.0, ref_latency_s=0.1, window_s=2.0, littles_factor=3.0)
    fired = [over.observe(t, n) for t, n in _queue(10.0, 5.0, 6.0)]
    assert any(fired) and over.oversaturated and "in flight grew" in over.reason
    assert fired.index(True) * 0.05 < 4.0  # caught within two windows
    stable = OversaturationDetector(rate_rps=10.0, ref_latency_s=0.1, window_s=2.0)
    assert not any(stable.observe(t, n) for t, n in _queue(10.0, 20.0, 6.0))


def test_detector_needs_littles_law_excess_not_just_a_blip() -> None:
    # the queue grows, but stays within what lambda*W0 allows (long requests at a low rate): not over-saturated
    det = OversaturationDetector(rate_rps=1.0, ref_latency_s=20.0, window_s=4.0)
    assert not any(det.observe(t / 4, min(k // 2, 10)) for k, t in enumerate(range(40)))


class FifoServer:
    """A fake server on a virtual clock: batches of up to ``batch`` requests, each batch takes ``service_s``."""

    def __init__(self, clock: VirtualClock, service_s: float, batch: int = 1) -> None:
        self.clock, self.service_s, self.batch = clock, service_s, batch
        self.queue: deque[RequestHandle] = deque()
        self.wake = asyncio.Event()
        self.submitted = 0

    def submit(self, prompt: str, new_tokens: int) -> RequestHandle:
        handle = RequestHandle(self.submitted, prompt, new_tokens, 1, self.clock)
        self.submitted += 1
        self.queue.append(handle)
        self.wake.set()
        return handle

    async def serve(self) -> None:
        while True:
            while not self.queue:
                self.wake.clear()
                await self.wake.wait()
            batch = [self.queue.popleft() for _ in range(min(self.batch, len(self.queue)))]
            for h in batch:
                h.start_t = self.clock.now()
            await self.clock.sleep(self.service_s)
            for h in batch:
                h._push(1, self.clock.now() - h.submit_t)
                h._end(OK)


def _step(rate: float, service_s: float, n: int, batch: int = 1, seed: int = 0,
          window_floor_s: float = 0.0) -> tuple[OversaturationDetector, int]:
    """One open-loop rate step against :class:`FifoServer` in virtual time: (detector, requests sent)."""

    async def main() -> tuple[OversaturationDetector, int]:
        clock = VirtualClock()
        server = FifoServer(clock, service_s, batch)
        ref = service_s  # a lone request takes one batch time
        det = OversaturationDetector(rate, ref, window_s=detector_window(rate, ref, window_floor_s))
        worker = asyncio.create_task(server.serve())

        async def advance() -> None:
            while True:
                for _ in range(10):
                    await asyncio.sleep(0)
                deadline = clock.next_deadline()
                if deadline is not None:
                    clock.advance_to(deadline)

        driver = asyncio.create_task(advance())
        arrivals = arrival_times("poisson", rate, n, seed=seed).tolist()
        rows, _, _ = await drive_open_loop(server, ["p"] * n, arrivals, 1, clock, stop=det.observe)
        for task in (worker, driver):
            task.cancel()
        await asyncio.gather(worker, driver, return_exceptions=True)
        assert all(r["outcome"] == OK for r in rows)  # a stopped step still finishes what it sent
        return det, len(rows)

    return asyncio.run(asyncio.wait_for(main(), timeout=30))


def _batch_finishes(arrivals: np.ndarray, service_s: float, batch: int) -> np.ndarray:
    """Finish times on a server that, when free, takes up to ``batch`` waiting requests for ``service_s``."""
    out = np.empty(len(arrivals))
    t, i = 0.0, 0
    while i < len(arrivals):
        t = max(t, arrivals[i])
        j = i
        while j < len(arrivals) and arrivals[j] <= t and j - i < batch:
            j += 1
        t += service_s
        out[i:j] = t
        i = j
    return out


def _fires(load: float, batch: int, seed: int, seconds: float = 300.0) -> float:
    """When the detector fires on a synthetic trace at ``load`` x capacity (NaN: never)."""
    rate = load * batch  # service 1 s per batch: capacity = batch req/s, W0 = 1 s
    arrivals = arrival_times("poisson", rate, int(rate * seconds), seed=seed)
    in_flight = in_flight_at_arrivals(arrivals, _batch_finishes(arrivals, 1.0, batch))
    det = OversaturationDetector(rate, 1.0, window_s=detector_window(rate, 1.0))
    return next((float(t) for t, n in zip(arrivals, in_flight, strict=True) if det.observe(t, int(n))), math.nan)


@pytest.mark.parametrize("batch", [1, 4])
def test_detector_firing_rates_on_synthetic_traces(batch: int) -> None:
    """The calibration behind the thresholds (load/saturation.py): steps of 300 service times, quiet below capacity
    (a busy spell near it at most once in 20), certain at 1.5 x capacity."""
    fired = {load: [_fires(load, batch, seed) for seed in range(20)] for load in (0.8, 0.9, 1.5)}
    count = {load: sum(not math.isnan(t) for t in times) for load, times in fired.items()}
    assert count[0.8] == 0 and count[0.9] <= 1, count
    window = detector_window(1.5 * batch, 1.0)
    assert count[1.5] == 20 and float(np.median(fired[1.5])) < 4 * window, fired[1.5]  # within a few windows


def test_detector_stops_an_over_saturated_step_early() -> None:
    # mu = 4 req/s (batches of 4 every second); lambda = 1.5 mu: the queue grows at 2 req/s
    det, sent = _step(rate=6.0, service_s=1.0, n=600, batch=4)
    assert det.oversaturated and sent < 600 / 2, (det.reason, sent)
    assert det.fired_at_s < 60.0  # caught within a few windows (6.7 s), not at the end of the 100 s step
    assert "in flight grew" in det.reason


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_detector_stays_quiet_below_capacity(seed: int) -> None:
    # rho = 0.75 on the same batching server: completions come in bursts of up to 4, but no trend
    det, sent = _step(rate=3.0, service_s=1.0, n=300, batch=4, seed=seed)
    assert not det.oversaturated and sent == 300, det.reason


def test_wilson_interval_holds_coverage() -> None:
    rng = np.random.default_rng(0)
    for p, n in ((0.9, 20), (0.5, 12), (0.97, 40)):
        hits = 0
        for k in rng.binomial(n, p, 2000):
            lo, hi = wilson_interval(int(k), n)
            hits += lo <= p <= hi
        assert hits / 2000 >= 0.92  # nominal 0.95; Wilson oscillates a little below it at some n


def test_max_rate_crossing_and_its_interval() -> None:
    steps = pd.DataFrame({"offered_rps": [3.0, 1.0, 2.0], "slo_met": [30, 200, 190], "requests_sent": [200] * 3})
    out = max_rate_meeting_slo(steps, target=0.9)
    assert out["max_rate_slo_rps"] == pytest.approx(2.0 + 0.05 / 0.8)
    assert out["max_rate_slo_ci_low"] < out["max_rate_slo_rps"] < out["max_rate_slo_ci_high"]
    never = max_rate_meeting_slo(steps.assign(slo_met=[0, 10, 0]))
    assert math.isnan(never["max_rate_slo_rps"])
    always = max_rate_meeting_slo(steps.assign(slo_met=200))
    assert always["max_rate_slo_rps"] == 3.0 and always["max_rate_slo_censored"]
    assert always["max_rate_slo_ci_low"] == 3.0 and always["max_rate_slo_ci_high"] == math.inf  # no miss seen
    assert not out["max_rate_slo_censored"]


@pytest.mark.parametrize("n", [30, 200])
def test_max_rate_interval_holds_coverage(n: int) -> None:
    """Attainment falling with the rate (a logistic curve), binomial steps: the bracket covers the true crossing."""
    rng = np.random.default_rng(1)
    rates = np.linspace(1.0, 10.0, 8)
    p = 1.0 / (1.0 + np.exp(1.5 * (rates - 6.0))) * 0.995 + 0.004
    true = 6.0 + math.log((0.995 / (0.9 - 0.004)) - 1.0) / 1.5  # where p(r) = 0.9
    hits = 0
    for _ in range(500):
        out = max_rate_meeting_slo(pd.DataFrame({"offered_rps": rates, "slo_met": rng.binomial(n, p),
                                                 "requests_sent": n}), target=0.9)
        lo = out["max_rate_slo_ci_low"] if not math.isnan(out["max_rate_slo_ci_low"]) else -math.inf
        hits += lo <= true <= out["max_rate_slo_ci_high"]
    assert hits / 500 >= 0.95


def test_knee_is_the_highest_calm_rate_step() -> None:
    steps = pd.DataFrame({"step": [0, 1, 2, 3, 4, 5], "step_kind": ["synchronous", "throughput"] + ["rate"] * 4,
                          "offered_rps": [np.nan, np.nan, 1.0, 2.0, 2.5, 3.0],
                          "latency_s_p50": [1.0, 5.0, 1.2, 1.5, 1.8, 9.0],
                          "requests_per_s": [1.0, 3.0, 0.9, 1.8, 2.2, 2.4], "tokens_per_s": [8.0, 24.0, 7, 14, 18, 19],
                          "oversaturated": [False, False, False, False, True, False]})
    found = knee(steps, ref_latency_s=1.0)
    assert found["knee_step"] == 3 and found["knee_rps"] == 2.0 and found["knee_achieved_rps"] == 1.8
    assert knee(steps, ref_latency_s=0.1)["knee_step"] == -1


@pytest.mark.parametrize(("field", "value"), [("schedule", "ramp"), ("saturation_steps", -1),
                                               ("slo_target", 1.5), ("saturation_window_s", 0.0)])
def test_bad_schedule_fields_are_named(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"serving\\.{field}"):
        ServingConfig(**{field: value})  # type: ignore[arg-type]


def test_saturation_refuses_a_result_cache() -> None:
    with pytest.raises(ConfigError, match=r"serving\.schedule"):
        ServingConfig(schedule="saturation", cache_tiers=("memory",))


def test_live_schedule_through_the_serving_kind() -> None:
    from blaze_lab.serving.bench import benchmark_group

    cfg = ServingConfig(model="random:tiny-llama", device="cpu", schedule="saturation", saturation_steps=2,
                        n_requests=6, new_tokens=3, prompt_tokens=8, batching="dynamic", max_batch_size=4,
                        slo_e2e_s=5.0)
    summary, raw = benchmark_group([{"run_id": "s1", "config": cfg.to_dict()}])
    row = summary.iloc[0]
    assert row["status"] == "ok", row.get("error")
    assert row["saturation_steps_run"] == 4 and row["sync_rps"] > 0 and row["max_throughput_rps"] > 0
    assert set(raw["step_kind"]) == {"synchronous", "throughput", "rate"}
    assert (raw.groupby("step")["step_requests_per_s"].nunique() == 1).all()
    assert raw["knee"].sum() > 0 or row["knee_step"] == -1
    rate_rows = raw[raw["step_kind"] == "rate"]
    top = 1.5 * max(row["max_throughput_rps"], 2 * row["sync_rps"])  # 1.5 x r_max (2 r_sync without a batching gain)
    assert rate_rows["step_offered_rps"].between(row["sync_rps"] * 0.99, top * 1.001).all()


def test_prefix_groups_give_prompts_that_share_a_prefix() -> None:
    from blaze_lab.models.vocab import train_bpe_tokenizer
    from blaze_lab.serving.bench import serving_prompts

    tok = train_bpe_tokenizer()
    cfg = ServingConfig(n_requests=12, prefix_groups=2, prompt_tokens=40, suffix_tokens=6, zipf_s=0.0)
    prompts = serving_prompts(tok, cfg)
    assert len(prompts) == 12
    starts = {p[:60] for p in prompts}  # two groups: two distinct openings (40 shared tokens > 60 characters)
    assert len(starts) == 2 and len(set(prompts)) == 12
    with pytest.raises(ConfigError, match=r"serving\.prefix_groups"):
        ServingConfig(prefix_groups=2, prompt_pool=4)


def test_prefix_reuse_in_the_serving_path() -> None:
    from blaze_lab.serving.bench import benchmark_group

    common = {"model": "random:tiny-llama", "device": "cpu", "batching": "none", "n_requests": 6, "new_tokens": 3,
              "prompt_tokens": 48, "suffix_tokens": 6, "prefix_groups": 1, "rate_rps": 50.0, "arrival": "constant"}
    runs = [{"run_id": f"reuse-{flag}", "config": {**common, "prefix_reuse": flag}} for flag in (False, True)]
    summary, raw = benchmark_group(runs)
    assert summary["status"].tolist() == ["ok", "ok"]
    reuse = summary.set_index("run_id").loc["reuse-True"]
    # warm-up + 6 requests share one prefix: every request after the first reuses most of its prompt
    assert reuse["prefix_hits"] >= 5 and reuse["prefix_reused_share"] > 0.5
    assert (raw["outcome"] == "ok").all() and raw["output_tokens"].min() >= 1
    with pytest.raises(ConfigError, match=r"serving\.prefix_reuse"):
        ServingConfig(prefix_reuse=True, batching="dynamic")


def test_an_over_saturated_step_never_meets_the_slo() -> None:
    # the step at 3.0 was stopped early: its few requests met the SLO, but its queue was growing without bound
    steps = pd.DataFrame({"offered_rps": [1.0, 2.0, 3.0], "slo_met": [100, 100, 30], "requests_sent": [100, 100, 30],
                          "oversaturated": [False, False, True]})
    out = max_rate_meeting_slo(steps, target=0.9)
    assert out["max_rate_slo_rps"] == pytest.approx(2.1) and not out["max_rate_slo_censored"]
    assert (out["max_rate_slo_ci_low"], out["max_rate_slo_ci_high"]) == (2.0, 3.0)  # bracketed by measured steps
