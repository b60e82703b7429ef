"""Best-config tables that respect uncertainty: the best config per objective AND every config tied with it.

A plain argmax names one winner even when its 95% CI overlaps the runner-up's, which claims a difference the data
cannot support. Here a config is **tied with the best** when the two cannot be told apart:

- for a mean with a CI: :func:`blaze_lab.metrics.compare.compare` against the best says
  ``no difference at this precision`` (the ratio's 95% CI holds 1; n < 2 gives no verdict either);
- otherwise (a median CI, or a compare that cannot run): :func:`tied` — the CIs overlap, or either is missing;
  deterministic measurements without a CI (memory, perplexity) tie only when equal.

Replicates (rows that differ only in a ``seed`` field, e.g. router runs) are first pooled by :func:`over_seeds`:
one row per config, the mean over seeds with a Student-t 95% CI across seeds.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"llm.dtype": ["fp32", "bf16", "fp16"], "status": ["ok"] * 3, "n": [10] * 3,
    ...                    "tokens_per_s_mean": [90.0, 170.0, 165.0], "tokens_per_s_ci_low": [85.0, 160.0, 150.0],
    ...                    "tokens_per_s_ci_high": [95.0, 180.0, 175.0]})
    >>> obj = Objective("max throughput", "tokens_per_s_mean", True, "tokens/s",
    ...                 ci=("tokens_per_s_ci_low", "tokens_per_s_ci_high"))
    >>> best_table(df, [obj]).loc[0, ["config", "tied with"]].tolist()
    ['bf16', 'fp16']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.errors import BlazeLabError
from blaze_lab.metrics.compare import NO_DIFFERENCE, compare
from blaze_lab.metrics.distributions import t_crit
from blaze_lab.report.axes import few_samples
from blaze_lab.report.labels import LABEL, LABEL_SEPARATOR, config_label, varying_columns, with_labels
from blaze_lab.report.rows import config_columns, invalid_mask, numeric, ok_rows

MIB = 1024.0 * 1024.0
COLUMNS = ["objective", "config", "value", "unit", "95% CI", "tied with", "valid", "run_id", "note"]


@dataclass(frozen=True)
class Objective:
    """One row of a best-config table: optimize ``column`` (times ``scale``) over rows passing ``where``.

    ``ci`` names the (low, high) columns of its 95% CI (None: a deterministic measurement such as memory or
    perplexity, tied only when equal). ``timed`` objectives skip rows flagged invalid (the flag judges timings).
    """

    name: str
    column: str
    maximize: bool
    unit: str = ""
    scale: float = 1.0
    ci: tuple[str, str] | None = None
    timed: bool = False
    where: Callable[[pd.DataFrame], pd.Series] | None = None
    why_empty: str = ""


def t_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high): Student-t 95% CI of the mean; NaN bounds with fewer than 2 values.

    >>> [round(v, 3) for v in t_interval([1.0, 2.0, 3.0])]
    [2.0, -0.484, 4.484]
    """
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, math.nan, math.nan
    half = float(t_crit(0.95, arr.size - 1)) * float(arr.std(ddof=1)) / math.sqrt(arr.size)
    return mean, mean - half, mean + half


def seed_columns(df: pd.DataFrame) -> list[str]:
    """Config columns naming a random seed that differ between rows: rows differing only there are replicates."""
    return [c for c in varying_columns(df) if c.rsplit(".", 1)[-1] == "seed"]


def over_seeds(df: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per config of ``df`` pooled over its seeds: ``m_mean`` with a t-CI ``m_ci_low``/``m_ci_high`` across
    seeds for each metric column ``m``, and ``seeds`` (how many). ``df`` unchanged when it has no seed field."""
    seeds = seed_columns(df)
    if not seeds or df.empty:
        return df
    fields = [c for c in varying_columns(df) if c not in seeds]
    keys = df[fields].astype(str).agg("|".join, axis=1) if fields else pd.Series("", index=df.index)
    out = []
    for _, part in df.groupby(keys, sort=False):
        first = part.iloc[0]
        row = {c: first[c] for c in df.columns if c in config_columns(df) and c not in seeds}
        row.update(engine=first.get("engine", ""), status="ok", seeds=len(part), n=len(part))
        row[LABEL] = config_label(first, fields) if fields else "(all)"
        row["valid"] = not bool(invalid_mask(part).any())
        for m in metrics:
            mean, low, high = t_interval(numeric(part, m).tolist())
            row.update({f"{m}_mean": mean, f"{m}_ci_low": low, f"{m}_ci_high": high})
        out.append(row)
    return pd.DataFrame(out)


def tied(best: tuple[float, float, float], other: tuple[float, float, float], has_ci: bool) -> bool:
    """THE verdict: can ``other`` (value, ci_low, ci_high) not be told apart from ``best``?

    With CIs: they overlap, or either is missing (n < 2 -> no difference at this precision). Without CIs
    (deterministic measurements): only equal values tie.
    """
    if not has_ci:
        return math.isclose(best[0], other[0], rel_tol=1e-9)
    if any(math.isnan(v) for v in (best[1], best[2], other[1], other[2])):
        return True
    return other[1] <= best[2] and best[1] <= other[2]


def _compare_ties(cand: pd.DataFrame, idx: Any, obj: Objective) -> list[str] | None:
    """Configs with no difference at this precision from the best by the ratio-of-means comparison; None when the
    objective is not a mean with its CI columns or the comparison cannot run on these rows."""
    metric = obj.column.removesuffix("_mean")
    if not obj.column.endswith("_mean") or obj.ci != (f"{metric}_ci_low", f"{metric}_ci_high"):
        return None
    if cand[LABEL].duplicated().any():
        return None
    try:
        out = compare(cand, cand.at[idx, LABEL], metric, by=LABEL)
    except (BlazeLabError, ValueError, KeyError, ZeroDivisionError):
        return None
    return [str(c) for c in out.loc[out["verdict"] == NO_DIFFERENCE, LABEL]]


def _fmt(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.4g}"


def best_table(summary: pd.DataFrame, objectives: Sequence[Objective]) -> pd.DataFrame:
    """One row per objective: the best ok config, its value (unit, 95% CI), the configs tied with it, and a note
    when no config qualifies (never an exception: the table always has one row per objective)."""
    rows = with_labels(ok_rows(summary))
    out = []
    for obj in objectives:
        cand = rows if obj.where is None else rows[obj.where(rows).fillna(False).astype(bool)]
        skipped = 0
        if obj.timed:
            bad = invalid_mask(cand)
            skipped = int(bad.sum()) if len(cand) and not bad.all() else 0
            cand = cand[~bad] if skipped else cand
        values = numeric(cand, obj.column) * obj.scale
        record = {c: "" for c in COLUMNS} | {"objective": obj.name, "value": math.nan, "unit": obj.unit}
        record["valid"] = None
        if not values.notna().any():
            record["note"] = obj.why_empty or f"{obj.column} not measured"
            out.append(record)
            continue
        idx = values.idxmax() if obj.maximize else values.idxmin()
        has_ci = obj.ci is not None and obj.ci[0] in cand.columns and obj.ci[1] in cand.columns
        single = few_samples(cand)  # n < 2: the CI collapsed onto the value; it is no CI
        low = (numeric(cand, obj.ci[0]) * obj.scale).mask(single) if has_ci and obj.ci else values * math.nan
        high = (numeric(cand, obj.ci[1]) * obj.scale).mask(single) if has_ci and obj.ci else values * math.nan
        best = (float(values[idx]), float(low[idx]), float(high[idx]))
        ties = _compare_ties(cand, idx, obj) if has_ci else None
        if ties is None:
            ties = [
                str(cand.at[j, LABEL])
                for j in cand.index
                if j != idx and not math.isnan(values[j]) and tied(best, (values[j], low[j], high[j]), has_ci)
            ]
        notes = [f"{skipped} invalid run(s) not considered"] if skipped else []
        if obj.timed and len(cand) and bool(invalid_mask(cand).all()):
            notes.append("every candidate is flagged invalid: a guess, not a finding")
        if has_ci and math.isnan(best[1]):
            notes.append("best has no CI (n < 2): ties cannot be ruled out")
        record.update(
            config=str(cand.at[idx, LABEL]),
            value=best[0],
            valid=not bool(invalid_mask(cand).at[idx]),
            run_id=str(cand.at[idx, "run_id"]) if "run_id" in cand.columns else "",
            note="; ".join(notes),
        )
        record["95% CI"] = f"[{_fmt(best[1])}, {_fmt(best[2])}]" if has_ci and not math.isnan(best[1]) else ""
        record["tied with"] = ", ".join(ties) if ties else "—"
        out.append(record)
    return pd.DataFrame(out, columns=COLUMNS)


def best_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`best_table` as the report shows it: value, unit and CI in one cell; no run ids (narrow enough for a
    page). Ties read "no difference at this precision" from the best.

    >>> t = pd.DataFrame([{"objective": "max x", "config": "a", "value": 2.0, "unit": "s", "95% CI": "[1, 3]",
    ...                    "tied with": "b", "valid": True, "run_id": "r", "note": ""}])
    >>> best_display(t).iloc[0].tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['max x', 'a', '2 s [1, 3]', 'b', np.True_, '']
    """
    value = [
        f"{_fmt(float(v))} {u} {ci}".strip() if not pd.isna(v) else ""
        for v, u, ci in zip(table["value"], table["unit"], table["95% CI"], strict=True)
    ]
    return pd.DataFrame(
        {
            "objective": table["objective"],
            "config": table["config"],
            "value [95% CI]": value,
            "tied with (no difference at this precision)": table["tied with"],
            "valid": table["valid"],
            "note": table["note"],
        }
    )


def memory_objective(rows: pd.DataFrame) -> Objective:
    """Min peak memory: accelerator ``peak_allocated_bytes`` when measured, else the process's ``peak_rss_bytes``."""
    ok = ok_rows(rows)
    for col, name in (("peak_allocated_bytes", "min peak allocated"), ("peak_rss_bytes", "min peak RSS")):
        if col in ok.columns and numeric(ok, col).notna().any():
            return Objective(name, col, False, "MiB", 1.0 / MIB)
    return Objective("min peak memory", "peak_allocated_bytes", False, "MiB", 1.0 / MIB)


def ci_objective(name: str, metric: str, stat: str, maximize: bool, unit: str, scale: float = 1.0) -> Objective:
    """A timed objective on ``metric``'s ``stat`` (mean or p50) with its CI columns."""
    value, low, high = (
        (f"{metric}_mean", f"{metric}_ci_low", f"{metric}_ci_high")
        if stat == "mean"
        else (f"{metric}_p50", f"{metric}_median_ci_low", f"{metric}_median_ci_high")
    )
    return Objective(name, value, maximize, unit, scale, ci=(low, high), timed=True)


def diffusion_objectives(rows: pd.DataFrame) -> list[Objective]:
    """Max images/s, min per-step latency, min call latency, min memory, max PSNR."""
    return [
        ci_objective("max throughput", "images_per_s", "mean", True, "images/s"),
        ci_objective("min per-step latency", "step_latency_s", "mean", False, "ms", 1000.0),
        ci_objective("min call latency p50", "latency_s", "p50", False, "s"),
        memory_objective(rows),
        Objective(
            "max PSNR vs reference (reference itself excluded)",
            "psnr_db",
            True,
            "dB",
            where=lambda df: numeric(df, "psnr_db") < math.inf,  # inf: the reference compared with itself
            why_empty="no config besides the reference itself has a PSNR",
        ),
    ]


ROUTER_METRICS = ("goodput_rps", "latency_s_p50", "latency_s_p99")


def router_best(summary: pd.DataFrame) -> pd.DataFrame:
    """Router: :func:`best_table` of the strategies over seeds (mean, t-CI across seeds): max goodput, min p50,
    min p99."""
    pooled = over_seeds(ok_rows(summary), [m for m in ROUTER_METRICS if m in summary.columns])
    names = (("max goodput", "goodput_rps", True, "req/s"), ("min latency p50", "latency_s_p50", False, "s"),
             ("min latency p99", "latency_s_p99", False, "s"))  # fmt: skip
    objectives = [Objective(n, f"{m}_mean", hi, u, ci=(f"{m}_ci_low", f"{m}_ci_high")) for n, m, hi, u in names]
    return best_table(pooled, objectives)


def router_best_table(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`router_best` as the report shows it (:func:`best_display`)."""
    return best_display(router_best(summary))


def scenario_statement(summary: pd.DataFrame, kind: str) -> str:
    """The conditions every run of ``kind`` shared (constant config fields), e.g. ``replicas=8 · fault=crash``."""
    rows = summary[summary["engine"].astype(str) == kind] if "engine" in summary.columns else summary
    cols = [c for c in config_columns(rows) if c.startswith(f"{kind}.") and c not in seed_columns(rows)]
    constant = [c for c in cols if c not in varying_columns(rows, cols) and rows[c].notna().any()]
    if not constant or rows.empty:
        return ""
    return LABEL_SEPARATOR.join(config_label(rows.iloc[0], constant).split(LABEL_SEPARATOR))


__all__ = [
    "COLUMNS",
    "ROUTER_METRICS",
    "Objective",
    "best_display",
    "best_table",
    "ci_objective",
    "diffusion_objectives",
    "memory_objective",
    "over_seeds",
    "router_best",
    "router_best_table",
    "scenario_statement",
    "seed_columns",
    "t_interval",
    "tied",
]
