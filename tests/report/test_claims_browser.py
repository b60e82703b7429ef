"""The Claims section of a real claims sweep in Chromium: renders offline, verdicts visible, screenshots.

``tests/data/claims_sweep`` holds the summary and raw rows of ``experiments/claims.yaml`` measured on the 2-core CPU
(its README says when and how). With ``BLAZE_LAB_UPDATE_SCREENSHOTS=1`` the test writes the section's screenshot
(downscaled) to ``docs/img/report-claims.png`` — how that image was made.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from blaze_lab.metrics.claims import VERDICTS
from blaze_lab.report.html import write_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from browser_support import ARTIFACTS, CHROMIUM, REPO, open_offline_page, save_doc_screenshot

CLAIMS = REPO / "tests" / "data" / "claims_sweep"
DOCS_IMG = REPO / "docs" / "img"
WIDTH = 1400

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="needs a chromium binary (apt-get install chromium)"),
    pytest.mark.skipif(not CLAIMS.is_dir(), reason="no claims sweep rows in tests/data"),
]


def test_claims_section_renders_with_every_claim(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("PIL.Image")  # save_doc_screenshot needs it
    results = tmp_path / "claims"
    shutil.copytree(CLAIMS, results)
    page_path = write_report(results, png=False)
    p, browser, page, (errors, _) = open_offline_page(sync_api, page_path, WIDTH)
    try:
        section = page.locator("#section-s_claims")
        rows = page.locator("table.claims tbody tr")
        claims = {rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())}
        verdicts = page.locator("table.claims tbody tr td b").all_inner_texts()
        page_width = page.evaluate("document.documentElement.scrollWidth")
        box = section.bounding_box()
        assert box is not None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / "report-claims.png"
        clip = {"x": 0, "y": box["y"], "width": WIDTH, "height": min(box["height"], 1900)}
        page.screenshot(path=str(path), full_page=True, clip=clip)
    finally:
        browser.close()
        p.stop()
    assert errors == []
    assert claims == {"1", "2", "3", "4a", "4b"}  # every claim has a row, measured or not
    assert set(verdicts) <= set(VERDICTS)
    assert page_width <= WIDTH  # the verdict table wraps instead of widening the page
    if os.environ.get("BLAZE_LAB_UPDATE_SCREENSHOTS") == "1":
        save_doc_screenshot(path, DOCS_IMG / "report-claims.png", colors=256, fast_octree=True)
