"""The report's overview: what ran and what did not, and one compact table per engine kind.

A sweep's ``manifest.json`` lists every planned load-time group; ``results/<sweep>/<group>/summary.parquet`` exists
for each one that finished. A report must say which groups never ran, in its header and its overview, and never
claim "every run is ok" when only the runs that happened are. Tables have human headers with units, one row per
config (replicates over seeds pooled: :func:`blaze_lab.report.best.over_seeds`), and a CI next to each mean.

Example:
    >>> manifest = {"groups": {"g1": {"kind": "llm", "run_ids": ["a", "b"], "status": "done"},
    ...                        "g2": {"kind": "llm", "run_ids": ["c"], "status": "pending"}}}
    >>> group_status(manifest)[["group", "runs", "status"]].to_dict("records")
    [{'group': 'g1', 'runs': 2, 'status': 'done'}, {'group': 'g2', 'runs': 1, 'status': 'not run (pending)'}]
    >>> groups_line(group_status(manifest))
    '1 of 2 groups done; 1 not run (1 planned run without results)'
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from blaze_lab.report.axes import few_samples
from blaze_lab.report.best import over_seeds, seed_columns
from blaze_lab.report.labels import LABEL, column_header, config_labels, with_labels
from blaze_lab.report.rows import has_values, numeric, ok_rows
from blaze_lab.report.sections import Item, note, rows_of
from blaze_lab.report.tables import invalid_rows, status_rows

DONE = "done"
# Headline metrics of an overview table, in order: (value column root, stat). The first few a kind measured are shown.
HEADLINE: tuple[tuple[str, str], ...] = (
    ("tokens_per_s", "mean"),
    ("images_per_s", "mean"),
    ("goodput_rps", ""),
    ("latency_s", "p50"),
    ("latency_s_p50", ""),
    ("latency_s_p99", ""),
    ("step_latency_s", "mean"),
    ("ttft_s", "mean"),
    ("peak_allocated_bytes", ""),
    ("peak_rss_bytes", ""),
    ("perplexity", ""),
    ("kl_div_mean", ""),
    ("psnr_db", ""),
    ("ssim", ""),
)
MAX_METRICS = 5
MIB = 1024.0 * 1024.0


def group_status(manifest: Mapping[str, Any], results_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per planned group: group, kind, runs (planned), status (``done`` or why not).

    With ``results_dir``, a group is done when its folder holds ``summary.parquet`` (what the report can read),
    whatever the manifest says; otherwise the manifest's status decides.
    """
    groups = manifest.get("groups")
    rows = []
    for name, info in groups.items() if isinstance(groups, Mapping) else []:
        info = info if isinstance(info, Mapping) else {}
        status = str(info.get("status") or "pending")
        if results_dir is not None:
            status = DONE if (Path(results_dir) / str(name) / "summary.parquet").is_file() else status
            status = "pending" if status == DONE and not (Path(results_dir) / str(name)).is_dir() else status
        label = DONE if status == DONE else f"not run ({status})" if status in ("pending", "running") else status
        if status == "error" and info.get("error"):
            label = f"failed: {info['error']}"
        rows.append(
            {"group": str(name), "kind": str(info.get("kind", "")), "runs": len(info.get("run_ids") or []),
             "status": label, "run_ids": list(info.get("run_ids") or [])}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=["group", "kind", "runs", "status", "run_ids"])


def groups_line(groups: pd.DataFrame) -> str:
    """``"2 of 4 groups done; 2 not run (6 planned runs without results)"`` ("" without a group list)."""
    if groups.empty:
        return ""
    done = groups["status"] == DONE
    text = f"{int(done.sum())} of {len(groups)} groups done"
    if not done.all():
        missing = int(groups.loc[~done, "runs"].sum())
        text += f"; {int((~done).sum())} not run ({missing} planned run{'s' * (missing != 1)} without results)"
    return text


def planned_configs(manifest: Mapping[str, Any]) -> dict[str, str]:
    """``run_id -> config label`` for every run the manifest's spec plans ({} when the spec cannot be expanded)."""
    spec = manifest.get("spec")
    if not isinstance(spec, Mapping):
        return {}
    try:
        from blaze_lab.sweep.plan import expand
        from blaze_lab.sweep.spec import parse_spec

        runs = expand(parse_spec(dict(spec), check_notebooks=False))
    except Exception:  # an old or foreign spec: the group table still lists run ids
        return {}
    frame = pd.DataFrame(
        [{"engine": r.kind, **{f"{r.kind}.{k}": v for k, v in r.config.to_dict().items()}} for r in runs]
    )
    return dict(zip([r.run_id for r in runs], config_labels(frame), strict=True))


def missing_groups_table(groups: pd.DataFrame, manifest: Mapping[str, Any]) -> pd.DataFrame:
    """Groups without results: group, kind, status, and the configs they would have measured."""
    todo = groups[groups["status"] != DONE]
    labels = planned_configs(manifest) if len(todo) else {}
    configs = [", ".join(labels.get(r, r) for r in ids) for ids in todo["run_ids"]]
    return pd.DataFrame(
        {"group": todo["group"], "kind": todo["kind"], "status": todo["status"], "planned runs": todo["runs"],
         "configs": configs}
    ).reset_index(drop=True)  # fmt: skip


def _cell(value: float, low: float = math.nan, high: float = math.nan, scale: float = 1.0) -> str:
    if math.isnan(value):
        return ""
    text = f"{value * scale:.4g}"
    if not (math.isnan(low) or math.isnan(high)):
        text += f" [{low * scale:.3g}, {high * scale:.3g}]"
    return text


def kind_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per config of one kind: config, status, n (or seeds), up to :data:`MAX_METRICS` headline metrics
    as ``mean [95% CI]`` text under headers with units."""
    rows = with_labels(rows)
    ok = ok_rows(rows)
    seeds = seed_columns(rows)
    if seeds:
        metrics = [m for m, stat in HEADLINE if not stat and has_values(ok, m)][:MAX_METRICS]
        pooled = over_seeds(ok, metrics)
        out = pd.DataFrame({"config": pooled[LABEL], "seeds": pooled["seeds"]})
        for m in metrics:
            scale = 1.0 / MIB if m.endswith("_bytes") else 1.0
            out[f"{column_header(m)}, mean over seeds [95% CI]"] = [
                _cell(v, lo, hi, scale)
                for v, lo, hi in zip(pooled[f"{m}_mean"], pooled[f"{m}_ci_low"], pooled[f"{m}_ci_high"], strict=True)
            ]
        return out.reset_index(drop=True)
    out = pd.DataFrame({"config": rows[LABEL], "status": rows.get("status", "ok"), "n": numeric(rows, "n")})
    shown: set[str] = set()
    for root, stat in HEADLINE:
        value = f"{root}_{stat}" if stat else root
        if len(shown) >= MAX_METRICS or value in shown or not has_values(ok, value):
            continue
        ci = ("ci_low", "ci_high") if stat == "mean" else ("median_ci_low", "median_ci_high")
        low, high = f"{root}_{ci[0]}", f"{root}_{ci[1]}"
        scale = 1.0 / MIB if root.endswith("_bytes") else 1.0
        header = column_header(value) + (" [95% CI]" if stat else "")
        single = few_samples(rows)  # a CI from n < 2 samples collapsed onto the value: not shown
        out[header] = [
            _cell(v, lo, hi, scale)
            for v, lo, hi in zip(
                numeric(rows, value), numeric(rows, low).mask(single), numeric(rows, high).mask(single), strict=True
            )
        ]
        shown.add(value)
    sources = ci_sources(rows, [v.rsplit("_", 1)[0] for v in shown if v.endswith("_mean")])
    if sources is not None:
        out["CIs from"] = sources
    return out.reset_index(drop=True)


def ci_sources(rows: pd.DataFrame, roots: list[str]) -> list[str] | None:
    """Per row, where its mean CIs come from: ``within run`` or ``between k replications`` (None: no replications).

    A combined replication row carries ``m_ci_source`` per metric (the wider of the two intervals is shown); a
    row whose metrics disagree names them.

    >>> rows = pd.DataFrame({"replications": [2, 1], "latency_s_ci_source": ["between replications", None]})
    >>> ci_sources(rows, ["latency_s"])
    ['between 2 replications', 'within run']
    """
    columns = [f"{root}_ci_source" for root in roots if f"{root}_ci_source" in rows.columns]
    if not columns:
        return None
    reps = numeric(rows, "replications") if "replications" in rows.columns else pd.Series(1.0, index=rows.index)
    out = []
    for (_, row), k in zip(rows.iterrows(), reps, strict=True):
        texts = {
            c[: -len("_ci_source")]: f"between {int(k)} replications" if "between" in row[c] else "within run"
            for c in columns
            if isinstance(row[c], str)
        }
        kinds = set(texts.values()) or {"within run"}  # a row that ran once has no source column values
        out.append(kinds.pop() if len(kinds) == 1 else "; ".join(f"{column_header(m)}: {t}" for m, t in texts.items()))
    return out


def overview_items(
    summary: pd.DataFrame, manifest: Mapping[str, Any] | None = None, groups: pd.DataFrame | None = None
) -> list[tuple[str, Item]]:
    """Sweep status (groups not run), one table per kind, runs without measurements, measurements flagged invalid."""
    manifest = manifest or {}
    groups = group_status(manifest) if groups is None else groups
    items: list[tuple[str, Item]] = []
    missing = groups[groups["status"] != DONE] if len(groups) else groups
    if len(missing):
        items.append(("Groups not run", missing_groups_table(groups, manifest)))
    labelled = _labelled(summary)
    kinds = pd.unique(labelled["engine"].astype(str)) if "engine" in labelled.columns else [""]
    for kind in kinds:
        title = f"{_kind_title(kind)} runs" if kind else "Runs"
        items.append((title, kind_table(rows_of(labelled, kind) if kind else labelled)))
    bad = status_rows(labelled)
    if not bad.empty:
        items.append(("Runs without measurements (status ≠ ok)", bad))
    else:
        text = "Every run that ran has status ok."
        if len(missing):
            text += f" {groups_line(groups)}: see Groups not run."
        items.append(("Runs without measurements (status ≠ ok)", note(text)))
    invalid = invalid_rows(labelled)
    if not invalid.empty:
        items.append(("Measurements flagged invalid", invalid))
    return items


def _kind_title(kind: str) -> str:
    return kind.upper() if len(kind) <= 3 else kind.capitalize()


def _labelled(summary: pd.DataFrame) -> pd.DataFrame:
    # Label per engine kind so each kind's labels show only the fields that vary among its own rows.
    if "engine" not in summary.columns or summary.empty:
        return with_labels(summary)
    parts = [with_labels(rows_of(summary, str(k))) for k in pd.unique(summary["engine"].astype(str))]
    return pd.concat(parts).loc[summary.index]


__all__ = [
    "ci_sources",
    "group_status",
    "groups_line",
    "kind_table",
    "missing_groups_table",
    "overview_items",
    "planned_configs",
]
