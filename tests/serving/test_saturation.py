"""Saturation schedule: rates, the over-saturation detector, the knee, the max rate meeting the SLO, a live run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.serving.config import ServingConfig
from blaze_lab.serving.saturation import (
    OversaturationDetector,
    interpolated_rates,
    knee,
    max_rate_meeting_slo,
    wilson_interval,
)


def test_rates_lie_strictly_between_the_probes() -> None:
    assert interpolated_rates(2.0, 10.0, 3) == [4.0, 6.0, 8.0]
    assert interpolated_rates(2.0, 1.5, 1) == [3.0]  # no batching gain: probe above r_sync anyway
    assert interpolated_rates(math.nan, 4.0, 3) == []


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
    over = OversaturationDetector(rate_rps=10.0, ref_latency_s=0.1, window_s=2.0)
    fired = [over.observe(t, n) for t, n in _queue(10.0, 5.0, 6.0)]
    assert any(fired) and over.oversaturated and "in flight grew" in over.reason
    assert fired.index(True) * 0.05 < 4.0  # caught within two windows
    stable = OversaturationDetector(rate_rps=10.0, ref_latency_s=0.1, window_s=2.0)
    assert not any(stable.observe(t, n) for t, n in _queue(10.0, 20.0, 6.0))


def test_detector_needs_littles_law_excess_not_just_a_blip() -> None:
    # the queue grows, but stays within what lambda*W0 allows (long requests at a low rate): not over-saturated
    det = OversaturationDetector(rate_rps=1.0, ref_latency_s=20.0, window_s=4.0)
    assert not any(det.observe(t / 4, min(k // 2, 10)) for k, t in enumerate(range(40)))


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
    assert not out["max_rate_slo_censored"]


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
    assert rate_rows["step_offered_rps"].between(row["sync_rps"] * 0.99, 2.01 * max(row["max_throughput_rps"],
                                                                                   row["sync_rps"])).all()


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
