"""Screenshot one figure of a sweep's report in headless Chromium (offline), for docs/img/.

Writes the sweep's report (``write_report``), opens it in Chromium through Playwright with the network off, waits
until every plotly figure has rendered, and saves the item titled TITLE (its heading and the figure under it),
downscaled to 2/3 and quantized to 128 colours like the report screenshots of tests/report/test_report_browser.py.

Usage:
    PYTHONPATH=$PWD .venv/bin/python benchmarks/figure_screenshot.py results/serving_saturation_smollm2 \\
        "Saturation: latency vs throughput" docs/img/serving-saturation-slo.png
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def screenshot(results: Path, title: str, out: Path, width: int = 1200) -> Path:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from blaze_lab.report.html import write_report

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / results.name
        shutil.copytree(results, copy)
        page_path = write_report(copy, png=False)
        expected = page_path.read_text().count('class="plotly-graph-div"')
        shot = Path(tmp) / "shot.png"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_context(offline=True, viewport={"width": width, "height": 1000}).new_page()
            page.goto(page_path.as_uri())
            page.wait_for_function(
                f"document.querySelectorAll('.plotly-graph-div .main-svg').length >= {expected}", timeout=60_000)
            heading = page.locator("h3", has_text=title).first
            top = heading.bounding_box()
            figure = heading.locator("xpath=following-sibling::*[1]").bounding_box()
            if top is None or figure is None:
                browser.close()
                raise SystemExit(f"no item titled {title!r} in {page_path}")
            height = figure["y"] + figure["height"] - top["y"] + 8
            page.screenshot(path=str(shot), full_page=True,
                            clip={"x": 0, "y": top["y"] - 8, "width": width, "height": height})
            browser.close()
        out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(shot) as img:
            small = img.convert("RGB").resize((img.width * 2 // 3, img.height * 2 // 3), Image.Resampling.LANCZOS)
            small.quantize(colors=128).save(out, optimize=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a sweep's results folder")
    parser.add_argument("title", help="the report item's title (its h3 heading)")
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--width", type=int, default=1200, help="browser window width in px")
    args = parser.parse_args(argv)
    print(screenshot(args.results, args.title, args.out, args.width))
    return 0


if __name__ == "__main__":
    sys.exit(main())
