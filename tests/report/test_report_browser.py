"""The written report opens OFFLINE in a real Chromium and every figure renders (no network, no JS errors)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from blaze_lab.report.html import write_report

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_sweep"
CHROMIUM = shutil.which("chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"  # git-ignored

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="needs a chromium binary (apt-get install chromium)"),
]


def test_report_renders_offline(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    results = tmp_path / "sample"
    shutil.copytree(SAMPLE, results)
    page_path = write_report(results, png=False)
    expected = page_path.read_text().count('class="plotly-graph-div"')
    assert expected >= 8
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
            ],
        )
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
            page.on("request", lambda req: requests.append(req.url))
            page.goto(page_path.as_uri())
            page.wait_for_function(
                f"document.querySelectorAll('.plotly-graph-div .main-svg').length >= {expected}", timeout=30_000
            )
            rendered = page.evaluate("document.querySelectorAll('.plotly-graph-div.js-plotly-plot').length")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert rendered == expected
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []
