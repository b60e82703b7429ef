"""The end-of-sweep digest ``blaze-lab sweep`` prints: per kind the best config per objective (the report's
best-config tables: paired verdicts, ties reported as ties), the rows flagged invalid and the rows without
measurements with their reasons, and where the report is. Plain text, at most ``width`` (120) columns.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"engine": ["router"] * 4, "router.strategy": ["random", "random", "adaptive", "adaptive"],
    ...                    "router.seed": [0, 1, 0, 1], "status": ["ok"] * 4, "goodput_rps": [90.0, 92, 120, 121],
    ...                    "latency_s_p50": [0.2, 0.3, 0.1, 0.2], "latency_s_p99": [2.0, 2.1, 1.0, 1.1]})
    >>> print(digest_text(df, report="results/demo/report.html"))  # doctest: +NORMALIZE_WHITESPACE
    router: best config per objective (ties: no difference at this precision)
      objective        best      value [95% CI]              tied with
      max goodput      adaptive  120.5 req/s [114.1, 126.9]  —
      min latency p50  adaptive  0.15 s [-0.4853, 0.7853]    random
      min latency p99  adaptive  1.05 s [0.4147, 1.685]      —
    <BLANKLINE>
    report: results/demo/report.html
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from blaze_lab.report.rows import config_columns

WIDTH = 120
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


def text_table(rows: Sequence[Sequence[str]], headers: Sequence[str], width: int = WIDTH, indent: int = 2) -> str:
    """Rows as aligned columns within ``width``: every column at most its widest cell, the widest columns cut
    (with "…") until the line fits; the last column is not padded.

    >>> print(text_table([["a", "x" * 30]], ["h1", "h2"], width=20))
      h1  h2
      a   xxxxxxxxxxxxx…
    """
    cols = len(headers)
    widths = [max(len(str(h)), *(len(" ".join(str(r[i]).split())) for r in rows)) for i, h in enumerate(headers)]
    while indent + sum(widths) + 2 * (cols - 1) > width and max(widths) > 8:
        widths[widths.index(max(widths))] -= 1
    lines = []
    for row in [list(headers), *rows]:
        cells = [_fit(str(c), w).ljust(w) for c, w in zip(row, widths, strict=True)]
        lines.append((" " * indent + "  ".join(cells)).rstrip())
    return "\n".join(lines)


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
    body = []
    for _, r in table.iterrows():
        best = str(r["config"])
        if not best:  # no config qualifies: the note says why
            body.append([str(r["objective"]), "—", "—", str(r.get("note") or "")])
            continue
        if r.get("valid") is False:
            best += " (invalid)"
        body.append([str(r["objective"]), best, _value(r), str(r.get("tied with") or "—")])
    notes = sorted({str(n) for n, c in zip(table["note"], table["config"], strict=True) if n and c})
    lines = [f"{kind}: best config per objective (ties: no difference at this precision)"]
    lines.append(text_table(body, ["objective", "best", "value [95% CI]", "tied with"], width))
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
