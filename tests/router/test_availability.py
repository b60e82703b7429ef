"""Availability under a crash/restart schedule: the schedule, the config knobs, the summary columns, and real
engine replicas that crash and are restarted by the engine manager."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from blaze_lab.clock import RealClock, VirtualClock
from blaze_lab.errors import ConfigError, EngineUnavailable
from blaze_lab.metrics.intervals import binomial_ci
from blaze_lab.replicas.faults import FaultEvent
from blaze_lab.router.bench import run_one
from blaze_lab.router.config import RouterExperimentConfig
from blaze_lab.router.faults import crash_schedule
from blaze_lab.router.simulate import experiment_faults, experiment_model

AVAILABILITY = ["availability", "availability_ci_low", "availability_ci_high", "availability_n", "availability_ok"]


def test_crash_schedule_alternates_and_keeps_the_stated_uptime() -> None:
    events = crash_schedule(10.0, 1.0, 20_000.0, 2, seed=3)
    for r in (0, 1):
        mine = [e for e in events if e.replica == r]
        assert [e.on for e in mine[:4]] == [True, False, True, False] and all(e.kind == "crash" for e in mine)
        ons, offs = mine[0::2], mine[1::2]
        assert all(off.time_s - on.time_s == pytest.approx(1.0) for on, off in zip(ons, offs, strict=False))
        # ~1800 up/down cycles: the long-run down fraction is restart / (mtbf + restart) = 1/11 within 10%.
        down = sum(off.time_s - on.time_s for on, off in zip(ons, offs, strict=False)) / 20_000.0
        assert down == pytest.approx(1.0 / 11.0, rel=0.1)
    # Each replica has its own stream: adding replicas does not move replica 0's crashes; a seed does.
    assert [e for e in crash_schedule(10.0, 1.0, 500.0, 5, seed=3) if e.replica == 0] == [
        e for e in crash_schedule(10.0, 1.0, 500.0, 1, seed=3)
    ]
    assert crash_schedule(10.0, 1.0, 500.0, 1, seed=4) != crash_schedule(10.0, 1.0, 500.0, 1, seed=3)
    assert crash_schedule(0.0, 1.0, 500.0, 3) == []


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"mtbf_s": -1.0}, "router.mtbf_s"),
        ({"restart_s": "2s"}, "router.restart_s"),
        ({"replica_engine": "vllm"}, "router.replica_engine"),
        ({"replica_engine": "llm"}, "router.replica_engine"),  # sim mode: a real engine needs live mode
        ({"replica_engine": "llm", "mode": "live"}, "router.time_scale"),  # default 0.1: real engines run at 1
        ({"llm_new_tokens": 0}, "router.llm_new_tokens"),
    ],
)
def test_bad_availability_knobs_name_the_field(fields: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        RouterExperimentConfig(**fields)


def test_schedule_joins_the_experiment_faults() -> None:
    cfg = RouterExperimentConfig(replicas=3, n_requests=5000, mtbf_s=2.0, restart_s=0.5, fault="crash", seed=1)
    events = experiment_faults(cfg, 20.0, experiment_model(cfg))
    crashes = [e for e in events if e.kind == "crash" and e.on]
    assert len(crashes) > 10 and any(e.time_s == 10.0 and e.replica == 0 for e in crashes)  # preset + schedule


def test_simulated_availability_columns_count_slo_misses_and_crashes() -> None:
    base: dict[str, Any] = {"mode": "sim", "replicas": 3, "n_requests": 4000, "load": 0.5, "seed": 2}
    clean, _ = run_one(RouterExperimentConfig(**base))
    assert clean["availability"] == 1.0 and clean["availability_n"] == 4000 and clean["crashes"] == 0
    assert clean["availability_ci_low"] == pytest.approx(0.025 ** (1 / 4000))
    # A replica crashing every ~2 s for 1 s (a third of its time down) at 50% load: retries absorb most
    # crashes, the survivors' queues make some requests miss the SLO.
    row, _ = run_one(RouterExperimentConfig(**base, mtbf_s=2.0, restart_s=1.0))
    assert row["crashes"] > 5
    assert row["availability_ok"] < 4000 and row["availability"] == pytest.approx(1.0 - row["slo_miss_rate"])
    assert (row["availability"], row["availability_cp_low"], row["availability_cp_high"]) == binomial_ci(
        row["availability_ok"], 4000
    )
    # Failures come in bursts around crashes: the headline interval is wider than the independent-requests one.
    assert row["availability_deff"] > 1
    assert row["availability_ci_low"] < row["availability_cp_low"] < row["availability"] < row["availability_ci_high"]


def test_raw_requests_keeps_a_sample_of_request_rows_and_every_transition() -> None:
    base: dict[str, Any] = {"mode": "sim", "replicas": 3, "n_requests": 3000, "mtbf_s": 2.0, "restart_s": 0.5}
    full_row, full = run_one(RouterExperimentConfig(**base))
    row, raw = run_one(RouterExperimentConfig(**base, raw_requests=200))
    requests = raw[raw["row_kind"] == "request"]
    assert len(requests) == 200 and requests["request_id"].is_monotonic_increasing
    assert set(requests["request_id"]) <= set(full.loc[full["row_kind"] == "request", "request_id"])
    assert (raw["row_kind"] == "transition").sum() == (full["row_kind"] == "transition").sum() > 0
    # The summary still covers every request.
    assert row["availability_n"] == 3000 and row["availability_ok"] == full_row["availability_ok"]
    with pytest.raises(ConfigError, match=r"router\.raw_requests"):
        RouterExperimentConfig(raw_requests=-1)


def test_live_fake_replicas_recover_from_the_schedule_on_a_virtual_clock() -> None:
    cfg = RouterExperimentConfig(mode="live", replicas=3, n_requests=600, mtbf_s=1.0, restart_s=0.3, seed=5)
    row, raw = run_one(cfg, clock=VirtualClock())
    assert row["crashes"] > 0 and row["lost"] == 0
    assert row["availability_n"] == 600 and 0 < row["availability"] <= 1.0
    lifecycle = raw[raw["row_kind"] == "lifecycle"]
    assert (lifecycle["to_state"] == "recovered").sum() >= 1 and math.isfinite(row["recovery_s"])


@pytest.mark.slow
def test_llm_replica_crashes_is_held_down_and_restarts(tiny_llama_dir: object) -> None:
    from blaze_lab.engines.base import EngineStatus
    from blaze_lab.engines.llm.config import LLMConfig
    from blaze_lab.replicas.llm_replica import LLMReplica

    async def scenario() -> tuple[list[str], int]:
        rep = LLMReplica("r0", LLMConfig(model=str(tiny_llama_dir), device="cpu"), clock=RealClock(), new_tokens=3)
        await rep.start()
        seen = [rep.status.value]
        answer = await rep.submit(None)
        assert answer["replica"] == "r0" and answer["service_s"] > 0
        in_flight = [asyncio.create_task(rep.submit(None)) for _ in range(3)]  # one runs, two wait for the model
        await asyncio.sleep(0)
        rep.apply_fault(FaultEvent(0.0, 0, "crash", True))
        results = await asyncio.gather(*in_flight, return_exceptions=True)
        assert all(isinstance(r, EngineUnavailable) for r in results)
        seen.append(rep.status.value)
        with pytest.raises(EngineUnavailable, match="still down"):
            await rep.start()  # inside the crash window
        rep.apply_fault(FaultEvent(1.0, 0, "crash", False))
        await rep.start()  # a real reload of the model
        seen.append(rep.status.value)
        await rep.submit(None)
        await rep.stop()
        return seen, rep.starts

    seen, starts = asyncio.run(scenario())
    assert seen == [EngineStatus.READY.value, EngineStatus.FAILED.value, EngineStatus.READY.value] and starts == 2


@pytest.mark.slow
def test_live_run_over_real_engines_with_crashes(tiny_llama_dir: object) -> None:
    cfg = RouterExperimentConfig(mode="live", replica_engine="llm", llm_model=str(tiny_llama_dir), time_scale=1.0,
                                 replicas=2, n_requests=150, load=0.3, mtbf_s=0.6, restart_s=0.2,
                                 slo_latency_s=1.0, seed=1)
    row, raw = run_one(cfg)
    assert row["crashes"] >= 1 and row["lost"] == 0
    assert row["availability_n"] == 150 and row["availability_ok"] <= 150
    assert 0 < row["reference_s"] < 0.5  # the measured lone-request time of the tiny model
    lifecycle = raw[raw["row_kind"] == "lifecycle"]
    assert (lifecycle["to_state"] == "recovered").sum() >= 1
