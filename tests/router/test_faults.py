"""Fault schedules, the simulated fault state and live injection into fake engines."""

from __future__ import annotations

import asyncio

import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.engines.base import EngineStatus
from blaze_lab.errors import ConfigError, EngineError
from blaze_lab.replicas.fake import FakeEngine
from blaze_lab.router.config import RouterExperimentConfig
from blaze_lab.router.faults import (
    SCENARIOS,
    Fault,
    FaultEvent,
    FaultState,
    fault_events,
    inject,
    parse_fault,
    parse_faults,
    schedule,
)


def test_schedule_is_absolute_and_drops_missing_replicas() -> None:
    events = schedule("mixed", duration_s=100.0, replicas=2)
    assert [(e.time_s, e.replica, e.kind, e.on) for e in events] == [
        (20.0, 1, "slowdown", True), (30.0, 0, "crash", True), (40.0, 0, "crash", False), (80.0, 1, "slowdown", False)
    ]
    assert schedule("none", 10.0, 4) == []
    with pytest.raises(ConfigError, match=r"router\.fault"):
        schedule("meteor", 1.0, 1)
    with pytest.raises(ConfigError, match=r"faults\[0\]\.kind"):
        parse_fault({"kind": "fire"}, 4, "router.faults[0]")
    assert "crash" in SCENARIOS


def test_every_preset_is_written_in_the_grammar() -> None:
    for name, specs in SCENARIOS.items():
        parsed = parse_faults(specs, 8)
        assert all(isinstance(f, Fault) for f in parsed), name


def test_grammar_targets_values_and_windows() -> None:
    two = fault_events([{"replicas": [2, 5], "kind": "slowdown", "factor": 3, "window": [0.3, 0.7]}], 10.0, 8)
    assert [(e.time_s, e.replica, e.on, e.value) for e in two] == [
        (3.0, 2, True, 3.0), (3.0, 5, True, 3.0), (7.0, 2, False, 3.0), (7.0, 5, False, 3.0)]
    count = fault_events([{"count": 3, "kind": "errors", "rate": 0.2}], 10.0, 8)
    assert sorted({e.replica for e in count}) == [0, 1, 2] and count[0].value == 0.2
    frac = fault_events([{"fraction": 0.25, "kind": "hang", "pick": "random"}], 10.0, 8, seed=1)
    assert len({e.replica for e in frac}) == 2
    assert {e.replica for e in frac} == {e.replica for e in fault_events(
        [{"fraction": 0.25, "kind": "hang", "pick": "random"}], 10.0, 8, seed=1)}  # seeded
    secs = fault_events([{"replicas": 1, "kind": "latency", "delay": "4x", "window": ["2s", "5s"]}], 100.0, 4,
                        reference_s=0.5)
    assert [(e.time_s, e.value) for e in secs] == [(2.0, 2.0), (5.0, 2.0)]
    crash = fault_events([{"replicas": "all", "kind": "crash", "window": [0.5, 0.6], "warmup_s": 1.0}], 10.0, 2)
    assert {(e.replica, e.on) for e in crash} == {(0, True), (1, True), (0, False), (1, False)}


@pytest.mark.parametrize(
    ("spec", "field"),
    [({"replicas": [9], "kind": "hang"}, r"faults\[0\]\.replicas"),
     ({"kind": "errors", "rate": 1.5}, r"faults\[0\]\.rate"),
     ({"kind": "slowdown"}, r"faults\[0\]\.factor"),
     ({"kind": "hang", "window": [0.7, 0.3]}, r"faults\[0\]\.window"),
     ({"kind": "hang", "window": [0.1, "3s"]}, r"faults\[0\]\.window"),
     ({"kind": "hang", "when": [0, 1]}, r"faults\[0\]\.when"),
     ({"count": 2, "replicas": [1], "kind": "hang"}, r"faults\[0\]"),
     ({"kind": "flapping", "period": 0}, r"faults\[0\]\.period")],
)
def test_bad_fault_names_the_field(spec: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        RouterExperimentConfig(replicas=4, faults=(spec,))


def test_fault_file_yaml_and_csv(tmp_path) -> None:  # type: ignore[no-untyped-def]
    yml = tmp_path / "gray.yaml"
    yml.write_text("- {replicas: [1], kind: slowdown, factor: 2, window: [0.5, 1.0]}\n")
    csv = tmp_path / "events.csv"
    csv.write_text("time_s,replica,kind,on,value\n1.0,0,errors,true,0.5\n2.0,0,errors,false,0\n")
    events = fault_events([{"file": str(yml)}, {"file": str(csv)}], 10.0, 2)
    assert [(e.time_s, e.replica, e.kind, e.on) for e in events] == [
        (1.0, 0, "errors", True), (2.0, 0, "errors", False), (5.0, 1, "slowdown", True), (10.0, 1, "slowdown", False)]
    with pytest.raises(ConfigError, match="file not found"):
        RouterExperimentConfig(replicas=2, faults=({"file": str(tmp_path / "nope.yaml")},))


def test_fault_state_effects() -> None:
    st = FaultState()
    st.apply(FaultEvent(1.0, 0, "slowdown", True, value=3.0))
    st.apply(FaultEvent(1.0, 0, "flapping", True, value=0.5))
    assert st.factor(1.0) == 3.0
    assert [st.health_ok(t) for t in (1.0, 1.25, 1.5, 1.75, 2.0)] == [False, False, True, True, False]
    st.apply(FaultEvent(2.0, 0, "crash", True))
    assert st.crashed and not st.health_ok(2.0)
    st.apply(FaultEvent(3.0, 0, "crash", False, warmup_s=1.0, warmup_factor=2.0))
    st.apply(FaultEvent(3.0, 0, "slowdown", False))
    assert st.factor(3.5) == 2.0 and st.factor(4.0) == 1.0


def test_inject_into_fake_engine_on_schedule() -> None:
    async def scenario() -> tuple[list[bool], EngineStatus, str]:
        clock = VirtualClock()
        eng = FakeEngine("r0", clock=clock, base_s=0.01, time_scale=1.0)
        await eng.start()
        events = [FaultEvent(1.0, 0, "flapping", True, value=0.5), FaultEvent(3.0, 0, "flapping", False),
                  FaultEvent(3.0, 0, "errors", True, value=1.0), FaultEvent(4.0, 0, "crash", True)]
        task = asyncio.create_task(inject([eng], events, clock))
        seen = []
        for t in (1.1, 1.6, 2.1, 3.1):
            await clock.run_until_idle(limit=t)
            clock.advance_to(t)
            seen.append(await eng.health())
        request = asyncio.create_task(eng.submit(None))
        await clock.run_until_idle(limit=3.5)
        try:
            await request
            error = ""
        except EngineError as exc:
            error = str(exc)
        await clock.run_until_idle(limit=5.0)
        await task
        return seen, eng.status, error

    seen, status, error = asyncio.run(scenario())
    assert seen == [False, True, False, True]
    assert "injected error" in error
    assert status is EngineStatus.FAILED
