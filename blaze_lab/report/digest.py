"""The end-of-sweep digest ``blaze-lab sweep`` prints: per kind the best config per objective (the report's
best-config tables: paired verdicts, ties reported as ties), the rows flagged invalid and the rows without
measurements with their reasons, and where the report is. Plain text, at most ``width`` (120) columns.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"engine": ["router"] * 4, "router.strategy": ["random", "random", "adaptive", "adaptive"],
    ...                    "router.seed": [0, 1, 0, 1], "status": ["ok"] * 4, "goodput_rps": [90.0, 92, 120, 121],
    ...                    "latency_s_p50": [0.2, 0.3, 0.1, 0.2], "latency_s_p99": [2.0, 2.1, 1.0, 1.1]})
    >>> print(digest_text(df, report="results/demo/report.html"))  # doctest: +NORMALIZE_WHITESPACE
    router: best config per objective (tied with: no difference at this precision from the best)
      objective        best      value [95% CI]
      max goodput      adaptive  120.5 req/s [114.1, 126.9]
      min latency p50  adaptive  0.15 s [-0.4853, 0.7853]
                       tied with: random
      min latency p99  adaptive  1.05 s [0.4147, 1.685]
    <BLANKLINE>
    report: results/demo/report.html
"""

from __future__ import annotations

import importlib
import math
import os
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from blaze_lab.report.rows import config_columns

WIDTH = 120
OBJECTIVE_MAX = 50  # objective names longer than this are cut in the text table
LAST_MIN = 30  # the last column (tied configs, reasons) keeps at least this width; the others are cut first
# kind -> "module:function" returning best_table(...) rows for that kind's summary rows (imported on first use).
BEST_FUNCTIONS: dict[str, str] = {
    "llm": "blaze_lab.report.llm_figures:best_configs",
    "diffusion": "blaze_lab.report.digest:diffusion_best",
    "router": "blaze_lab.report.best:router_best",
}


def diffusion_best(summary: pd.DataFrame) -> pd.DataFrame:
    """Diffusion: :func:`~blaze_lab.report.best.best_table` over its objectives (the report's table)."""
    from blaze_lab.report.best import best_table, diffusion_objectives

    return best_table(summary, diffusion_objectives(summary))


def _best_function(kind: str) -> Callable[[pd.DataFrame], pd.DataFrame] | None:
    target = BEST_FUNCTIONS.get(kind)
    if target is None:
        return None
    module, _, name = target.partition(":")
    fn: Callable[[pd.DataFrame], pd.DataFrame] = getattr(importlib.import_module(module), name)
    return fn


def _fit(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def text_table(
    rows: Sequence[Sequence[str]],
    headers: Sequence[str],
    width: int = WIDTH,
    indent: int = 2,
    below: Sequence[str] | None = None,
) -> str:
    """Rows as aligned columns within ``width``. The last column (lists: tied configs, reasons) wraps onto
    continuation lines; when that is not enough, the widest other columns are cut (with "…"). ``below``: a text per
    row printed under it from the second column on (wrapped; empty: nothing).

    >>> print(text_table([["a", "x, " * 9 + "y"]], ["h1", "h2"], width=20))
      h1  h2
      a   x, x, x, x, x, x,
          x, x, x, y
    """
    cells = [[" ".join(str(c).split()) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    room = width - indent - 2 * (len(headers) - 1)
    widths[-1] = max(min(widths[-1], room - sum(widths[:-1])), min(widths[-1], LAST_MIN))
    while sum(widths) > room and max(widths[:-1]) > 8:
        widest = widths.index(max(widths[:-1]))
        widths[widest] -= 1
    lines = []
    second = " " * (indent + widths[0] + 2)
    for i, row in enumerate([[str(h) for h in headers], *cells]):
        head = [_fit(c, w).ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True)]
        last = _wrap(row[-1], widths[-1])
        pad = " " * (indent + sum(widths[:-1]) + 2 * (len(headers) - 1))
        lines.append((" " * indent + "  ".join([*head, last[0]])).rstrip())
        lines += [pad + more for more in last[1:]]
        text = below[i - 1] if below is not None and i > 0 else ""
        lines += [second + part for part in (_wrap(text, width - len(second)) if text else [])]
    return "\n".join(lines)


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width``: a list ("a, b, c") breaks between its items, other text between words."""
    if len(text) <= width:
        return [text]
    items = text.split(", ")
    if len(items) == 1 or max(len(i) for i in items) + 1 > width:
        return textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    lines = [items[0]]
    for item in items[1:]:
        if len(lines[-1]) + 2 + len(item) + 1 <= width:
            lines[-1] += ", " + item
        else:
            lines[-1] += ","
            lines.append(item)
    return lines


def _value(row: pd.Series) -> str:
    value = row.get("value")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{float(value):.4g} {row.get('unit') or ''}".strip()
    ci = str(row.get("95% CI") or "")
    return f"{text} {ci}".strip()


def best_lines(kind: str, rows: pd.DataFrame, width: int = WIDTH) -> list[str]:
    """The best-config table of one kind's rows as text lines (none when the kind has no objectives)."""
    fn = _best_function(kind)
    if fn is None or rows.empty:
        return []
    table = fn(rows)
    body, ties = [], []
    for _, r in table.iterrows():
        objective = _fit(str(r["objective"]), OBJECTIVE_MAX)
        best = str(r["config"])
        if not best:  # no config qualifies: the note says why
            body.append([objective, "—", str(r.get("note") or "")])
            ties.append("")
            continue
        if r.get("valid") is False:
            best += " *"
        body.append([objective, best, _value(r)])
        tied = str(r.get("tied with") or "")
        ties.append(f"tied with: {tied}" if tied and tied != "—" else "")
    notes = sorted({str(n) for n, c in zip(table["note"], table["config"], strict=True) if n and c})
    if any(v is False for v in table["valid"]):
        notes.append("*: the best row is flagged invalid (listed below)")
    lines = [f"{kind}: best config per objective (tied with: no difference at this precision from the best)"]
    lines.append(text_table(body, ["objective", "best", "value [95% CI]"], width, below=ties))
    lines += [_fit(f"  note: {n}", width) for n in notes]
    return lines


def problem_lines(summary: pd.DataFrame, width: int = WIDTH) -> list[str]:
    """Rows flagged invalid (with their validity reason) and rows without measurements (with a plain reason)."""
    from blaze_lab.report.tables import invalid_rows, status_rows

    lines: list[str] = []
    invalid = invalid_rows(summary)
    if len(invalid):
        lines.append(f"invalid rows ({len(invalid)}: measured, but flagged; left out of timed objectives)")
        body = [[str(r["engine"]), str(r["config"]), _n(r["n"]), str(r["validity_reason"])] for _, r in
                invalid.iterrows()]  # fmt: skip
        lines.append(text_table(body, ["kind", "config", "n", "why"], width))
    failed = status_rows(summary)
    if len(failed):
        lines.append(f"rows without measurements ({len(failed)})")
        body = [[str(r["engine"]), str(r["config"]), str(r["status"]), str(r["reason"])] for _, r in failed.iterrows()]
        lines.append(text_table(body, ["kind", "config", "status", "why"], width))
    return lines


def _n(value: object) -> str:
    try:
        return str(int(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "?"


def digest_text(summary: pd.DataFrame, report: str | os.PathLike[str] | None = None, width: int = WIDTH) -> str:
    """The digest of a sweep's (collected) summary rows; ``report``: the report's path, named on the last line."""
    lines: list[str] = []
    kinds = list(dict.fromkeys(summary["engine"].astype(str))) if "engine" in summary.columns else []
    for kind in kinds:
        rows = summary[summary["engine"].astype(str) == kind]
        keep = [c for c in rows.columns if c not in config_columns(rows) or c.startswith(f"{kind}.")]
        block = best_lines(kind, rows[keep], width)
        if block:
            lines += [*block, ""]
    lines += problem_lines(summary, width)
    if report is not None:
        lines += [""] if lines and lines[-1] else []
        lines.append(f"report: {report}")
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines).rstrip()


def sweep_digest(
    results_dir: str | os.PathLike[str], report: str | os.PathLike[str] | None = None, width: int = WIDTH
) -> str:
    """:func:`digest_text` of the sweep in ``results_dir`` (its replications combined, as the report shows it)."""
    from blaze_lab.sweep.collect import collect

    summary, _ = collect(Path(results_dir))
    if summary.empty:
        return f"no rows in {results_dir}" + (f"\nreport: {report}" if report else "")
    return digest_text(summary, report, width)


__all__ = ["BEST_FUNCTIONS", "WIDTH", "best_lines", "diffusion_best", "digest_text", "problem_lines", "sweep_digest",
           "text_table"]  # fmt: skip
