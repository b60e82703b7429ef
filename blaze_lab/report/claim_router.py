"""Claims 3 and 4 measured on router rows and the Ray scaling file: availability and linear scaling.

- **availability** (claim 3): router summary rows with ``availability`` (requests answered ok within the SLO / all
  requests) and its exact binomial interval ``availability_ci_low`` / ``availability_ci_high`` (Clopper–Pearson,
  widened by the rows' design effect ``availability_deff`` when failures come in bursts) over ``availability_n``
  requests. The headline is, per mode (``live``: real engine replicas; ``sim``), the row with the
  most requests; every row is in the detail table with its MTBF, restart time and breaker / health settings.
- **linear scaling, simulated** (claim 4a): router rows of the saturation schedule (``max_rate_slo_rps``,
  ``knee_rps``) per ``router.replicas`` and ``router.seed``. Efficiency at N replicas = mean max rate(N) / (N · mean
  max rate(1)) with its paired-by-seed interval, from :func:`blaze_lab.router.scaling.replica_scaling`; the claim's
  row is the largest N.
- **linear scaling, Ray** (claim 4b): ``ray_scaling.json`` in the results folder (wall time of the same sweep on 1
  and 2 Ray workers, efficiency = wall(1) / (2 · wall(2)), the machine's core count as the ceiling).

"Linear" is read as a scaling efficiency of at least 0.9 (a stated tolerance: a measured efficiency is never
exactly 1, and an interval can never clear exactly 1 from above unless scaling is super-linear).

Example:
    >>> measure_availability(pd.DataFrame())
    {'rows': [], 'table': None}
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from blaze_lab.metrics.claims import Claim, assess
from blaze_lab.report.rows import numeric, ok_rows

AVAILABILITY = Claim(
    "availability",
    "99.9% uptime with automatic recovery",
    "requests answered ok within the SLO / all requests",
    "at_least",
    0.999,
    scale="linear",
)
SCALING = Claim(
    "scaling",
    "linear scaling with additional resources",
    "scaling efficiency (read as linear when >= 0.9)",
    "at_least",
    0.9,
)
RAY_FILE = "ray_scaling.json"
SCENARIO = (
    "router.mode",
    "router.replica_engine",
    "router.replicas",
    "router.mtbf_s",
    "router.restart_s",
    "router.breaker",
    "router.health_interval_s",
    "router.max_ejection_fraction",
    "router.max_attempts",
    "router.retry_budget_ratio",
    "router.strategy",
)


def _scenario(row: pd.Series, columns: tuple[str, ...] = SCENARIO) -> str:
    parts = []
    for col in columns:
        if col in row.index and pd.notna(row[col]):
            value = row[col]
            parts.append(
                f"{col.split('.', 1)[1]}={value:g}" if isinstance(value, float) else f"{col.split('.', 1)[1]}={value}"
            )
    return ", ".join(parts)


def measure_availability(summary: pd.DataFrame) -> dict[str, Any]:
    """Claim rows and a detail table from router rows with availability columns (module docstring)."""
    rows = ok_rows(summary)
    if rows.empty or "availability" not in rows.columns:
        return {"rows": [], "table": None}
    rows = rows[numeric(rows, "availability").notna()]
    if "router.schedule" in rows.columns:  # a saturation schedule's rows measure capacity, not recovery
        rows = rows[rows["router.schedule"].astype(str) != "saturation"]
    if rows.empty:
        return {"rows": [], "table": None}
    n = numeric(rows, "availability_n")
    detail = []
    for idx, row in rows.iterrows():
        a = assess(
            AVAILABILITY,
            float(row["availability"]),
            float(row.get("availability_ci_low", math.nan)),
            float(row.get("availability_ci_high", math.nan)),
            float(n[idx]),
            "requests",
        )
        detail.append(
            {
                "scenario": _scenario(row),
                **{k: a[k] for k in ("estimate", "ci_low", "ci_high", "n", "verdict", "n_needed")},
            }
        )
    table = pd.DataFrame(detail).rename(columns={"estimate": "availability"})
    table["n"] = table["n"].astype("Int64")
    table["n_needed"] = table["n_needed"].map(lambda v: "" if pd.isna(v) else "inf" if v == math.inf else f"{int(v)}")
    mode = rows["router.mode"].astype(str) if "router.mode" in rows.columns else pd.Series("sim", index=rows.index)
    out = []
    for m in pd.unique(mode):
        mine = rows[mode == m]
        row = mine.loc[numeric(mine, "availability_n").fillna(0).idxmax()]
        a = assess(
            AVAILABILITY,
            float(row["availability"]),
            float(row.get("availability_ci_low", math.nan)),
            float(row.get("availability_ci_high", math.nan)),
            float(row.get("availability_n", math.nan)),
            "requests",
        )
        label = "live router over real engine replicas" if m == "live" else "simulated router"
        deff = float(row.get("availability_deff", math.nan))
        widened = f", widened for bursts of failures (design effect {deff:.2g})" if deff > 1 else ""
        a["measurement"] = f"{label} ({_scenario(row, SCENARIO[1:5])}); exact binomial interval{widened}"
        a["run_ids"] = [str(row.get("run_id", ""))]
        out.append(a)
    return {"rows": out, "table": table}


def _efficiency_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per replica count: mean max rate meeting the SLO over seeds and the efficiency with its paired interval
    (:func:`blaze_lab.router.scaling.replica_scaling`), in the section's column names."""
    from blaze_lab.router.scaling import replica_scaling

    varying = [c for c in rows.columns if c.startswith("router.") and c not in ("router.replicas", "router.seed")
               and rows[c].astype(str).nunique() > 1]  # fmt: skip
    table = replica_scaling(rows.drop(columns=varying))  # rows of one scaling part: nothing else should vary
    names = {
        "max_rate_slo_rps_mean": "max_rate_slo_rps",
        "max_rate_slo_rps_mean_ci_low": "rate_ci_low",
        "max_rate_slo_rps_mean_ci_high": "rate_ci_high",
        "knee_rps_mean": "knee_rps",
        "scaling_efficiency": "efficiency",
        "scaling_efficiency_ci_low": "ci_low",
        "scaling_efficiency_ci_high": "ci_high",
    }
    keep = ["replicas", "seeds", *names.values(), "censored_runs"]
    return table.rename(columns=names)[keep]


def measure_scaling(summary: pd.DataFrame) -> dict[str, Any]:
    """Claim 4a's row (efficiency at the most replicas) and the efficiency-by-replicas table (module docstring)."""
    rows = ok_rows(summary)
    needed = ("max_rate_slo_rps", "knee_rps", "router.replicas", "router.seed")
    if rows.empty or not set(needed) <= set(rows.columns):
        return {"rows": [], "table": None}
    rows = rows[numeric(rows, "max_rate_slo_rps").notna() | numeric(rows, "knee_rps").notna()]
    if numeric(rows, "router.replicas").nunique() < 2:
        return {"rows": [], "table": None}
    table = _efficiency_table(rows)
    last = table.iloc[-1]
    seeds = float(last["seeds"])
    a = assess(SCALING, float(last["efficiency"]), float(last["ci_low"]), float(last["ci_high"]), seeds, "seeds")
    a["measurement"] = (
        f"simulated: max request rate meeting the SLO at {int(table['replicas'].iloc[0])} → {int(last['replicas'])} "
        f"replicas ({last['max_rate_slo_rps']:.3g} vs {table['max_rate_slo_rps'].iloc[0]:.3g} req/s), paired by seed"
    )
    a["run_ids"] = []
    return {"rows": [a], "table": table}


def measure_ray(results_dir: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Claim 4b's row from ``ray_scaling.json`` (keys ``efficiency``, optional ``efficiency_ci_low/high``,
    ``repeats``, ``cpu_count``, ``wall_s``), or nothing when the file is absent."""
    path = Path(results_dir) / RAY_FILE if results_dir is not None else None
    if path is None or not path.is_file():
        return {"rows": [], "facts": None}
    try:
        facts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"rows": [], "facts": None}
    if not isinstance(facts, dict):
        return {"rows": [], "facts": None}

    def num(key: str) -> float:
        value = facts.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan

    a = assess(
        SCALING, num("efficiency"), num("efficiency_ci_low"), num("efficiency_ci_high"), num("repeats"), "repeats"
    )
    cores = facts.get("cpu_count", facts.get("cores", "?"))
    a["measurement"] = f"Ray executor, 1 vs 2 workers on a local cluster ({cores} cores: the ceiling)"
    a["run_ids"] = []
    a["where"] = f"{cores} CPU cores"
    return {"rows": [a], "facts": facts}


__all__ = ["AVAILABILITY", "RAY_FILE", "SCALING", "measure_availability", "measure_ray", "measure_scaling"]
