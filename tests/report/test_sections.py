"""The section registry: kinds dispatch to their section functions; unknown kinds get a note."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pandas as pd
import pytest

from blaze_lab import kinds
from blaze_lab.errors import ReportError
from blaze_lab.report import sections
from blaze_lab.report.sections import engine_kinds, figure_item, report_sections, section_function


@pytest.fixture
def restore_registry() -> Iterator[None]:
    saved = dict(kinds.KINDS)
    yield
    kinds.KINDS.clear()
    kinds.KINDS.update(saved)


def register_section(kind: str, fn: object) -> None:
    base = kinds.KINDS.get(kind) or kinds.Kind(kind, "x:Config", "n.ipynb", group="x:group", section=None)
    kinds.register(dataclasses.replace(base, section=fn))


def test_llm_is_registered_lazily() -> None:
    from blaze_lab.report.llm_figures import llm_sections

    assert section_function("llm") is llm_sections
    assert section_function("nope") is None


def test_register_section_receives_only_its_rows(restore_registry: None) -> None:
    seen: list[list[str]] = []

    def toy(summary: pd.DataFrame, raw: pd.DataFrame) -> list[tuple[str, sections.Item]]:
        seen.append(summary["run_id"].tolist() + raw["run_id"].tolist())
        return [("Toy", "<p>toy</p>")]

    register_section("diffusion", toy)
    summary = pd.DataFrame({"run_id": ["a", "b"], "engine": ["diffusion", "unheard-of"], "status": ["ok", "ok"]})
    raw = pd.DataFrame({"run_id": ["a", "b"], "engine": ["diffusion", "unheard-of"]})
    out = report_sections(summary, raw)
    assert out["diffusion"] == [("Toy", "<p>toy</p>")]
    assert seen == [["a", "a"]]
    assert "No report section" in str(out["unheard-of"][0][1])


def test_string_entries_import_module_function(restore_registry: None) -> None:
    register_section("copy", "blaze_lab.report.llm_figures:llm_sections")
    from blaze_lab.report.llm_figures import llm_sections

    assert section_function("copy") is llm_sections


def test_figure_item_turns_report_error_into_note() -> None:
    def broken() -> str:
        raise ReportError("no values in column(s) <x>")

    title, item = figure_item("Broken", broken)
    assert title == "Broken"
    assert item == '<p class="note">Skipped: no values in column(s) &lt;x&gt;</p>'


def test_engine_kinds_without_engine_column() -> None:
    assert engine_kinds(pd.DataFrame({"llm.dtype": ["fp32"]})) == ["llm"]
    assert engine_kinds(pd.DataFrame({"x": [1]})) == []
    assert engine_kinds(pd.DataFrame({"engine": ["router", "llm", "router"]})) == ["router", "llm"]


def test_show_items_displays_titles_and_items() -> None:
    from IPython.display import HTML, Markdown

    shown: list[object] = []
    frame = pd.DataFrame({"a": [1]})
    assert sections.show_items({"llm": [("T", frame), ("N", "<p>n</p>")]}, display=shown.append) == 2
    assert [type(x) for x in shown] == [Markdown, Markdown, pd.DataFrame, Markdown, HTML]
    assert shown[0].data == "## llm" and shown[4].data == "<p>n</p>"
