"""run_group: lazy dispatch by kind, common columns, clear errors for unknown or unavailable kinds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pytest

from blaze_lab import kinds
from blaze_lab.errors import ConfigError, SweepError
from blaze_lab.sweep.group import run_group

RUNS = [{"run_id": "r1", "config": {"x": 1}}, {"run_id": "r2", "config": {"x": 2}}]


def _engine(with_ids: bool) -> Any:
    calls: list[dict[str, Any]] = []

    def benchmark_group(
        runs: Sequence[Mapping[str, Any]],
        reference: Mapping[str, Any] | None = None,
        measure: Mapping[str, Any] | None = None,
        sweep: str = "adhoc",
        group: str = "g0",
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        calls.append({"runs": runs, "reference": reference, "measure": measure, "sweep": sweep, "group": group})
        summary = pd.DataFrame({"value_s_mean": [r["config"]["x"] for r in runs], "status": "ok"})
        raw = pd.DataFrame({"run_id": ["r1", "r1", "r2"], "iteration": [0, 1, 0]})
        if with_ids:
            summary.insert(0, "run_id", [r["run_id"] for r in runs])
        return summary, raw

    benchmark_group.calls = calls  # type: ignore[attr-defined]
    return benchmark_group


def _register(monkeypatch: pytest.MonkeyPatch, name: str, group: Any) -> None:
    monkeypatch.setitem(kinds.KINDS, name, kinds.Kind(name, "x:Config", "n.ipynb", group=group, section=None))


def test_dispatches_to_the_kind_and_adds_common_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(with_ids=False)
    _register(monkeypatch, "fake", engine)
    summary, raw = run_group("fake", RUNS, reference={"x": 0}, measure={"warmup": 0}, sweep="s", group="g")
    assert engine.calls == [{"runs": RUNS, "reference": {"x": 0}, "measure": {"warmup": 0}, "sweep": "s", "group": "g"}]
    assert list(summary["run_id"]) == ["r1", "r2"] and set(summary["sweep"]) == {"s"} and set(summary["group"]) == {"g"}
    assert list(raw["run_id"]) == ["r1", "r1", "r2"] and set(raw["group"]) == {"g"}


def test_engine_columns_win_and_unmatched_rows_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _register(monkeypatch, "fake", _engine(with_ids=True))
    summary, _ = run_group("fake", RUNS[::-1])
    assert list(summary["run_id"]) == ["r2", "r1"] and list(summary["value_s_mean"]) == [2, 1]

    def two_rows(runs: Any, **_: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        return pd.DataFrame({"status": ["ok", "ok"]}), pd.DataFrame()

    _register(monkeypatch, "fake", two_rows)
    with pytest.raises(SweepError, match="summary frame has no run_id column and 2 rows for 1 runs"):
        run_group("fake", RUNS[:1])


def test_unknown_and_unavailable_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="kind: invalid value 'nope'; allowed: diffusion, llm, router, serving"):
        run_group("nope", RUNS)
    _register(monkeypatch, "ghost", "blaze_lab.engines.ghost:benchmark_group")
    with pytest.raises(SweepError, match="engine kind 'ghost' is not available"):
        run_group("ghost", RUNS)
    with pytest.raises(ConfigError, match=r"runs\[0\]"):
        run_group("llm", [{"config": {}}])
