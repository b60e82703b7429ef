"""The report's sections: each engine kind's section function, found through :mod:`blaze_lab.kinds`.

A **section function** takes the summary and raw rows of one engine kind (all statuses) and returns a list of
``(title, item)`` where an item is a plotly ``Figure``, a ``DataFrame`` (rendered as a table) or a ``str`` of
trusted HTML (e.g. an image grid with base64 ``<img>``s, or a :func:`note`). The HTML report and the report
notebook render the same items. A kind's section is its ``section`` entry in :data:`blaze_lab.kinds.KINDS` (a lazy
``"module:function"``, so the report does not import diffusion or router code until a sweep has such rows)::

    # blaze_lab/report/diffusion_figures.py
    def diffusion_sections(summary, raw):
        return [figure_item("Per-step latency", step_latency_bars, summary),
                ("Images", image_grid_html(summary))]

Use :func:`figure_item` around each figure function so a frame lacking a column yields a note, not a crash.

Example:
    >>> import pandas as pd
    >>> from blaze_lab import kinds
    >>> kinds.register(kinds.Kind("demo", "blaze_lab.router.config:RouterExperimentConfig", "n.ipynb",
    ...                           group="x:y", section=lambda s, r: [("Rows", s)]))
    >>> report_sections(pd.DataFrame({"engine": ["demo"], "x": [1]}), pd.DataFrame())["demo"][0][0]
    'Rows'
    >>> _ = kinds.KINDS.pop("demo")
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any, TypeAlias

import pandas as pd
import plotly.graph_objects as go

from blaze_lab import kinds
from blaze_lab.errors import ReportError

Item: TypeAlias = go.Figure | pd.DataFrame | str
SectionFn: TypeAlias = Callable[[pd.DataFrame, pd.DataFrame], list[tuple[str, Item]]]


def section_function(kind: str) -> SectionFn | None:
    """The section function :mod:`blaze_lab.kinds` registers for ``kind``, or None when the kind is unknown."""
    entry = kinds.KINDS.get(kind)
    return None if entry is None else entry.section_function()


def note(text: str) -> str:
    """An HTML note (escaped) shown where a figure could not be drawn."""
    return f'<p class="note">{html.escape(text)}</p>'


def figure_item(title: str, fn: Callable[..., Item], *args: Any, **kwargs: Any) -> tuple[str, Item]:
    """``(title, fn(*args))``, or ``(title, note(reason))`` when ``fn`` raises ReportError (missing data)."""
    try:
        return title, fn(*args, **kwargs)
    except ReportError as exc:
        return title, note(f"Skipped: {exc}")


def engine_kinds(summary: pd.DataFrame) -> list[str]:
    """Engine kinds present in ``summary`` in order of appearance (``llm`` when there is no ``engine`` column)."""
    if "engine" not in summary.columns:
        return ["llm"] if any(str(c).startswith("llm.") for c in summary.columns) else []
    return [str(k) for k in pd.unique(summary["engine"].dropna().astype(str))]


def rows_of(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Rows of ``frame`` for one engine kind (the whole frame when it has no ``engine`` column)."""
    if "engine" not in frame.columns:
        return frame
    return frame[frame["engine"].astype(str) == kind]


def report_sections(summary: pd.DataFrame, raw: pd.DataFrame) -> dict[str, list[tuple[str, Item]]]:
    """Items per engine kind present in ``summary``; a kind with no registered section gets a note."""
    out: dict[str, list[tuple[str, Item]]] = {}
    for kind in engine_kinds(summary):
        fn = section_function(kind)
        if fn is None:
            out[kind] = [
                (
                    "No figures",
                    note(
                        f"No report section is registered for engine kind {kind!r}; its rows are in the summary table."
                    ),
                )
            ]
            continue
        out[kind] = fn(rows_of(summary, kind), rows_of(raw, kind))
    return out


def show_items(
    items: list[tuple[str, Item]] | dict[str, list[tuple[str, Item]]],
    display: Callable[[Any], Any] | None = None,
) -> int:
    """Display report items in a notebook (titles as Markdown); a dict of kinds gets one heading per kind.

    ``display`` defaults to ``IPython.display.display``. Returns how many items were shown.

    >>> shown = []
    >>> show_items([("T", "<p>x</p>")], display=shown.append)
    1
    """
    from IPython.display import HTML, Markdown
    from IPython.display import display as ipy_display

    show = display or ipy_display
    groups = items.items() if isinstance(items, dict) else [("", items)]
    count = 0
    for kind, group in groups:
        if kind:
            show(Markdown(f"## {kind}"))
        for title, item in group:
            show(Markdown(f"### {title}"))
            show(HTML(item) if isinstance(item, str) else item)
            count += 1
    return count


__all__ = [
    "Item",
    "SectionFn",
    "engine_kinds",
    "figure_item",
    "note",
    "report_sections",
    "rows_of",
    "section_function",
    "show_items",
]
