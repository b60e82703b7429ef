"""PNG export of report figures through kaleido 1.x, which drives a locally installed Chromium.

Kaleido 1.x ships no browser. Where none is found, export is skipped with one line of notice; the HTML report does
not depend on it. All figures go through one ``plotly.io.write_images`` call, so Chromium starts once (~2 s) rather
than once per figure.

Example:
    >>> export_pngs({"throughput": fig}, Path("results/quickstart/figures"))   # doctest: +SKIP
    [PosixPath('results/quickstart/figures/throughput.png')]
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import plotly.graph_objects as go

from blaze_lab.errors import ReportError

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
SKIP_NOTICE = "PNG export skipped: no Chromium found (HTML report is complete)"


def find_chromium() -> str | None:
    """Path of a Chromium-family browser kaleido can drive: ``BROWSER_PATH`` (kaleido's own override), then
    ``PATH``, then a browser fetched by ``kaleido_get_chrome``; None when there is none."""
    override = os.environ.get("BROWSER_PATH")
    if override and Path(override).is_file():
        return override
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return _downloaded_browser()


def _downloaded_browser() -> str | None:
    try:
        from choreographer.browsers.chromium import Chromium  # kaleido's launcher: knows its own download dir

        return Chromium.find_browser(skip_local=False, skip_typical=True)
    except (ImportError, AttributeError, OSError, RuntimeError):
        return None


def export_pngs(
    figures: Mapping[str, go.Figure],
    out_dir: str | os.PathLike[str],
    *,
    echo: Callable[[str], None] = print,
    width: int = 1100,
    height: int = 550,
) -> list[Path]:
    """Write each figure as ``out_dir/<name>.png``; returns the paths ([] with one notice when no Chromium)."""
    if not figures:
        return []
    browser = find_chromium()
    if browser is None:
        echo(SKIP_NOTICE)
        return []
    import plotly.io as pio

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png" for name in figures]
    # kaleido reads BROWSER_PATH when it launches Chromium; point it at what we found (restored after).
    previous = os.environ.get("BROWSER_PATH")
    os.environ["BROWSER_PATH"] = browser
    try:
        pio.write_images(
            list(figures.values()),
            paths,
            width=[int(f.layout.width or width) for f in figures.values()],
            height=[int(f.layout.height or height) for f in figures.values()],
        )
    except Exception as exc:  # a browser that cannot start must not cost the HTML report
        raise ReportError(f"PNG export with {browser} failed: {exc}") from exc
    finally:
        if previous is None:
            os.environ.pop("BROWSER_PATH", None)
        else:
            os.environ["BROWSER_PATH"] = previous
    return paths


__all__ = ["SKIP_NOTICE", "export_pngs", "find_chromium"]
