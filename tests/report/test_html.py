"""The HTML report: plotly.js once, every section, header facts, atomic write, ReportError, PNG fallback."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ReportError
from blaze_lab.report import png
from blaze_lab.report.html import build_report, frame_html, write_report
from blaze_lab.report.llm_figures import llm_sections

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_sweep"
MANIFEST = {
    "sweep": "quickstart",
    "started": "2026-11-26T04:00Z",
    "git_sha": "abc123def456",
    "env": {"env.device": "cpu", "env.cpu": "Test CPU", "env.transformers": "5.24.0"},
}


def _heading(page: str, level: int, title: str) -> bool:
    return re.search(rf'<h{level} id="[a-z0-9_]+">{re.escape(title)}</h{level}>', page) is not None


def _plotlyjs_copies(page: str) -> int:
    return page.count(get_plotlyjs()[:500])


def test_report_has_plotlyjs_once_and_every_section(summary: pd.DataFrame, raw: pd.DataFrame) -> None:
    page = build_report(summary, raw, MANIFEST, title="T", clock=VirtualClock())
    assert _plotlyjs_copies(page) == 1
    assert not re.search(r"<script[^>]+src=", page)  # nothing fetched: opens offline
    for title, _ in llm_sections(summary, raw):
        assert _heading(page, 3, title)
    for title in ("LLM runs", "Runs without measurements (status ≠ ok)", "Measurements flagged invalid"):
        assert _heading(page, 3, title)
    assert page.count('class="plotly-graph-div"') == 8


def test_report_header_and_status_rows(summary: pd.DataFrame, raw: pd.DataFrame) -> None:
    page = build_report(summary, raw, MANIFEST, clock=VirtualClock(epoch=1_700_000_000.0))
    for fact in (
        "quickstart",
        "abc123def456",
        "Test CPU",
        "5.24.0",
        "2.13.0",
        "2023-11-14 22:13 UTC",
        "3 ok, 1 unsupported",
    ):
        assert fact in page, fact
    # the unsupported row is listed with its error, the invalid one with its reason
    assert "torchao-int4-weight-only" in page and "torchao int4: no CPU packing format" in page
    assert "cv=0.8 &gt; 0.5" in page


def test_report_without_manifest_uses_frame_env(summary: pd.DataFrame, raw: pd.DataFrame) -> None:
    page = build_report(summary, raw, clock=VirtualClock())
    assert "<dd>t</dd>" in page  # sweep name from the frame
    assert "<dd>cpu</dd>" in page


def test_report_copes_with_missing_columns(summary: pd.DataFrame) -> None:
    slim = summary[["run_id", "engine", "status", "error", "llm.dtype", "tokens_per_s_mean"]]
    page = build_report(slim, pd.DataFrame(), clock=VirtualClock())
    assert "Skipped: " in page
    assert page.count('class="plotly-graph-div"') == 1
    # no engine column at all, no status column
    page = build_report(summary.drop(columns=["engine", "status"]), pd.DataFrame(), clock=VirtualClock())
    assert _heading(page, 2, "LLM")


def test_frame_html_escapes_and_formats() -> None:
    out = frame_html(pd.DataFrame({"error": ["<boom>"], "peak_rss_bytes": [2.0 * 2**20], "x": [1.234567]}))
    assert "&lt;boom&gt;" in out and "peak_rss (MiB)" in out and ">2<" in out and ">1.235<" in out


# -- write_report ---------------------------------------------------------------------------------------------------
@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(png, "_downloaded_browser", lambda: None)


def test_write_report_html_only_with_notice(
    tmp_path: Path, no_chromium: None, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "sample"
    shutil.copytree(SAMPLE, results)
    path = write_report(results)
    assert path == results / "report.html"
    page = path.read_text()
    assert _plotlyjs_copies(page) == 1 and "torchao-int4-weight-only" in page and "SYNTHETIC" in page
    assert capsys.readouterr().out == png.SKIP_NOTICE + "\n"
    assert not (results / "figures").exists()
    assert [p.name for p in results.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_write_report_replaces_existing_and_out(tmp_path: Path, no_chromium: None) -> None:
    results = tmp_path / "sample"
    shutil.copytree(SAMPLE, results)
    (results / "report.html").write_text("old")
    assert write_report(results, png=False).read_text().startswith("<!DOCTYPE html>")
    other = write_report(results, out=tmp_path / "x" / "r.html", png=False)
    assert other.exists()


def test_write_report_pngs_beside_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written: dict[str, Path] = {}
    monkeypatch.setattr(png, "find_chromium", lambda: "/usr/bin/chromium")
    monkeypatch.setattr("plotly.io.write_images", lambda figs, paths, **kw: written.update({p.name: p for p in paths}))
    results = tmp_path / "sample"
    shutil.copytree(SAMPLE, results)
    write_report(results)
    assert "llm_throughput.png" in written and "llm_memory_vs_latency_pareto.png" in written
    assert {p.parent for p in written.values()} == {results / "figures"}


def test_write_report_empty_dir_names_it(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=str(tmp_path)):
        write_report(tmp_path, png=False)
    (tmp_path / "g0").mkdir()  # a group folder that never finished: still no results
    with pytest.raises(ReportError, match="no results"):
        write_report(tmp_path, png=False)
    with pytest.raises(ReportError, match="nowhere"):
        write_report(tmp_path / "nowhere", png=False)
    assert not (tmp_path / "report.html").exists()


def test_report_mixed_kinds_unregistered_kind_gets_note(summary: pd.DataFrame, raw: pd.DataFrame) -> None:
    other = pd.DataFrame(
        {"run_id": ["s1"], "engine": ["mystery"], "status": ["error"], "error": ["boom"], "mystery.port": [80]}
    )
    page = build_report(pd.concat([summary, other], ignore_index=True), raw, clock=VirtualClock())
    assert _heading(page, 2, "Mystery") and "No report section is registered for engine kind" in page
    assert "boom" in page  # its failed row is in the status table
    assert _heading(page, 2, "LLM")


def test_static_report_embeds_pngs_and_leaves_plotly_out(summary: pd.DataFrame, raw: pd.DataFrame) -> None:
    figures: dict = {}
    interactive = build_report(summary, raw, clock=VirtualClock(), figures=figures)
    assert figures and "plotly" in interactive
    images = {stem: b"\x89PNG-" + stem.encode() for stem in figures}
    page = build_report(summary, raw, clock=VirtualClock(), static=images)
    assert page.count('src="data:image/png;base64,') == len(figures)
    assert "Plotly.newPlot" not in page and len(page) < len(interactive) / 5
