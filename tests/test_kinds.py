"""The kind registry: every built-in kind's entries resolve; a toy kind added in one place reaches every consumer."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import papermill
import pytest

from blaze_lab import kinds
from blaze_lab.config import BaseConfig, check_int
from blaze_lab.errors import ConfigError
from blaze_lab.sweep.notebook import NOTEBOOK_PARAMETERS, resolve_notebook
from blaze_lab.sweep.plan import expand
from blaze_lab.sweep.spec import parse_spec

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(kinds.KINDS))
def test_every_entry_of_every_kind_resolves(name: str) -> None:
    kind = kinds.get(name)
    assert kind.name == name
    cfg = kind.config_class()
    assert issubclass(cfg, BaseConfig) and name == cfg.PREFIX
    assert callable(kind.group_function())
    section = kind.section_function()
    assert section is not None and callable(section)
    notebook = ROOT / kind.notebook
    assert set(papermill.inspect_notebook(str(notebook))) == set(NOTEBOOK_PARAMETERS)
    for key, extra in kind.measure_extra_classes().items():
        assert dataclasses.is_dataclass(extra), key
    panel = kind.explorer_panel()
    if panel is not None:
        assert panel.name == name and panel.config is cfg


def test_unknown_kind_lists_the_registered_ones() -> None:
    with pytest.raises(ConfigError, match="allowed: diffusion, llm, router, serving"):
        kinds.get("asr")


@dataclasses.dataclass(frozen=True)
class ToyConfig(BaseConfig):
    PREFIX = "toy"
    LOAD_FIELDS = ("size",)
    size: int = 1
    repeat: int = 1

    def validate(self) -> None:
        check_int(self, "size", minimum=1)
        check_int(self, "repeat", minimum=1)


def toy_group(runs: list[dict[str, object]], **_: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    summary = pd.DataFrame([{"run_id": r["run_id"], "engine": "toy", "status": "ok"} for r in runs])
    return summary, pd.DataFrame({"run_id": [r["run_id"] for r in runs]})


def toy_section(summary: pd.DataFrame, raw: pd.DataFrame) -> list[tuple[str, object]]:
    return [("Toy rows", summary)]


@pytest.fixture
def toy_kind() -> Iterator[kinds.Kind]:
    kind = kinds.Kind(
        name="toy",
        config=ToyConfig,
        notebook=str(ROOT / kinds.get("router").notebook),  # any notebook with the sweep contract
        group=toy_group,
        section=toy_section,
    )
    kinds.register(kind)  # the one edit adding a kind
    yield kind
    kinds.KINDS.pop("toy")


def test_a_toy_kind_registered_once_reaches_spec_group_and_report(toy_kind: kinds.Kind) -> None:
    from blaze_lab.report.sections import report_sections
    from blaze_lab.sweep.group import run_group

    spec = parse_spec({"kind": "toy", "grid": {"repeat": [1, 2]}}, "toy.yaml")
    runs = expand(spec)
    assert [r.config.repeat for r in runs] == [1, 2]  # type: ignore[attr-defined]
    assert runs[0].notebook == resolve_notebook(toy_kind.notebook)
    summary, _ = run_group("toy", [r.params() for r in runs])
    assert list(summary["run_id"]) == [r.run_id for r in runs]
    assert report_sections(summary, pd.DataFrame())["toy"][0][0] == "Toy rows"
