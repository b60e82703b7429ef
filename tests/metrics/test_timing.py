import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError
from blaze_lab.metrics.timing import MeasureSettings, RegionTimer, measure


def _stepper(clock: VirtualClock, durations: list[float]):
    calls: list[int] = []

    def step(i: int) -> float:
        calls.append(i)
        d = durations[len(calls) - 1] if len(calls) <= len(durations) else durations[-1]
        clock.advance(d)
        return d

    return step, calls


def test_warmup_not_recorded_and_min_iters() -> None:
    clock = VirtualClock()
    step, calls = _stepper(clock, [5.0, 1.0])
    out = measure(step, MeasureSettings(warmup=2, min_iters=3, target_ci_rel=None), clock=clock, value=float)
    assert calls[:2] == [-1, -2]
    assert len(out.samples) == 3 and out.stopped_by == "min_iters"
    assert out.duration_s == pytest.approx(3.0)


def test_min_duration_and_time_cap() -> None:
    clock = VirtualClock()
    step, _ = _stepper(clock, [1.0])
    out = measure(step, MeasureSettings(warmup=0, min_iters=1, min_duration_s=4.5, target_ci_rel=None), clock=clock)
    assert len(out.samples) == 5 and out.stopped_by == "min_duration"
    clock2 = VirtualClock()
    step2, _ = _stepper(clock2, [10.0])
    settings = MeasureSettings(warmup=0, min_iters=5, max_duration_s=25.0, target_ci_rel=None)
    capped = measure(step2, settings, clock=clock2)
    assert len(capped.samples) == 3 and capped.stopped_by == "time_cap"


def test_ci_target_stops_when_tight_and_runs_on_when_noisy() -> None:
    clock = VirtualClock()
    step, _ = _stepper(clock, [1.0])
    tight = measure(step, MeasureSettings(warmup=0, min_iters=3, target_ci_rel=0.05), clock=clock, value=float)
    assert tight.stopped_by == "ci_target" and len(tight.samples) == 3
    clock2 = VirtualClock()
    noisy_values = [1.0, 3.0] * 50
    step2, _ = _stepper(clock2, noisy_values)
    settings = MeasureSettings(warmup=0, min_iters=3, max_iters=12, target_ci_rel=0.01)
    noisy = measure(step2, settings, clock=clock2, value=float)
    assert noisy.stopped_by == "max_iters" and len(noisy.samples) == 12


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_iters": 0}, "measure.min_iters"),
        ({"max_iters": 1, "min_iters": 2}, "measure.max_iters"),
        ({"target_ci_rel": 0}, "measure.target_ci_rel"),
        ({"max_duration_s": 0}, "measure.max_duration_s"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        MeasureSettings(**kwargs)


def test_region_timer_cpu_uses_clock() -> None:
    clock = VirtualClock()
    timer = RegionTimer("cpu", clock)
    with timer:
        clock.advance(0.25)
    assert timer.elapsed_s == 0.25 and timer.method == "perf_counter"
