"""The one measurement loop: failures as rows for any exception, input order, interleaving, stop rules, contention."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.config import BaseConfig, check_number
from blaze_lab.metrics.contention import ContentionProbe, Snapshot
from blaze_lab.metrics.loop import MetricSpec, Ratio, run_configs
from blaze_lab.metrics.timing import MeasureSettings


@dataclasses.dataclass(frozen=True)
class Toy(BaseConfig):
    PREFIX = "toy"
    LOAD_FIELDS = ("model",)
    model: str = "m"
    cost_s: float = 0.5
    noise: float = 0.0
    fail: str = ""  # "open" | "call" | "memory" | "finish"
    flag: bool = False
    size: int | None = None

    def validate(self) -> None:
        check_number(self, "cost_s", minimum=0, strict_min=True)


SPEC = MetricSpec(
    sampled=("latency_s",),
    primary="latency_s",
    peaks=("peak_bytes",),
    ratios=(Ratio("items_per_s", "items", "latency_s"),),
)


class ToyTrial:
    def __init__(self, cfg: Toy, clock: VirtualClock, log: list[str], run: str) -> None:
        self.cfg, self.clock, self.log, self.run = cfg, clock, log, run
        self.columns = {"device": "cpu"}
        self.rng = np.random.default_rng(0)

    def call(self, iteration: int) -> dict[str, Any]:
        if self.cfg.fail == "memory" and iteration >= 0:
            raise MemoryError()
        if self.cfg.fail == "call" and iteration == 1:
            raise KeyError("boom")
        cost = self.cfg.cost_s * float(np.exp(self.cfg.noise * self.rng.standard_normal()))
        self.clock.advance(cost)
        if iteration >= 0:
            self.log.append(self.run)
        return {"latency_s": cost, "items": 2, "peak_bytes": 100 + iteration}

    def finish(self, rows: Any) -> dict[str, Any]:
        if self.cfg.fail == "finish":
            raise ValueError("quality failed")
        return {"quality": 1.0}


class ToyMeasurer:
    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.log: list[str] = []
        self.released: list[Any] = []

    def open(self, cfg: Toy) -> ToyTrial:
        if cfg.fail == "open":
            raise RuntimeError("no kernel for this quantization")
        return ToyTrial(cfg, self.clock, self.log, f"{cfg.cost_s}")

    def capability(self, cfg: Toy) -> bool:
        return True

    def release(self, key: Any) -> None:
        self.released.append(key)


def _run(configs: list[Toy], **settings: Any) -> tuple[pd.DataFrame, pd.DataFrame, ToyMeasurer]:
    clock = VirtualClock()
    measurer = ToyMeasurer(clock)
    runs = [(f"r{i}", c) for i, c in enumerate(configs)]
    summary, raw = run_configs(
        "toy",
        runs,
        measurer,
        SPEC,
        settings=MeasureSettings(**settings),
        clock=clock,
        probe=None,
        progress=False,
        env={},
    )
    return summary, raw, measurer


def test_any_exception_becomes_a_row_and_the_group_completes_in_input_order() -> None:
    configs = [
        Toy(cost_s=0.1, fail="memory"),
        Toy(cost_s=0.2),
        Toy(cost_s=0.3, fail="call"),
        Toy(cost_s=0.4, fail="open"),
        Toy(cost_s=0.5, fail="finish"),
        Toy(cost_s=0.6),
    ]
    summary, raw, _ = _run(configs)
    assert list(summary["run_id"]) == [f"r{i}" for i in range(6)]
    assert list(summary["status"]) == ["oom", "ok", "error", "unsupported", "error", "ok"]
    assert list(summary["error_type"]) == ["MemoryError", "", "KeyError", "RuntimeError", "ValueError", ""]
    assert summary.loc[2, "error"].startswith("[measure] KeyError")
    assert summary.loc[3, "error"].startswith("[load] RuntimeError: no kernel")
    assert list(summary["n"]) == [0, 10, 0, 0, 0, 10]
    assert summary.loc[1, "quality"] == 1.0 and summary.loc[1, "device"] == "cpu"
    assert list(pd.unique(raw["run_id"])) == ["r0", "r1", "r2", "r4", "r5"]  # raw grouped by run, input order


def test_configs_sharing_a_load_are_interleaved_in_rotating_order() -> None:
    summary, raw, measurer = _run([Toy(cost_s=0.1), Toy(cost_s=0.2), Toy(cost_s=0.3)], target_ci_rel=None)
    log = measurer.log
    rounds = [log[i : i + 3] for i in range(0, 15, 3)]
    assert all(sorted(r) == ["0.1", "0.2", "0.3"] for r in rounds)  # every config once per round
    firsts = [r[0] for r in rounds]
    assert len(set(firsts)) == 3  # the start rotates
    measured = raw[~raw["warmup"]]
    assert all(sorted(g) == [0, 1, 2] for _, g in measured.groupby("round")["position"])
    assert set(summary["order_seed"]) == {0} and measurer.released == [Toy().load_key()]


def test_ratio_estimator_peaks_and_stable_dtypes() -> None:
    summary, _, _ = _run([Toy(cost_s=0.5, flag=True), Toy(cost_s=0.25, size=3)])
    assert summary.loc[0, "items_per_s_mean"] == pytest.approx(4.0) and summary.loc[
        1, "items_per_s_mean"
    ] == pytest.approx(8.0)
    assert summary.loc[0, "peak_bytes"] == 109
    assert str(summary["toy.flag"].dtype) == "bool" and str(summary["toy.size"].dtype) == "Int64"
    assert str(summary["toy.cost_s"].dtype) == "float64" and str(summary["n"].dtype) == "int64"


def test_time_cap_before_the_ci_target_is_invalid_with_the_achieved_half_width() -> None:
    summary, _, _ = _run([Toy(cost_s=1.0, noise=0.3)], max_duration_s=4.0, target_ci_rel=0.01)
    row = summary.iloc[0]
    assert row["stopped_by"] == "time_cap" and not row["valid"]
    assert "CI target not met: half-width" in row["validity_reason"]
    assert "stopped by the 4s time cap" in row["validity_reason"]
    quiet, _, _ = _run([Toy(cost_s=1.0, noise=0.001)], target_ci_rel=0.05)
    assert quiet.loc[0, "stopped_by"] == "ci_target" and quiet.loc[0, "valid"], quiet.loc[0, "validity_reason"]


def test_min_duration_and_max_iters_stop_rules() -> None:
    summary, _, _ = _run([Toy(cost_s=1.0)], min_iters=1, min_duration_s=4.5, target_ci_rel=None)
    assert summary.loc[0, "n"] == 5 and summary.loc[0, "stopped_by"] == "min_duration"
    noisy, _, _ = _run([Toy(cost_s=1.0, noise=0.5)], min_iters=3, max_iters=12, target_ci_rel=0.01)
    assert noisy.loc[0, "n"] == 12 and noisy.loc[0, "stopped_by"] == "max_iters"


def test_warm_up_runs_until_stable_and_is_marked() -> None:
    summary, raw, _ = _run([Toy(cost_s=0.5)])
    assert summary.loc[0, "warmup_stable"] and summary.loc[0, "warmup_calls"] == 3
    assert raw["warmup"].sum() == 3 and (raw.loc[raw["warmup"], "iteration"] < 0).all()
    off, _, _ = _run([Toy(cost_s=0.5)], warmup=0)
    assert not off.loc[0, "valid"] and "no warm-up" in off.loc[0, "validity_reason"]


class BusyProbe(ContentionProbe):
    """A probe reporting another process on half the machine (a unit-test double of /proc)."""

    def snapshot(self) -> Snapshot:
        return Snapshot(0.0, 0.0, 0.0, 0.0, 0)

    def since(self, before: Snapshot) -> dict[str, Any]:
        return {
            "other_cpu_frac": 0.5,
            "steal_frac": 0.0,
            "load_1m": 2.0,
            "involuntary_switches": 3,
            "gpu_other_processes": 0,
            "contended": True,
        }


def test_contended_rows_are_invalid_with_the_figures() -> None:
    clock = VirtualClock()
    summary, raw = run_configs(
        "toy", [("a", Toy())], ToyMeasurer(clock), SPEC, clock=clock, probe=BusyProbe(), progress=False, env={}
    )
    assert summary.loc[0, "contended"] and not summary.loc[0, "valid"]
    assert "other processes used 50% of the CPU" in summary.loc[0, "validity_reason"]
    assert raw["contended"].all() and "env.torch_threads" in summary.columns


class OneShotToy:
    def run_one(self, cfg: Toy) -> tuple[dict[str, Any], pd.DataFrame]:
        if cfg.fail == "call":
            raise ZeroDivisionError("not a BlazeLabError")
        if cfg.fail == "memory":
            raise MemoryError()
        return {"n": 3, "valid": True, "validity_reason": "", "x": cfg.cost_s}, pd.DataFrame({"request_id": [0, 1]})

    def timing_sensitive(self, cfg: Toy) -> bool:
        return False


def test_one_shot_kinds_share_failure_rows_and_order() -> None:
    runs = [("a", Toy(fail="call")), ("b", Toy(cost_s=2.0)), ("c", Toy(fail="memory"))]
    summary, raw = run_configs("toy", runs, OneShotToy(), progress=False, env={})
    assert list(summary["status"]) == ["error", "ok", "oom"]
    assert summary.loc[0, "error"] == "[run] ZeroDivisionError: not a BlazeLabError"
    assert list(raw["run_id"]) == ["b", "b"] and not summary["contended"].any()
