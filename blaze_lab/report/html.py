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
from blaze_lab.report.axes import theme
from blaze_lab.report.best import ROUTER_METRICS, router_best_table, scenario_statement
from blaze_lab.report.claims import claim_items
from blaze_lab.report.overview import DONE, group_status, groups_line, overview_items
from blaze_lab.report.png import export_pngs
from blaze_lab.report.rows import ok_rows
from blaze_lab.report.sections import Item, figure_item, note, report_sections, rows_of
from blaze_lab.report.tables import format_cell

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
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{margin-bottom:4px} h2{border-bottom:2px solid #4C78A8;padding-bottom:4px;margin-top:40px} h3{margin-top:28px}
table.data{border-collapse:collapse;font-size:13px;margin:8px 0}
table.data th,table.data td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
table.data th{background:#E8EEF6} table.data td.num{text-align:right}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 16px;font-size:14px} dl.meta dt{font-weight:600}
p.note{color:#8a5a00;background:#fff7e6;border-left:4px solid #f0a020;padding:6px 10px}
.fixture{color:#b00;font-weight:600} table.data td{white-space:nowrap} table.data th{white-space:normal}
table.data td.text{white-space:normal;min-width:240px} div.scroll{overflow-x:auto;max-width:100%}
nav.toc{background:#f6f8fb;border:1px solid #dde3ea;padding:8px 14px;margin:16px 0;font-size:14px}
nav.toc ul{margin:4px 0;padding-left:18px} nav.toc li{margin:3px 0} nav.toc a{color:#2a5a8a;text-decoration:none}
img{max-width:100%}
"""
_WRAP_COLUMNS = {
    "error",
    "validity_reason",
    "note",
    "reason",
    "detail",
    "configs",
    "tied with (no difference at this precision)",
}
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


def header_html(
    summary: pd.DataFrame, manifest: Mapping[str, Any], title: str, generated: str, groups: pd.DataFrame | None = None
) -> str:
    """Title, sweep name, dates, environment, status counts and groups not run as an HTML fragment."""
    counts = summary["status"].astype(str).value_counts().to_dict() if "status" in summary.columns else {}
    facts = [("sweep", _sweep_name(manifest, summary))]
    for label, key in (("started", "started"), ("ended", "ended")):
        if manifest.get(key):
            facts.append((label, str(manifest[key])))
    facts.append(("report generated", generated))
    facts += [(label, _manifest_value(manifest, summary, keys)) for label, keys in HEADER_FIELDS]
    facts.append(("runs with results", ", ".join(f"{n} {s}" for s, n in counts.items()) or str(len(summary))))
    groups = group_status(manifest) if groups is None else groups
    line = groups_line(groups)
    if line:
        facts.append(("groups", line))
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts)
    fixture = manifest.get("fixture")
    banner = f'<p class="fixture">{html.escape(str(fixture))}</p>' if fixture else ""
    if len(groups) and (groups["status"] != DONE).any():
        banner += f'<p class="note"><b>Incomplete sweep:</b> {html.escape(line)}. See “Groups not run”.</p>'
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


def item_html(item: Item) -> str:
    """HTML of one section item: a figure div (no plotly.js of its own), a table, or the given HTML."""
    if isinstance(item, go.Figure):
        return item.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})
    if isinstance(item, pd.DataFrame):
        return frame_html(item)
    return str(item)


def kind_extras(kind: str, summary: pd.DataFrame, items: list[tuple[str, Item]]) -> list[tuple[str, Item]]:
    """Items the report adds before a kind's section ``items``: the conditions every run shared, and a best-config
    table when the section has none and its rows have goodput/latency percentiles (router: strategies pooled over
    seeds, ties by overlapping CIs)."""
    rows = rows_of(summary, kind)
    extra: list[tuple[str, Item]] = []
    scenario = scenario_statement(rows, kind)
    if scenario:
        extra.append(("Conditions shared by every run", note(f"Every {kind} run: {scenario}.")))
    has_best = any(title.startswith("Best config") for title, _ in items)
    if not has_best and len(ok_rows(rows)) and any(m in rows.columns for m in ROUTER_METRICS):
        extra.append(figure_item("Best config per objective", router_best_table, rows))
    return extra


def build_report(
    summary: pd.DataFrame,
    raw: pd.DataFrame,
    manifest: Mapping[str, Any] | None = None,
    title: str = DEFAULT_TITLE,
    *,
    clock: Clock | None = None,
    figures: dict[str, go.Figure] | None = None,
    static: Mapping[str, bytes] | None = None,
    groups: pd.DataFrame | None = None,
    results_dir: str | os.PathLike[str] | None = None,
) -> str:
    """One self-contained HTML page (plotly.js inlined once) for a sweep's summary and raw frames.

    ``figures``, when given, is filled with ``{file_stem: Figure}`` for every figure drawn (used for PNG export).
    ``static`` (``{file_stem: png bytes}``) draws each figure as an embedded PNG instead and leaves plotly.js out:
    a small page for committing a run (``results/published/``), still self-contained and offline. ``groups``
    (:func:`~blaze_lab.report.overview.group_status`) says which planned groups have results (default: the
    manifest's word). A sweep with ``claims…`` parts gets a "Claims" section after the overview
    (:mod:`blaze_lab.report.claims`; ``results_dir`` is where it finds files such as ``ray_scaling.json``).

    >>> page = build_report(summary, raw, {"sweep": "quickstart"})   # doctest: +SKIP
    """
    manifest = manifest or {}
    when = generated_at(clock)
    groups = group_status(manifest) if groups is None else groups
    stems: dict[str, go.Figure] = {}
    body = sweep_html(summary, raw, manifest, title, when, groups, stems, {}, static, results_dir=results_dir)
    if figures is not None:
        figures.update(stems)
    return page_html(title, body, static is None)


def generated_at(clock: Clock | None = None) -> str:
    """The report's "generated" time (UTC, minutes)."""
    return dt.datetime.fromtimestamp((clock or RealClock()).wall(), tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def page_html(title: str, body: Sequence[str], interactive: bool = True) -> str:
    """The whole page around ``body``: styles, and plotly.js inlined once when ``interactive``."""
    script = f'<script type="text/javascript">{get_plotlyjs()}</script>' if interactive else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style>"
        f"{script}</head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def sweep_html(
    summary: pd.DataFrame,
    raw: pd.DataFrame,
    manifest: Mapping[str, Any],
    title: str,
    when: str,
    groups: pd.DataFrame,
    stems: dict[str, go.Figure],
    anchors: dict[str, go.Figure],
    static: Mapping[str, bytes] | None = None,
    prefix: str = "",
    results_dir: str | os.PathLike[str] | None = None,
) -> list[str]:
    """One sweep's header, table of contents and sections as HTML fragments.

    ``stems`` (figure file stems -> figures) and ``anchors`` (ids taken) are shared by every sweep of one page;
    ``prefix`` (the sweep's name on a page of several) keeps their ids apart.
    """
    sections: list[tuple[str, list[tuple[str, Item]]]] = [("Overview", overview_items(summary, manifest, groups))]
    claims = claim_items(summary, raw, results_dir)
    if claims:
        sections.append(("Claims", claims))
    for kind, items in report_sections(summary, raw).items():
        sections.append(
            (kind.upper() if len(kind) <= 3 else kind.capitalize(), kind_extras(kind, summary, items) + items)
        )
    body: list[str] = []
    toc: list[str] = []
    for section_title, items in sections:
        scope = f"{prefix} {section_title}".strip()
        anchor = _stem("s", scope, anchors)
        anchors[anchor] = go.Figure()
        body.append(f'<section id="section-{anchor}"><h2 id="{anchor}">{html.escape(section_title)}</h2>')
        links = []
        for item_title, item in items:
            item_anchor = _stem(scope, item_title, anchors)
            anchors[item_anchor] = go.Figure()
            links.append(f'<a href="#{item_anchor}">{html.escape(item_title)}</a>')
            body.append(f'<h3 id="{item_anchor}">{html.escape(item_title)}</h3>')
            if isinstance(item, go.Figure):
                theme(item)
                stem = _stem(scope, item_title, stems)
                stems[stem] = item
                if static is not None and stem in static:
                    data = base64.b64encode(static[stem]).decode()
                    body.append(f'<img alt="{html.escape(item_title)}" src="data:image/png;base64,{data}">')
                    continue
            body.append(item_html(item))
        body.append("</section>")
        toc.append(f'<li><a href="#{anchor}">{html.escape(section_title)}</a>: {" · ".join(links)}</li>')
    nav = f'<nav class="toc"><b>Contents</b><ul>{"".join(toc)}</ul></nav>'
    return [header_html(summary, manifest, title, when, groups), nav, *body]


def _stem(section: str, title: str, taken: Mapping[str, Any]) -> str:
    base = "".join(ch if ch.isalnum() else "_" for ch in f"{section}_{title}".lower()).strip("_")
    base = "_".join(part for part in base.split("_") if part)
    stem, i = base, 2
    while stem in taken:
        stem, i = f"{base}_{i}", i + 1
    return stem


def load_sweep(results: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], pd.DataFrame]:
    """(summary, raw, manifest, group status) of one sweep folder; ReportError (naming it) without results."""
    from blaze_lab.sweep.collect import collect, load_manifest

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
    except (OSError, ValueError, ReportError):
        manifest = {}  # the report still stands on the rows; the header shows "—" for what the manifest had
    return summary, raw, manifest, group_status(manifest, results)


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
    results = Path(results_dir)
    summary, raw, manifest, groups = load_sweep(results)
    name = manifest.get("sweep") or results.name
    figures: dict[str, go.Figure] = {}
    page_title = title or f"{name} — blaze_lab report"
    page = build_report(summary, raw, manifest, title=page_title, figures=figures, groups=groups, results_dir=results)
    target = Path(out) if out is not None else results / "report.html"
    return publish_page(
        target, page, figures, target.parent / "figures", static=static, png=png, echo=echo,
        rebuild=lambda images: build_report(
            summary, raw, manifest, title=page_title, static=images, groups=groups, results_dir=results
        ),
    )  # fmt: skip


def publish_page(
    target: Path,
    page: str,
    figures: dict[str, go.Figure],
    figures_dir: Path,
    *,
    static: bool,
    png: bool,
    echo: Callable[[str], None],
    rebuild: Callable[[dict[str, bytes]], str],
) -> Path:
    """Write ``page`` to ``target`` atomically; with ``static``, first export the figures to PNGs and write the page
    ``rebuild`` makes with them embedded; otherwise export PNGs after the page (a failure there is only a warning)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if static:
        pngs = export_pngs(figures, figures_dir, echo=echo)
        if not pngs:
            raise ReportError("a static report needs PNG export, and no Chromium was found")
        page = rebuild({p.stem: p.read_bytes() for p in pngs})
        png = False
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, target)
    if png:
        try:
            export_pngs(figures, figures_dir, echo=echo)
        except ReportError as exc:  # the HTML report is written and complete: a PNG failure is only a warning
            echo(f"warning: {exc} (the HTML report is complete; PNGs were not written)")
    return target


__all__ = [
    "DEFAULT_TITLE",
    "build_report",
    "frame_html",
    "generated_at",
    "header_html",
    "image_grid_html",
    "item_html",
    "kind_extras",
    "load_sweep",
    "page_html",
    "sweep_html",
    "write_report",
]
