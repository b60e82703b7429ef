"""Shared names of the browser tests (constants and small types); fixtures are in this folder's conftest.py."""

from __future__ import annotations

import dataclasses
import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"  # git-ignored (test-artifacts/)
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KERNEL_NAME = "blaze-lab"

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs a chromium binary (apt-get install chromium)")


def open_offline_page(sync_api: Any, page_path: Path, width: int = 1400) -> tuple[Any, Any, Any, list[list[str]]]:
    """A written page in offline Chromium: ``(playwright, browser, page, [errors, requests])``.

    ``errors`` collects uncaught exceptions and console errors, ``requests`` every URL the page asked for. The caller
    closes the browser and stops playwright.
    """
    p = sync_api.sync_playwright().start()
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    context = browser.new_context(offline=True, viewport={"width": width, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("request", lambda req: requests.append(req.url))
    page.goto(page_path.as_uri())
    return p, browser, page, [errors, requests]


def save_doc_screenshot(shot_path: Path, dest: Path, colors: int = 128, fast_octree: bool = False) -> None:
    """Write a screenshot into the docs, downscaled to 2/3 and palette-quantized (how docs/img's PNGs are made)."""
    from PIL import Image

    dest.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(shot_path) as shot:
        small = shot.convert("RGB").resize((shot.width * 2 // 3, shot.height * 2 // 3), Image.LANCZOS)
        method = Image.Quantize.FASTOCTREE if fast_octree else None
        small.quantize(colors=colors, method=method).save(dest, optimize=True)


@dataclasses.dataclass
class BrowserPage:
    """A Playwright page and the JavaScript errors seen on it (uncaught exceptions and console errors)."""

    page: Any
    errors: list[str]


@dataclasses.dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path
    log: Path

    def api(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def page_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"
