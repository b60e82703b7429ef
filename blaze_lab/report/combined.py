"""One HTML report over several sweeps (``blaze-lab report results/a results/b``).

The page starts with a table of the sweeps (when each ran, its row counts and groups, a link to its part of the
page), then each sweep's own report (header, contents, sections) in the order given, under one copy of plotly.js.
Ids and figure file names carry the sweep's name, so two sweeps with the same sections do not collide. To compare
the numbers of two sweeps config by config, ``blaze-lab compare A B`` gives paired verdicts.

Example:
    >>> path = write_combined_report(["results/a", "results/b"])   # doctest: +SKIP
    >>> path.name                                                  # doctest: +SKIP
    'report-a+b.html'
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from blaze_lab.errors import ConfigError
from blaze_lab.report.html import frame_html, generated_at, load_sweep, page_html, publish_page, sweep_html
from blaze_lab.report.overview import groups_line


def default_path(results_dirs: Sequence[Path]) -> Path:
    """``<parent of the first>/report-<name>+<name>....html`` (names cut to keep the file name short)."""
    names = "+".join(p.resolve().name for p in results_dirs)
    if len(names) > 100:
        names = names[:99] + "…"
    return results_dirs[0].resolve().parent / f"report-{names}.html"


def sweeps_table(sweeps: Sequence[tuple[str, pd.DataFrame, dict[str, Any], pd.DataFrame]]) -> str:
    """HTML table of the sweeps on the page: name (a link to its part), started, ended, rows by status, groups."""
    rows = []
    for name, summary, manifest, groups in sweeps:
        counts = summary["status"].astype(str).value_counts().to_dict() if "status" in summary.columns else {}
        rows.append(
            {"sweep": name, "started": manifest.get("started") or "—", "ended": manifest.get("ended") or "—",
             "rows": ", ".join(f"{n} {s}" for s, n in counts.items()) or str(len(summary)),
             "groups": groups_line(groups) or "—"}
        )  # fmt: skip
    table = frame_html(pd.DataFrame(rows))
    for name, *_ in sweeps:  # link each name to its sweep's part of the page
        cell = f"<td>{html.escape(name)}</td>"
        table = table.replace(cell, f'<td><a href="#sweep-{_id(name)}">{html.escape(name)}</a></td>', 1)
    return table


def _id(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower())


def build_combined(results_dirs: Sequence[str | os.PathLike[str]], figures: dict[str, go.Figure] | None = None,
                   static: dict[str, bytes] | None = None, title: str | None = None) -> str:  # fmt: skip
    """The page for several sweep folders (see the module doc); ``figures`` is filled with ``{stem: Figure}``."""
    dirs = [Path(d) for d in results_dirs]
    if len(dirs) < 2:
        raise ConfigError("results_dirs", [str(d) for d in dirs], reason="give two or more sweep folders")
    loaded = []
    names: list[str] = []
    for folder in dirs:
        summary, raw, manifest, groups = load_sweep(folder)
        name = str(manifest.get("sweep") or folder.name)
        if name in names:  # two folders of sweeps with one name (results/a/quick, results/b/quick): say which
            name = str(folder)
        names.append(name)
        loaded.append((name, summary, raw, manifest, groups, folder))
    title = title or f"{len(dirs)} sweeps: {', '.join(names)} — blaze_lab report"
    when = generated_at()
    stems: dict[str, go.Figure] = {}
    anchors: dict[str, go.Figure] = {}
    body = [f"<h1>{html.escape(title)}</h1>", f'<p>Report generated {html.escape(when)}.</p>',
            sweeps_table([(n, s, m, g) for n, s, _, m, g, _ in loaded])]  # fmt: skip
    for name, summary, raw, manifest, groups, folder in loaded:
        body.append(f'<article id="sweep-{_id(name)}">')
        # each sweep's own folder: the Claims section reads files kept beside its results (ray_scaling.json)
        part = sweep_html(
            summary, raw, manifest, f"Sweep {name}", when, groups, stems, anchors, static, prefix=name,
            results_dir=folder,
        )  # fmt: skip
        body += [*part, "</article>"]
    if figures is not None:
        figures.update(stems)
    return page_html(title, body, static is None)


def write_combined_report(
    results_dirs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | None = None,
    png: bool = True,
    *,
    echo: Callable[[str], None] = print,
    static: bool = False,
) -> Path:
    """Write the page of several sweeps (default :func:`default_path`) atomically, with PNGs like ``write_report``."""
    dirs = [Path(d) for d in results_dirs]
    target = Path(out) if out is not None else default_path(dirs)
    figures: dict[str, go.Figure] = {}
    page = build_combined(dirs, figures)
    return publish_page(
        target,
        page,
        figures,
        target.parent / f"{target.stem}-figures",
        static=static,
        png=png,
        echo=echo,
        rebuild=lambda images: build_combined(dirs, static=images),
    )


__all__ = ["build_combined", "default_path", "sweeps_table", "write_combined_report"]
