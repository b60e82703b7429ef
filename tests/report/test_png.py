"""PNG export: one-line notice without Chromium; real PNGs where Chromium is installed."""

from __future__ import annotations

import shutil
from pathlib import Path

import plotly.graph_objects as go
import pytest

from blaze_lab.report import png


def test_no_chromium_prints_one_notice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(png, "_downloaded_browser", lambda: None)
    lines: list[str] = []
    assert png.export_pngs({"a": go.Figure(), "b": go.Figure()}, tmp_path / "f", echo=lines.append) == []
    assert lines == ["PNG export skipped: no Chromium found (HTML report is complete)"]
    assert not (tmp_path / "f").exists()


def test_find_chromium_uses_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/opt/c/chromium" if name == "chromium" else None)
    assert png.find_chromium() == "/opt/c/chromium"


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs a chromium binary")
def test_export_pngs_with_chromium(tmp_path: Path) -> None:
    figs = {"bars": go.Figure(go.Bar(x=["a", "b"], y=[1, 2])), "line": go.Figure(go.Scatter(y=[1, 3, 2]))}
    paths = png.export_pngs(figs, tmp_path / "figures", echo=pytest.fail)
    assert [p.name for p in paths] == ["bars.png", "line.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
