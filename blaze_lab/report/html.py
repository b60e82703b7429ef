"""The self-contained HTML report of a sweep: header, summary table, run status, then one section per engine kind.

plotly.js is inlined ONCE in ``<head>`` and every figure is a ``<div>`` without its own copy, so the file opens
offline and stays a few MB however many figures it holds. Sections come from the registry in
:mod:`blaze_lab.report.sections` (``llm`` here; ``diffusion`` and ``router`` plug in the same way).

Example:
    >>> from blaze_lab.report.html import write_report
    >>> path = write_report("results/quickstart")            # doctest: +SKIP
    >>> path.name                                            # doctest: +SKIP
    'report.html'
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from blaze_lab.clock import Clock, RealClock
from blaze_lab.errors import ReportError
from blaze_lab.report.labels import with_labels
from blaze_lab.report.png import export_pngs
from blaze_lab.report.sections import Item, report_sections, rows_of
from blaze_lab.report.tables import format_cell, invalid_rows, status_rows

DEFAULT_TITLE = "blaze_lab sweep report"
# Header facts: (label, keys tried in the manifest's env / top level / the frame's env.* columns, in order).
HEADER_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("device", ("env.device",)),
    ("GPU", ("env.gpu_name",)),
    ("CPU", ("env.cpu",)),
    ("torch", ("env.torch",)),
    ("transformers", ("env.transformers",)),
    ("diffusers", ("env.diffusers",)),
    ("git sha", ("git_sha", "env.git_sha")),
)
# Summary-table columns, in order, when present: ids, then the headline stats of each metric.
SUMMARY_METRICS = (
    "n",
    "valid",
    "tokens_per_s_mean",
    "tokens_per_s_ci_low",
    "tokens_per_s_ci_high",
    "latency_s_p50",
    "latency_s_p99",
    "ttft_s_mean",
    "tpot_s_mean",
    "step_latency_s_mean",
    "images_per_s_mean",
    "peak_allocated_bytes",
    "peak_rss_bytes",
    "perplexity",
    "kl_div_mean",
    "top1_agreement",
    "psnr_db",
    "ssim",
)
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{margin-bottom:4px} h2{border-bottom:2px solid #4C78A8;padding-bottom:4px;margin-top:40px} h3{margin-top:28px}
table.data{border-collapse:collapse;font-size:13px;margin:8px 0}
table.data th,table.data td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
table.data th{background:#E8EEF6} table.data td.num{text-align:right}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 16px;font-size:14px} dl.meta dt{font-weight:600}
p.note{color:#8a5a00;background:#fff7e6;border-left:4px solid #f0a020;padding:6px 10px}
.fixture{color:#b00;font-weight:600} table.data td,table.data th{white-space:nowrap}
table.data td.text{white-space:normal;min-width:240px} div.scroll{overflow-x:auto;max-width:100%}
"""
_WRAP_COLUMNS = {"error", "validity_reason", "note", "reason", "detail"}
_MIB_COLUMNS = {"peak_allocated_bytes", "peak_reserved_bytes", "peak_rss_bytes", "nvml_vram_bytes"}


def _manifest_value(manifest: Mapping[str, Any], summary: pd.DataFrame, keys: tuple[str, ...]) -> str:
    env = manifest.get("env")
    sources: tuple[Mapping[str, Any], ...] = (env, manifest) if isinstance(env, Mapping) else (manifest,)
    for key in keys:
        for source in sources:
            if source.get(key) not in (None, ""):
                return str(source[key])
            bare = key.removeprefix("env.")
            if source.get(bare) not in (None, ""):
                return str(source[bare])
        if key in summary.columns:
            values = summary[key].dropna().astype(str).unique()
            if len(values):
                return ", ".join(values)
    return "—"


def _sweep_name(manifest: Mapping[str, Any], summary: pd.DataFrame) -> str:
    if manifest.get("sweep"):
        return str(manifest["sweep"])
    if "sweep" in summary.columns:
        names = summary["sweep"].dropna().astype(str).unique()
        if len(names):
            return ", ".join(names)
    return "—"


def header_html(summary: pd.DataFrame, manifest: Mapping[str, Any], title: str, generated: str) -> str:
    """Title, sweep name, dates, environment and status counts as an HTML fragment."""
    counts = summary["status"].astype(str).value_counts().to_dict() if "status" in summary.columns else {}
    facts = [("sweep", _sweep_name(manifest, summary))]
    for label, key in (("started", "started"), ("ended", "ended")):
        if manifest.get(key):
            facts.append((label, str(manifest[key])))
    facts.append(("report generated", generated))
    facts += [(label, _manifest_value(manifest, summary, keys)) for label, keys in HEADER_FIELDS]
    facts.append(("runs", ", ".join(f"{n} {s}" for s, n in counts.items()) or str(len(summary))))
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts)
    fixture = manifest.get("fixture")
    banner = f'<p class="fixture">{html.escape(str(fixture))}</p>' if fixture else ""
    return f'<h1>{html.escape(title)}</h1>{banner}<dl class="meta">{items}</dl>'


def frame_html(df: pd.DataFrame) -> str:
    """An escaped HTML table of ``df``: floats to 4 significant digits, ``*_bytes`` columns in MiB."""
    if df.empty:
        return '<p class="note">No rows.</p>'
    heads = "".join(f"<th>{html.escape(str(c).replace('_bytes', ' (MiB)'))}</th>" for c in df.columns)
    body = []
    for _, row in df.iterrows():
        cells = []
        for col in df.columns:
            value = row[col]
            if col in _MIB_COLUMNS and isinstance(value, int | float) and not pd.isna(value):
                value = value / 2**20
            if isinstance(value, int | float) and not isinstance(value, bool):
                klass = ' class="num"'
            else:  # long free text (errors, reasons) wraps; short labels stay on one line
                klass = ' class="text"' if col in _WRAP_COLUMNS else ""
            cells.append(f"<td{klass}>{html.escape(format_cell(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = f'<table class="data"><thead><tr>{heads}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    return f'<div class="scroll">{table}</div>'


def image_grid_html(images: Sequence[tuple[str, bytes | str | os.PathLike[str]]], *, width: int = 160) -> str:
    """A self-contained HTML grid of PNG thumbnails (base64-embedded), one captioned cell per image.

    For pages that show images (e.g. the explorer's first image of each diffusion run). An image is PNG bytes or a
    path to a PNG file (read here: this module is where the report does file I/O); captions are escaped.

    >>> image_grid_html([("fp32", b"\\x89PNG")]).count("<figure")
    1
    """
    cells = []
    for caption, image in images:
        data = image if isinstance(image, bytes) else Path(image).read_bytes()
        src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        cells.append(
            f'<figure style="margin:4px;width:{width}px"><img src="{src}" width="{width}" alt="{html.escape(caption)}">'
            f'<figcaption style="font-size:12px">{html.escape(caption)}</figcaption></figure>'
        )
    return '<div class="image-grid" style="display:flex;flex-wrap:wrap">' + "".join(cells) + "</div>"


def summary_columns(summary: pd.DataFrame) -> list[str]:
    """The columns shown in the report's summary table: engine, config label, status, headline metrics."""
    cols = ["engine", "config", "status"] + [c for c in SUMMARY_METRICS if c in summary.columns]
    return [c for c in cols if c in summary.columns and (c in ("config", "status") or summary[c].notna().any())]


def item_html(item: Item) -> str:
    """HTML of one section item: a figure div (no plotly.js of its own), a table, or the given HTML."""
    if isinstance(item, go.Figure):
        return item.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})
    if isinstance(item, pd.DataFrame):
        return frame_html(item)
    return str(item)


def overview_items(summary: pd.DataFrame) -> list[tuple[str, Item]]:
    """Sections shown for every sweep: summary table, runs that are not ok, measurements flagged invalid."""
    labelled = _labelled(summary)
    items: list[tuple[str, Item]] = [("Summary", labelled[summary_columns(labelled)])]
    bad = status_rows(labelled)
    items.append(
        (
            "Runs without measurements (status ≠ ok)",
            bad if not bad.empty else '<p class="note">Every run has status ok.</p>',
        )
    )
    invalid = invalid_rows(labelled)
    if not invalid.empty:
        items.append(("Measurements flagged invalid", invalid))
    return items


def _labelled(summary: pd.DataFrame) -> pd.DataFrame:
    # Label per engine kind so each kind's labels show only the fields that vary among its own rows.
    if "engine" not in summary.columns or summary.empty:
        return with_labels(summary)
    parts = [with_labels(rows_of(summary, str(k))) for k in pd.unique(summary["engine"].astype(str))]
    return pd.concat(parts).loc[summary.index]


def build_report(
    summary: pd.DataFrame,
    raw: pd.DataFrame,
    manifest: Mapping[str, Any] | None = None,
    title: str = DEFAULT_TITLE,
    *,
    clock: Clock | None = None,
    figures: dict[str, go.Figure] | None = None,
    static: Mapping[str, bytes] | None = None,
) -> str:
    """One self-contained HTML page (plotly.js inlined once) for a sweep's summary and raw frames.

    ``figures``, when given, is filled with ``{file_stem: Figure}`` for every figure drawn (used for PNG export).
    ``static`` (``{file_stem: png bytes}``) draws each figure as an embedded PNG instead and leaves plotly.js out:
    a small page for committing a run (``results/published/``), still self-contained and offline.

    >>> page = build_report(summary, raw, {"sweep": "quickstart"})   # doctest: +SKIP
    """
    manifest = manifest or {}
    when = dt.datetime.fromtimestamp((clock or RealClock()).wall(), tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [header_html(summary, manifest, title, when)]
    sections: list[tuple[str, list[tuple[str, Item]]]] = [("Overview", overview_items(summary))]
    sections += [
        (kind.upper() if len(kind) <= 3 else kind.capitalize(), items)
        for kind, items in report_sections(summary, raw).items()
    ]
    stems: dict[str, go.Figure] = {}
    for section_title, items in sections:
        body.append(f"<h2>{html.escape(section_title)}</h2>")
        for item_title, item in items:
            body.append(f"<h3>{html.escape(item_title)}</h3>")
            if isinstance(item, go.Figure):
                stem = _stem(section_title, item_title, stems)
                stems[stem] = item
                if static is not None and stem in static:
                    data = base64.b64encode(static[stem]).decode()
                    body.append(f'<img alt="{html.escape(item_title)}" src="data:image/png;base64,{data}">')
                    continue
            body.append(item_html(item))
    if figures is not None:
        figures.update(stems)
    script = "" if static is not None else f'<script type="text/javascript">{get_plotlyjs()}</script>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style>"
        f"{script}</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _stem(section: str, title: str, taken: Mapping[str, Any]) -> str:
    base = "".join(ch if ch.isalnum() else "_" for ch in f"{section}_{title}".lower()).strip("_")
    base = "_".join(part for part in base.split("_") if part)
    stem, i = base, 2
    while stem in taken:
        stem, i = f"{base}_{i}", i + 1
    return stem


def write_report(
    results_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    png: bool = True,
    *,
    title: str | None = None,
    echo: Callable[[str], None] = print,
    static: bool = False,
) -> Path:
    """Collect a sweep's results and write ``results_dir/report.html`` (atomically); PNGs when Chromium exists.

    ``out`` writes the page elsewhere; PNGs go to a ``figures/`` folder beside the page. ``static=True`` embeds those
    PNGs instead of interactive figures (a page of a few hundred KB instead of ~5 MB; needs Chromium).

    Raises ReportError (naming the folder) when there are no results. Without Chromium, ``echo`` gets one line
    saying PNG export was skipped and the HTML report is complete.

    >>> write_report("results/quickstart")                   # doctest: +SKIP
    PosixPath('results/quickstart/report.html')
    """
    from blaze_lab.sweep.collect import collect, load_manifest

    results = Path(results_dir)
    if not results.is_dir():
        raise ReportError(f"no results: {results} is not a directory")
    try:
        summary, raw = collect(results)
    except ReportError:
        raise
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read results in {results}: {exc}") from exc
    if summary is None or summary.empty:
        raise ReportError(f"no results in {results} (no summary rows found)")
    try:
        manifest = load_manifest(results) or {}
    except (OSError, ValueError):
        manifest = {}  # the report still stands on the rows; the header shows "—" for what the manifest had
    name = manifest.get("sweep") or results.name
    figures: dict[str, go.Figure] = {}
    page_title = title or f"{name} — blaze_lab report"
    page = build_report(summary, raw, manifest, title=page_title, figures=figures)
    target = Path(out) if out is not None else results / "report.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    if static:
        pngs = export_pngs(figures, target.parent / "figures", echo=echo)
        if not pngs:
            raise ReportError("a static report needs PNG export, and no Chromium was found")
        images = {p.stem: p.read_bytes() for p in pngs}
        page = build_report(summary, raw, manifest, title=page_title, static=images)
        png = False
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    if png:
        export_pngs(figures, target.parent / "figures", echo=echo)
    return target


__all__ = [
    "DEFAULT_TITLE",
    "build_report",
    "frame_html",
    "header_html",
    "image_grid_html",
    "item_html",
    "overview_items",
    "summary_columns",
    "write_report",
]
