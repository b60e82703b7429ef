"""Claims 1 and 2 measured on serving rows: the best serving setting against the naive baseline.

The **naive baseline** is the serving run with ``batching: none`` in fp32 (one request at a time, batch 1). Rows are
told apart by their offered rate: the **highest** ``serving.rate_rps`` of the rows is the saturation load (every
request arrives at about once, far above what any setting serves), every lower rate is a fixed load.

- **throughput** (claim 1): per run and replication, output tokens / window (first arrival → last completion) of
  the saturation rows — the ``tokens_per_s`` each replication's summary had, recomputed from its request rows
  because the combined summary keeps only the first replication's. The best setting is the one with the highest
  mean; its ratio to the baseline and the 95% CI come from :func:`blaze_lab.metrics.compare.compare` on these
  per-replication values (paired by replication: the replications of a sweep are interleaved in time).
- **latency** (claim 2): at each fixed load, per run and replication, p50 and p99 of E2E latency and of TTFT; the
  same setting (claim 1's best, chosen on the saturation rows — not on these, so the choice does not bias these
  ratios) against the baseline, through ``compare`` again. A p99 is reported with an interval only when each
  replication served enough requests for one (:func:`~blaze_lab.metrics.intervals.quantile_min_n`: 368);
  below that the pooled p99 ratio is shown as a point estimate and the verdict cannot tell.

Example:
    >>> measure_serving(pd.DataFrame(), pd.DataFrame())["rows"]
    []
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.metrics.claims import NOT_MEASURED, Claim, assess
from blaze_lab.metrics.compare import compare
from blaze_lab.metrics.intervals import quantile_min_n
from blaze_lab.report.rows import ok_rows

SETTING = ("serving.batching", "serving.max_batch_size", "serving.max_wait_ms", "serving.dtype")
LATENCY_METRICS = (("latency_s", "E2E"), ("ttft_s", "TTFT"))
QUANTILES = (("p50", 0.50), ("p99", 0.99))

THROUGHPUT = Claim(
    "throughput",
    "10x improvement in request processing throughput",
    "output tokens/s at saturation, best setting / naive baseline",
    "at_least",
    10.0,
)
LATENCY = Claim(
    "latency",
    "50% reduction in response times",
    "latency at a load the naive baseline sustains, best setting / naive baseline",
    "at_most",
    0.5,
)


def setting_label(row: pd.Series | dict[str, Any]) -> str:
    """``none · bs1 · fp32``, ``dynamic · bs8 · wait 50 ms · bf16``.

    >>> setting_label({"serving.batching": "dynamic", "serving.max_batch_size": 8, "serving.max_wait_ms": 50.0,
    ...                "serving.dtype": "bf16"})
    'dynamic · bs8 · wait 50 ms · bf16'
    """
    batching = str(row.get("serving.batching", "?"))
    size = 1 if batching == "none" else int(row.get("serving.max_batch_size", 1))
    parts = [batching, f"bs{size}"]
    if batching == "dynamic":
        parts.append(f"wait {float(row.get('serving.max_wait_ms', 0.0)):g} ms")
    parts.append(str(row.get("serving.dtype", "?")))
    return " · ".join(parts)


def is_baseline(row: pd.Series | dict[str, Any]) -> bool:
    return row.get("serving.batching") == "none" and row.get("serving.dtype") == "fp32"


def request_units(raw: pd.DataFrame) -> pd.DataFrame:
    """Per run and replication: ``tokens_per_s``, ``requests_per_s``, ``requests`` and each latency quantile
    (``latency_s_p50`` …) of the ok requests.

    >>> raw = pd.DataFrame({"run_id": ["a"] * 3, "outcome": ["ok"] * 3, "arrival_s": [0.0, 0.0, 0.0],
    ...                     "latency_s": [1.0, 2.0, 4.0], "ttft_s": [0.1, 0.2, 0.3], "output_tokens": [8, 8, 8]})
    >>> request_units(raw)[["run_id", "replication", "tokens_per_s", "latency_s_p50"]].to_dict("records")
    [{'run_id': 'a', 'replication': 0, 'tokens_per_s': 6.0, 'latency_s_p50': 2.0}]
    """
    raw = raw.copy()
    if "replication" not in raw.columns:
        raw["replication"] = 0
    out = []
    for (run_id, rep), g in raw.groupby(["run_id", "replication"], sort=False):
        ok = g[g["outcome"] == "ok"] if "outcome" in g.columns else ok_rows(g)
        row: dict[str, Any] = {"run_id": run_id, "replication": rep, "requests": len(ok)}
        start = float(pd.to_numeric(g["arrival_s"], errors="coerce").min())
        end = float((ok["arrival_s"] + ok["latency_s"]).max()) if len(ok) else math.nan
        window = end - start if end > start else math.nan
        row["tokens_per_s"] = float(ok["output_tokens"].sum()) / window
        row["requests_per_s"] = len(ok) / window
        for metric, _ in LATENCY_METRICS:
            values = pd.to_numeric(ok[metric], errors="coerce").dropna().to_numpy(float) if metric in ok else []
            for name, q in QUANTILES:
                row[f"{metric}_{name}"] = float(np.percentile(values, 100 * q)) if len(values) else math.nan
        out.append(row)
    return pd.DataFrame(out)


def _ratio(units: pd.DataFrame, baseline: str, run_id: str, metric: str) -> dict[str, Any]:
    table = compare(units, baseline, metric, by="run_id")
    row = table[table["run_id"] == run_id].iloc[0]
    return {k: row[k] for k in ("mean", "baseline_mean", "ratio", "ratio_ci_low", "ratio_ci_high", "method")}


def measure_serving(summary: pd.DataFrame, raw: pd.DataFrame) -> dict[str, Any]:
    """Claim rows (``rows``: :func:`~blaze_lab.metrics.claims.assess` rows plus ``measurement``, ``run_ids``) and
    detail tables (``throughput``, ``latency``) from serving summary and raw rows (module docstring)."""
    out: dict[str, Any] = {"rows": [], "throughput": None, "latency": None, "notes": []}
    rows = ok_rows(summary)
    if rows.empty or not {"serving.rate_rps", *SETTING} <= set(rows.columns) or raw.empty:
        return out
    rows = rows.drop_duplicates("run_id")
    units = request_units(raw[raw["run_id"].isin(rows["run_id"])])
    if units.empty:
        return out
    rates = sorted(rows["serving.rate_rps"].astype(float).unique())
    saturation = rows[rows["serving.rate_rps"].astype(float) == rates[-1]]
    base = saturation[saturation.apply(is_baseline, axis=1)]
    if base.empty:
        out["notes"].append("No naive baseline (batching none, fp32) at the saturation load: claims 1 and 2 untested.")
        return out
    base_id = str(base["run_id"].iloc[0])
    sat_units = units[units["run_id"].isin(saturation["run_id"])]
    table = compare(sat_units, base_id, "tokens_per_s", by="run_id")
    table = table.merge(saturation[["run_id", *SETTING]], on="run_id")
    table.insert(0, "setting", table.apply(setting_label, axis=1))
    reps = sat_units.groupby("run_id")["replication"].nunique()
    candidates = table[table["run_id"] != base_id].dropna(subset=["mean"])
    if candidates.empty:
        out["notes"].append("Only the baseline ran at the saturation load: no setting to compare.")
        return out
    best = candidates.loc[candidates["mean"].idxmax()]
    k = int(reps.get(best["run_id"], 0))
    row = assess(
        THROUGHPUT, float(best["ratio"]), float(best["ratio_ci_low"]), float(best["ratio_ci_high"]), k, "replications"
    )
    base_rps = float(units[units["run_id"] == base_id]["requests_per_s"].mean())
    row["measurement"] = (
        f"{best['setting']} vs {setting_label(base.iloc[0])}: {best['mean']:.1f} vs {best['baseline_mean']:.1f} "
        f"output tokens/s, all requests offered at once ({rates[-1]:g} req/s); best of {len(candidates)} settings"
    )
    row["run_ids"] = [base_id, str(best["run_id"])]
    out["rows"].append(row)
    out["throughput"] = table[["setting", "mean", "ratio", "ratio_ci_low", "ratio_ci_high", "method", "verdict"]]
    out["throughput"] = out["throughput"].rename(columns={"mean": "tokens_per_s", "verdict": "vs baseline"})
    out["throughput"].insert(1, "replications", table["run_id"].map(reps).to_numpy())
    is_base = (table["run_id"] == base_id).to_numpy()
    out["throughput"].loc[is_base, ["ratio_ci_low", "ratio_ci_high", "method"]] = [math.nan, math.nan, ""]
    details = []
    for rate in rates[:-1]:
        fixed = rows[rows["serving.rate_rps"].astype(float) == rate]
        found = _latency_at(fixed, units, best, base_rps, rate)
        if not found["rows"]:
            out["notes"].append(f"At {rate:g} req/s the naive baseline or {best['setting']} (claim 1's best) was not "
                                "measured: claim 2 untested at that load.")  # fmt: skip
        out["rows"] += found["rows"]
        details += found["details"]
    if details:
        out["latency"] = pd.DataFrame(details)
    return out


def _same_setting(fixed: pd.DataFrame, like: pd.Series) -> pd.DataFrame:
    mask = np.ones(len(fixed), dtype=bool)
    for col in SETTING:
        mask &= (fixed[col] == like[col]).to_numpy()
    return fixed[mask]


def _latency_at(
    fixed: pd.DataFrame, units: pd.DataFrame, best: pd.Series, base_rps: float, rate: float
) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {"rows": [], "details": []}
    base = fixed[fixed.apply(is_baseline, axis=1)]
    mine = _same_setting(fixed, best)
    if base.empty or mine.empty:
        return found
    base_id, run_id = str(base["run_id"].iloc[0]), str(mine["run_id"].iloc[0])
    pair = units[units["run_id"].isin([base_id, run_id])]
    k = int(pair[pair["run_id"] == run_id]["replication"].nunique())
    per_rep = int(pair["requests"].min())
    load = rate / base_rps if base_rps > 0 else math.nan
    where = f"at {rate:g} req/s offered ({load:.2f} of the baseline's saturated {base_rps:.2f} req/s)"
    for metric, name in LATENCY_METRICS:
        for qname, q in QUANTILES:
            column = f"{metric}_{qname}"
            r = _ratio(pair, base_id, run_id, column)
            low, high, note = float(r["ratio_ci_low"]), float(r["ratio_ci_high"]), ""
            need = quantile_min_n(q)
            if per_rep < need:  # a sample p99 of 16 requests is their maximum: not an estimate of the p99
                low = high = math.nan
                note = f"a {qname} needs >= {need} requests per replication for an interval (had {per_rep})"
            row = assess(LATENCY, float(r["ratio"]), low, high, k, "replications")
            if note:
                row["n_needed"] = math.nan
            if not load < 1.0:  # the claim is about a load the baseline sustains: an overloaded one tests nothing
                note = f"the baseline was overloaded here ({load:.2f}x its saturated rate): not the claim's condition"
                row["verdict"], row["n_needed"] = NOT_MEASURED, math.nan
            row["note"] = note
            row["metric"] = f"{name} {qname}"
            row["measurement"] = (
                f"{best['setting']} vs baseline {where}: {r['mean']:.3g} s vs {r['baseline_mean']:.3g} s"
            )
            row["run_ids"] = [base_id, run_id]
            found["rows"].append(row)
            found["details"].append(
                {"offered_rps": rate, "load / baseline capacity": load, "metric": f"{name} {qname}",
                 "best_s": r["mean"], "baseline_s": r["baseline_mean"], "ratio": r["ratio"], "ratio_ci_low": low,
                 "ratio_ci_high": high, "method": r["method"] if not note else "", "note": note}
            )  # fmt: skip
    return found


__all__ = ["LATENCY", "SETTING", "THROUGHPUT", "is_baseline", "measure_serving", "request_units", "setting_label"]
