"""The written report in a real Chromium: opens OFFLINE, every figure renders, no tick labels overlap, screenshots.

``test_quickstart_report_at_1400px`` renders the report of ``tests/data/quickstart_sweep`` (real results of a
reduced quickstart) in a 1400 px wide window, checks every axis's tick labels for overlaps and for being cut off,
and screenshots the overview, LLM, diffusion and router sections into ``test-artifacts/browser/``. With
``BLAZE_LAB_UPDATE_SCREENSHOTS=1`` it also writes them (downscaled) to ``docs/img/`` — how those were made.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from blaze_lab.report.html import write_report

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
from browser_support import ARTIFACTS, CHROMIUM, REPO, open_offline_page, save_doc_screenshot

SAMPLE = REPO / "tests" / "data" / "sample_sweep"
QUICKSTART = REPO / "tests" / "data" / "quickstart_sweep"
DOCS_IMG = REPO / "docs" / "img"
SECTIONS = {"overview": "s_overview", "llm": "s_llm", "diffusion": "s_diffusion", "router": "s_router"}
WIDTH = 1400
SHOT_HEIGHT = 1500  # px of each section in its screenshot (the top: headline tables and figures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="needs a chromium binary (apt-get install chromium)"),
]

# Bounding boxes of every axis's tick labels, per axis layer, and whether each lies inside its figure.
TICK_BOXES_JS = """
() => {
  const out = [];
  document.querySelectorAll('.plotly-graph-div').forEach((div, fi) => {
    const svg = div.querySelector('.main-svg').getBoundingClientRect();
    div.querySelectorAll('.xaxislayer-above, .yaxislayer-above').forEach((layer, li) => {
      const boxes = [];
      layer.querySelectorAll('.xtick text, .ytick text').forEach(t => {
        const r = t.getBoundingClientRect();
        if (r.width > 0 && t.textContent.trim()) boxes.push([r.left, r.top, r.right, r.bottom, t.textContent]);
      });
      const section = div.closest('section');
      out.push({figure: fi, title: section ? section.querySelector('h2').textContent : '',
                layer: layer.getAttribute('class'), boxes: boxes,
                svg: [svg.left, svg.top, svg.right, svg.bottom]});
    });
  });
  return out;
}
"""


def _overlaps(boxes: list[list[Any]], tolerance: float = 0.5) -> list[tuple[str, str]]:
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if (
                a[0] < b[2] - tolerance
                and b[0] < a[2] - tolerance
                and a[1] < b[3] - tolerance
                and b[1] < a[3] - tolerance
            ):
                found.append((a[4], b[4]))
    return found


def test_report_renders_offline(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    results = tmp_path / "sample"
    shutil.copytree(SAMPLE, results)
    page_path = write_report(results, png=False)
    expected = page_path.read_text().count('class="plotly-graph-div"')
    assert expected >= 8
    p, browser, page, (errors, requests) = open_offline_page(sync_api, page_path)
    try:
        page.wait_for_function(
            f"document.querySelectorAll('.plotly-graph-div .main-svg').length >= {expected}", timeout=30_000
        )
        rendered = page.evaluate("document.querySelectorAll('.plotly-graph-div.js-plotly-plot').length")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    finally:
        browser.close()
        p.stop()
    assert errors == []
    assert rendered == expected
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []


def test_quickstart_report_at_1400px(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("PIL.Image")  # save_doc_screenshot needs it
    results = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, results)
    page_path = write_report(results, png=False)
    expected = page_path.read_text().count('class="plotly-graph-div"')
    p, browser, page, (errors, requests) = open_offline_page(sync_api, page_path)
    try:
        page.wait_for_function(
            f"document.querySelectorAll('.plotly-graph-div .main-svg').length >= {expected}", timeout=60_000
        )
        layers = page.evaluate(TICK_BOXES_JS)
        toc_links = page.evaluate("Array.from(document.querySelectorAll('nav.toc a')).map(a => a.hash)")
        anchors_ok = page.evaluate(
            "hashes => hashes.every(h => document.getElementById(decodeURIComponent(h.slice(1))) !== null)", toc_links
        )
        page_width = page.evaluate("document.documentElement.scrollWidth")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shots = {}
        for name, anchor in SECTIONS.items():
            section = page.locator(f"#section-{anchor}")
            box = section.bounding_box()
            assert box is not None, name
            path = ARTIFACTS / f"report-{name}.png"
            top = 0.0 if name == "overview" else box["y"]  # the overview shot includes the header and contents
            height = min(box["y"] + box["height"] - top, SHOT_HEIGHT + (box["y"] if name == "overview" else 0))
            page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": top, "width": WIDTH, "height": height})
            shots[name] = path
    finally:
        browser.close()
        p.stop()
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []
    assert len(toc_links) >= 20 and anchors_ok  # every table-of-contents entry leads somewhere
    assert page_width <= WIDTH  # nothing wider than the window (wide tables scroll inside their box)
    assert len(layers) >= 2 * expected - 10  # x and y tick layers of (nearly) every figure were found
    overlapping = {(lay["title"], lay["figure"], lay["layer"]): _overlaps(lay["boxes"]) for lay in layers}
    assert {k: v for k, v in overlapping.items() if v} == {}
    cut = [
        (lay["title"], lay["figure"], b[4])
        for lay in layers
        for b in lay["boxes"]
        if b[0] < lay["svg"][0] - 1 or b[2] > lay["svg"][2] + 1 or b[1] < lay["svg"][1] - 1 or b[3] > lay["svg"][3] + 1
    ]
    assert cut == []  # no tick label runs outside its figure
    if os.environ.get("BLAZE_LAB_UPDATE_SCREENSHOTS") == "1":
        for name, path in shots.items():
            save_doc_screenshot(path, DOCS_IMG / f"report-{name}.png")


def test_tick_check_catches_overlapping_labels(tmp_path: Path) -> None:
    """The overlap check can fail: long category labels forced horizontal on vertical bars overlap."""
    sync_api = pytest.importorskip("playwright.sync_api")
    import plotly.graph_objects as go

    labels = [f"fp32 · quant=torchao-int4-weight-only · bs{i}" for i in range(12)]
    fig = go.Figure(go.Bar(x=labels, y=list(range(12))))
    fig.update_xaxes(tickangle=0)
    page_path = tmp_path / "overlap.html"
    fig.write_html(page_path, include_plotlyjs=True, full_html=True, default_width=900)
    p, browser, page, _ = open_offline_page(sync_api, page_path)
    try:
        page.wait_for_function("document.querySelectorAll('.plotly-graph-div .main-svg').length >= 1")
        layers = page.evaluate(TICK_BOXES_JS)
    finally:
        browser.close()
        p.stop()
    assert any(_overlaps(lay["boxes"]) for lay in layers)


def test_published_gpu_report_says_what_did_not_run() -> None:
    """The committed static H200 page opens offline and its first screen says 2 of 4 groups never ran."""
    sync_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("PIL.Image")  # save_doc_screenshot needs it
    page_path = REPO / "results" / "published" / "gpu-h200-2026-11-26" / "report.html"
    p, browser, page, (errors, requests) = open_offline_page(sync_api, page_path)
    try:
        banner = page.locator("p.note", has_text="Incomplete sweep")
        banner_box = banner.bounding_box()
        missing = page.locator("h3", has_text="Groups not run").bounding_box()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / "report-gpu-header.png"
        page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": WIDTH, "height": 900})
    finally:
        browser.close()
        p.stop()
    assert errors == [] and [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []
    assert banner_box is not None and banner_box["y"] < 200  # on the first screen, under the title
    assert missing is not None
    if os.environ.get("BLAZE_LAB_UPDATE_SCREENSHOTS") == "1":
        save_doc_screenshot(path, DOCS_IMG / "report-gpu-header.png")
