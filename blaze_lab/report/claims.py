"""The report's "Claims" section: the Blaze headline numbers, each tested against this sweep's rows.

The section appears when the sweep has parts whose name starts with ``claims`` (``experiments/claims.yaml``): only
their rows are read, so a serving or router sweep of another purpose never grows a verdict table. Each claim is a
:class:`~blaze_lab.metrics.claims.Claim`; its measurement comes from the library's interval and paired-comparison
code (:mod:`blaze_lab.report.claim_serving`, :mod:`blaze_lab.report.claim_router`), and its verdict from
:func:`~blaze_lab.metrics.claims.verdict` — supported, not supported, cannot tell at this precision (with the n that
would decide it), or not measured in this sweep. Each row says where it was measured (the rows' ``env.*`` columns),
so a CPU run and a GPU run of the same spec say which claims were tested where.

Example:
    >>> claim_items(pd.DataFrame({"engine": ["llm"], "group": ["llm-1"]}), pd.DataFrame())
    []
"""

from __future__ import annotations

import html
import math
import os
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from blaze_lab.metrics.claims import CANNOT_TELL, NOT_MEASURED, NOT_SUPPORTED, SUPPORTED, Claim, assess
from blaze_lab.report.axes import layout, log_axis
from blaze_lab.report.claim_router import AVAILABILITY, SCALING, measure_availability, measure_ray, measure_scaling
from blaze_lab.report.claim_serving import LATENCY, THROUGHPUT, measure_serving
from blaze_lab.report.rows import contended_mask
from blaze_lab.report.sections import Item, note, rows_of

PART_PREFIX = "claims"
COLORS = {SUPPORTED: "#1a7f37", NOT_SUPPORTED: "#b42318", CANNOT_TELL: "#8a5a00", NOT_MEASURED: "#666"}
# The verdict table's columns and their widths (px): it must fit a 1200 px page without scrolling.
COLUMNS = (("#", 28), ("claim", 130), ("how it was tested", 290), ("claimed", 62), ("measured [95% CI]", 140),
           ("verdict", 190), ("n", 80), ("where", 140))  # fmt: skip
_STYLE = ' style="white-space:normal;overflow-wrap:anywhere"'
CLAIMS: tuple[tuple[str, Claim], ...] = (
    ("1", THROUGHPUT),
    ("2", LATENCY),
    ("3", AVAILABILITY),
    ("4a", SCALING),
    ("4b", SCALING),
)
# What each claim's measurement is, shown when the sweep has no rows for it.
PLANNED = {
    "1": "output tokens/s at saturation, best serving setting vs the naive baseline (batch 1, fp32)",
    "2": "E2E / TTFT p50 and p99 at a load the naive baseline sustains, best setting vs baseline",
    "3": "live router over real engine replicas with crashes and restarts; availability, Clopper–Pearson interval",
    "4a": "simulated: max request rate meeting the SLO vs number of replicas",
    "4b": "the sweep on the Ray executor, 1 vs 2 workers (ray_scaling.json)",
}


def claim_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of parts named ``claims…`` (their ``group`` is ``<part>-<load hash>``)."""
    if frame.empty or "group" not in frame.columns:
        return frame.iloc[0:0]
    return frame[frame["group"].astype(str).str.startswith(PART_PREFIX)]


def where(rows: pd.DataFrame) -> str:
    """The machine of ``rows``: device, GPU or CPU name, core count; how many rows were contended.

    >>> where(pd.DataFrame({"env.device": ["cpu"], "env.cpu": ["Xeon"], "env.cpu_count": [2]}))
    'cpu: Xeon, 2 cores'
    """
    if rows.empty:
        return "—"

    def first(col: str) -> str:
        values = rows[col].dropna().astype(str).unique() if col in rows.columns else []
        return ", ".join(values)

    device = first("env.device") or "?"
    name = first("env.gpu_name") if device == "cuda" else first("env.cpu")
    cores = first("env.cpu_count")
    text = f"{device}: {name}" if name else device
    if cores:
        text += f", {cores.split('.')[0]} cores"
    busy = int(contended_mask(rows).sum())
    if busy:
        text += f" ({busy} of {len(rows)} runs contended)"
    return text


def measure_claims(
    summary: pd.DataFrame, raw: pd.DataFrame, results_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Every claim's verdict rows (``verdicts``) and the detail tables behind them (``details``: title -> frame)."""
    rows, raw_rows = claim_rows(summary), claim_rows(raw)
    serving = measure_serving(rows_of(rows, "serving"), rows_of(raw_rows, "serving")) if len(rows) else {}
    router = rows_of(rows, "router")
    avail = measure_availability(router)
    scale = measure_scaling(router)
    ray = measure_ray(results_dir) if len(rows) else {"rows": [], "facts": None}
    found = {
        "1": serving.get("rows", [])[:1],
        "2": serving.get("rows", [])[1:],
        "3": avail["rows"],
        "4a": scale["rows"],
        "4b": ray["rows"],
    }
    verdicts = []
    for number, claim in CLAIMS:
        if not found[number]:
            verdicts.append({"#": number, **assess(claim, math.nan, math.nan, math.nan),
                             "measurement": PLANNED[number], "where": "—"})  # fmt: skip
            continue
        for r in found[number]:
            ids = r.get("run_ids") or []
            mine = summary[summary["run_id"].isin(ids)] if ids and "run_id" in summary.columns else router
            verdicts.append({"#": number, **r, "where": r.get("where") or where(mine if len(mine) else rows)})
    details = {
        "Claim 1: output tokens/s at saturation, each setting vs the naive baseline": serving.get("throughput"),
        "Claim 2: latency at a fixed load, best setting vs the naive baseline": serving.get("latency"),
        "Claim 3: availability by scenario": avail["table"],
        "Claim 4a: scaling efficiency by number of replicas (simulated)": scale["table"],
    }
    return {"verdicts": pd.DataFrame(verdicts), "details": details, "notes": serving.get("notes", []),
            "ray": ray["facts"]}  # fmt: skip


def _interval(row: pd.Series) -> str:
    est = row.get("estimate")
    if est is None or (isinstance(est, float) and math.isnan(est)):
        return "—"
    lo, hi = row.get("ci_low"), row.get("ci_high")
    digits = 5 if row.get("claim") == "availability" else 3
    text = f"{est:.{digits}g}"
    if isinstance(lo, float) and isinstance(hi, float) and not (math.isnan(lo) or math.isnan(hi)):
        text += f" [{lo:.{digits}g}, {hi:.{digits}g}]"
    else:
        text += " (no interval)"
    return text


def verdict_table_html(verdicts: pd.DataFrame) -> str:
    """The verdict table: claim, measurement, claimed, measured with its 95% CI, verdict (coloured), n, where."""
    body = []
    for _, row in verdicts.iterrows():
        v = str(row["verdict"])
        extra = ""
        if v == CANNOT_TELL:
            need = row.get("n_needed")
            if isinstance(need, int | float) and math.isfinite(need):
                extra = f" — about {int(need)} {row.get('unit') or 'units'} would decide it"
            elif need == math.inf:
                extra = " — the estimate sits on the claimed value: no n decides it"
            elif isinstance(row.get("note"), str) and row["note"]:
                extra = f" — {row['note']}"
        elif isinstance(row.get("note"), str) and row["note"]:
            extra = f" — {row['note']}"
        n = row.get("n")
        n_text = "—" if n is None or (isinstance(n, float) and math.isnan(n)) else f"{int(n):,} {row['unit']}"
        metric = f"{row['metric']}: " if isinstance(row.get("metric"), str) and row["claim"] == "latency" else ""
        cells = [
            html.escape(str(row["#"])),
            html.escape(str(row["statement"])),
            html.escape(metric + str(row["measurement"])),
            html.escape(str(row["claimed"])),
            html.escape(_interval(row)),
            f'<b style="color:{COLORS.get(v, "#222")}">{html.escape(v)}</b>{html.escape(extra)}',
            html.escape(n_text),
            html.escape(str(row["where"])),
        ]
        body.append("<tr>" + "".join(f"<td{_STYLE}>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f'<th style="width:{w}px">{html.escape(h)}</th>' for h, w in COLUMNS)
    table = (
        '<table class="data claims" style="table-layout:fixed;width:100%">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
    return f'<div class="scroll">{table}</div>'


def holds_by(claim: Claim, value: float) -> float:
    """How many times over the claim holds at ``value`` (> 1: holds, < 1: falls short), on one axis for every
    claim: measured / claimed (``at_least``), claimed / measured (``at_most``); for a proportion (``linear``, e.g.
    availability) the ratio of the claimed to the measured shortfall, (1 − claimed) / (1 − measured).

    >>> holds_by(THROUGHPUT, 5.0), holds_by(LATENCY, 0.25), round(holds_by(AVAILABILITY, 0.998), 3)
    (0.5, 2.0, 0.5)
    """
    if not isinstance(value, int | float) or math.isnan(value):
        return math.nan
    if claim.scale == "linear":
        return (1.0 - claim.value) / (1.0 - value) if value < 1.0 else math.inf
    if value <= 0:
        return math.inf if claim.direction == "at_most" else 0.0
    return value / claim.value if claim.direction == "at_least" else claim.value / value


def claims_figure(verdicts: pd.DataFrame) -> go.Figure:
    """Each measured claim on one axis: how many times over it holds (log scale, 1 = exactly the claimed value),
    with its 95% interval, coloured by verdict; a claim without an interval is a hollow marker."""
    by_key = {c.key: c for _, c in CLAIMS}
    rows: list[tuple[str, float, float, float, str]] = []
    for _, r in verdicts.iterrows():
        claim = by_key.get(str(r["claim"]))
        if claim is None or not isinstance(r["estimate"], int | float) or math.isnan(r["estimate"]):
            continue
        ends = sorted(holds_by(claim, float(r[k])) for k in ("ci_low", "ci_high"))
        label = f"{r['#']} {r['metric'] if isinstance(r.get('metric'), str) else claim.key}"
        if str(r["claim"]) == "availability":
            label += " (live)" if "live" in str(r["measurement"]) else " (sim)"
        rows.append((label, holds_by(claim, float(r["estimate"])), ends[0], ends[1], str(r["verdict"])))
    finite = [v for row in rows for v in row[1:4] if math.isfinite(v) and v > 0]
    axis = log_axis([*finite, 0.8, 1.25])
    top = 10 ** axis["range"][1] if "range" in axis else 10.0
    fig = go.Figure()
    for v in dict.fromkeys(row[4] for row in rows):
        mine = [row for row in rows if row[4] == v]
        x = [min(row[1], top) for row in mine]
        has_ci = [math.isfinite(row[2]) and math.isfinite(row[3]) for row in mine]
        plus = [min(row[3], top) - xx if ok else 0.0 for row, xx, ok in zip(mine, x, has_ci, strict=True)]
        minus = [xx - row[2] if ok else 0.0 for row, xx, ok in zip(mine, x, has_ci, strict=True)]
        symbols = ["circle" if ok else "circle-open" for ok in has_ci]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[row[0] for row in mine],
                mode="markers",
                name=v,
                marker={"color": COLORS.get(v, "#222"), "size": 11, "symbol": symbols},
                error_x={"type": "data", "symmetric": False, "thickness": 2, "array": plus, "arrayminus": minus},
            )
        )
    fig.add_vline(x=1.0, line={"color": "#444", "dash": "dash"}, annotation_text="claimed value",
                  annotation_position="top")  # fmt: skip
    layout(
        fig,
        "How many times over each claim holds (95% interval; > 1 holds, < 1 falls short)",
        height=140 + 34 * len(rows),
        xaxis={**axis, "title": "measured ÷ claimed (throughput, efficiency); claimed ÷ measured (latency, shortfall)"},
        yaxis={
            "autorange": "reversed",
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [row[0] for row in rows],
        },
        legend={"orientation": "h", "y": -0.35},
    )
    return fig


HOW = (
    "Supported: the whole 95% interval lies on the claimed side of the claimed value. Not supported: the whole "
    "interval lies on the other side. Cannot tell at this precision: the interval holds the claimed value; the n "
    "that would decide it is n · (h / d)², h the distance from the estimate to the interval's bound on the claim's "
    "side and d the distance from the estimate to the claimed value (log scale for ratios), assuming the observed "
    "spread holds. Ratios come from blaze_lab.metrics.compare (paired by replication), availability from an exact "
    "binomial interval. Linear scaling is read as an efficiency of at least 0.9."
)


def claim_items(
    summary: pd.DataFrame, raw: pd.DataFrame, results_dir: str | os.PathLike[str] | None = None
) -> list[tuple[str, Item]]:
    """The Claims section's items, or ``[]`` when the sweep has no ``claims…`` parts (module docstring)."""
    if claim_rows(summary).empty:
        return []
    found = measure_claims(summary, raw, results_dir)
    items: list[tuple[str, Item]] = [("Verdicts", verdict_table_html(found["verdicts"]) + note(HOW))]
    if found["verdicts"]["estimate"].notna().any():
        items.append(("Each claim against its claimed value", claims_figure(found["verdicts"])))
    for text in found["notes"]:
        items.append(("Claims 1 and 2", note(text)))
    for title, table in found["details"].items():
        if table is not None and len(table):
            items.append((title, table))
    if found["ray"]:
        facts = pd.DataFrame([{k: v for k, v in found["ray"].items() if not isinstance(v, dict | list)}])
        items.append(("Claim 4b: Ray executor, 1 vs 2 workers", facts))
    return items


__all__ = [
    "CLAIMS",
    "PART_PREFIX",
    "claim_items",
    "claim_rows",
    "claims_figure",
    "holds_by",
    "measure_claims",
    "verdict_table_html",
    "where",
]
