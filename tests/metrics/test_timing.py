import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError
from blaze_lab.metrics.timing import MeasureSettings, RegionTimer


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
