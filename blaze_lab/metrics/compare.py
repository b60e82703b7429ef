"""Config vs baseline: ratio of means with a 95% CI and a verdict only the CI can support.

:func:`compare` takes a **raw** frame (one row per measured call: ``run_id``, the metric and, when configs were
measured interleaved, ``round`` — calls of the same ``round`` in the same ``replication`` are paired) or a
**summary** frame (one row per run: ``<metric>_mean``, ``<metric>_ci_low``/``_ci_high``, ``<metric>_n`` or
``n``; optionally ``<metric>_rep_ci_low``/``_rep_ci_high`` and ``replications`` from :func:`replication_columns`).

The ratio r = mean(config) / mean(baseline) is estimated on the log scale, log r = log m_c − log m_b, with the
linearization of each log mean (each call's influence (xᵢ − m)/m; for a ratio estimator Σy/Σx,
yᵢ/ȳ − xᵢ/x̄) and a Student-t quantile:

- ``paired``: rounds present in both runs; the per-round influence differences give SE and n_pairs − 1 df, so
  drift shared by interleaved calls cancels.
- ``welch``: independent samples; SE² = SE_c² + SE_b², Welch–Satterthwaite df.
- ``summary``: from a summary row's CI of the mean (SE = (high − low) / (2 t(n−1) m)) or, without one, std/√n.
- ``replications``: between-replication CI (per-replication means, t with replications − 1 df). When both a
  within-run and a between-replication CI exist, the wider one is reported (``method`` says which).

``verdict``: for speed metrics (names ending ``_s`` — lower is faster — or ``_per_s`` / ``_rps`` — higher is
faster) ``faster`` / ``slower``; for any other metric ``higher`` / ``lower`` (and ``better`` says whether that is
good when ``higher_is_better`` is known); ``no difference at this precision`` when the CI holds 1.

Example:
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"run_id": ["a"] * 6 + ["b"] * 6, "round": list(range(6)) * 2,
    ...                     "latency_s": [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 0.5, 0.56, 0.44, 0.5, 0.52, 0.48]})
    >>> out = compare(raw, "a", "latency_s")
    >>> out.loc[out.run_id == "b", ["ratio", "method", "verdict"]].to_dict("records")
    [{'ratio': 0.5, 'method': 'paired', 'verdict': 'faster'}]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.errors import ConfigError
from blaze_lab.metrics.distributions import t_crit
from blaze_lab.metrics.intervals import log_ci, log_ratio_ci, ratio_of_means_ci, welch_se

NO_DIFFERENCE = "no difference at this precision"
PAIR_KEYS = ("replication", "round")


def speed_direction(metric: str) -> bool | None:
    """True when higher is faster (``*_per_s``, ``*_rps``), False when lower is (``*_s``), else None."""
    if metric.endswith(("_per_s", "_rps")):
        return True
    if metric.endswith("_s"):
        return False
    return None


@dataclass(frozen=True)
class _Sample:
    """One config's per-unit values (a call, or a round's aggregate) keyed for pairing."""

    mean: float
    infl: np.ndarray  # influence on the log of the estimate, one per unit, mean zero
    keys: list[tuple[Any, ...]] | None


def _sample(group: pd.DataFrame, metric: str, ratio: tuple[str, str] | None, pair: list[str]) -> _Sample:
    cols = list(ratio) if ratio else [metric]
    g = group.dropna(subset=cols)
    if pair:
        agg = "sum" if ratio else "mean"  # a ratio estimator pools numerators and denominators within the round
        g = g.groupby(pair, sort=True)[cols].agg(agg).reset_index()
    keys = [tuple(k) for k in g[pair].itertuples(index=False, name=None)] if pair else None
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero mean has no ratio: NaN, then no verdict
        if ratio:
            y, x = g[ratio[0]].to_numpy(float), g[ratio[1]].to_numpy(float)
            ybar, xbar = y.mean() if y.size else math.nan, x.mean() if x.size else math.nan
            return _Sample(ybar / xbar if xbar else math.nan, y / ybar - x / xbar, keys)
        v = g[metric].to_numpy(float)
        m = v.mean() if v.size else math.nan
        return _Sample(m, v / m - 1.0, keys)


def _log_ratio(mc: float, mb: float) -> float:
    """log(mc/mb); NaN unless both are positive (a ratio of means is only defined for positive metrics)."""
    return math.log(mc / mb) if mc > 0 and mb > 0 else math.nan


def _raw_ci(c: _Sample, b: _Sample, confidence: float) -> tuple[float, float, str, int, float]:
    """(low, high, method, n_pairs, df) of the ratio from per-unit influences."""
    est = _log_ratio(c.mean, b.mean)
    if c.keys is not None and b.keys is not None:
        bi = {k: i for i, k in enumerate(b.keys)}
        common = [(i, bi[k]) for i, k in enumerate(c.keys) if k in bi]
        if len(common) >= 2:
            ci_idx, bi_idx = (np.array(ix) for ix in zip(*common, strict=True))
            low, high, df = log_ratio_ci(est, c.infl[ci_idx], b.infl[bi_idx], paired=True, confidence=confidence)
            return float(low), float(high), "paired", len(common), float(df)
    low, high, df = log_ratio_ci(est, c.infl, b.infl, paired=False, confidence=confidence)
    return float(low), float(high), "welch", 0, float(df)


def _summary_se(row: pd.Series, metric: str, confidence: float) -> tuple[float, float]:
    """Relative SE of a summary row's mean and its df, from its CI (or std) and n."""
    n = float(row.get(f"{metric}_n", row.get("n", math.nan)))
    m = float(row[f"{metric}_mean"])
    lo, hi = row.get(f"{metric}_ci_low", math.nan), row.get(f"{metric}_ci_high", math.nan)
    if n >= 2 and pd.notna(lo) and pd.notna(hi):
        return (float(hi) - float(lo)) / (2.0 * float(t_crit(confidence, n - 1)) * abs(m)), n - 1
    std = row.get(f"{metric}_std", math.nan)
    if n >= 2 and pd.notna(std):
        return float(std) / (math.sqrt(n) * abs(m)), n - 1
    return math.nan, math.nan


def _rep_se(row: pd.Series, metric: str, confidence: float) -> tuple[float, float]:
    r = float(row.get("replications", math.nan))
    lo, hi = row.get(f"{metric}_rep_ci_low", math.nan), row.get(f"{metric}_rep_ci_high", math.nan)
    if not (r >= 2 and pd.notna(lo) and pd.notna(hi)):
        return math.nan, math.nan
    m = float(row.get(f"{metric}_rep_mean", row[f"{metric}_mean"]))
    return (float(hi) - float(lo)) / (2.0 * float(t_crit(confidence, r - 1)) * abs(m)), r - 1


def _keys(frame: pd.DataFrame, by: Sequence[str]) -> pd.Series:
    return frame[list(by)].apply(lambda r: tuple(r), axis=1) if len(frame) else pd.Series([], dtype=object)


def _measured(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that are measurements: status ok (when present) and not warm-up calls (``warmup`` True)."""
    if "status" in frame.columns:
        frame = frame[frame["status"].fillna("ok") == "ok"]
    if "warmup" in frame.columns:
        frame = frame[~frame["warmup"].fillna(False).astype(bool)]
    return frame


def _resolve_baseline(frame: pd.DataFrame, baseline: Any, by: list[str]) -> tuple[Any, ...]:
    if isinstance(baseline, Mapping):
        missing = [c for c in baseline if c not in frame.columns]
        if missing:
            raise ConfigError("baseline", dict(baseline), reason=f"unknown column(s) {missing}")
        mask = np.ones(len(frame), dtype=bool)
        for col, value in baseline.items():
            mask &= (frame[col] == value).to_numpy()
        matches = list(dict.fromkeys(_keys(frame[mask], by)))
        shown: Any = dict(baseline)
    else:
        if len(by) != 1:
            raise ConfigError("baseline", baseline, reason=f"give a dict of column values when by={by}")
        matches = list(dict.fromkeys(_keys(frame[frame[by[0]] == baseline], by)))
        shown = baseline
    if len(matches) != 1:
        configs = ", ".join(str(k[0] if len(k) == 1 else k) for k in matches[:5])
        what = "matches no config" if not matches else f"matches {len(matches)} configs ({configs})"
        known = ", ".join(str(k[0] if len(k) == 1 else k) for k in list(dict.fromkeys(_keys(frame, by)))[:8])
        raise ConfigError("baseline", shown, reason=f"{what}; configs: {known}")
    return matches[0]


def _verdict(low: float, high: float, metric: str, higher_is_better: bool | None) -> tuple[str, str, Any]:
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 1.0 <= high:
        return NO_DIFFERENCE, "", pd.NA
    higher = low > 1.0
    direction = "higher" if higher else "lower"
    good = speed_direction(metric) if higher_is_better is None else higher_is_better
    better: Any = pd.NA if good is None else (higher == good)
    if speed_direction(metric) is not None:
        return ("faster" if better else "slower"), direction, better
    return direction, direction, better


def compare(
    frame: pd.DataFrame,
    baseline: Any,
    metric: str,
    *,
    higher_is_better: bool | None = None,
    by: str | Sequence[str] = "run_id",
    ratio: tuple[str, str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each config of ``frame`` against ``baseline`` on ``metric`` (module docstring for methods and vocabulary).

    - ``baseline``: a value of ``by`` (a run_id) or a dict of column values matching exactly one config.
    - ``ratio``: raw frames only — ``(numerator, denominator)`` columns; the metric is then the ratio estimator
      Σnumerator/Σdenominator per config (e.g. ``("output_tokens_total", "latency_s")``), named ``metric``.
    - ``higher_is_better``: defaults from the metric's name for speed metrics; None elsewhere.

    Returns one row per config: the ``by`` column(s), ``baseline``, ``metric``, ``mean``, ``baseline_mean``,
    ``ratio``, ``ratio_ci_low``, ``ratio_ci_high``, ``method``, ``n``, ``n_baseline``, ``n_pairs``, ``df``,
    ``direction`` (``higher``/``lower``/""), ``better`` (bool or NA) and ``verdict`` (``baseline`` for itself).
    Rows with a ``status`` other than ``ok``, and raw rows with ``warmup`` True, are left out.
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    missing_by = [c for c in by_cols if c not in frame.columns]
    if missing_by:
        raise ConfigError("by", by, reason=f"column(s) {missing_by} not in the frame")
    frame = _measured(frame)
    is_raw = (ratio is not None and all(c in frame.columns for c in ratio)) or (ratio is None and metric in frame)
    if not is_raw and f"{metric}_mean" not in frame.columns:
        numeric = sorted(c[: -len("_mean")] for c in frame.columns if c.endswith("_mean"))
        raise ConfigError("metric", metric, allowed=numeric or [c for c in frame.columns if c not in by_cols])
    base_key = _resolve_baseline(frame, baseline, by_cols)
    keys = _keys(frame, by_cols)
    groups = {k: frame[(keys == k).to_numpy()] for k in dict.fromkeys(keys)}
    rows = []
    if is_raw:
        pair = [c for c in PAIR_KEYS if c in frame.columns]
        samples = {k: _sample(g, metric, ratio, pair) for k, g in groups.items()}
        reps = _replication_means(frame, keys, metric, ratio) if "replication" in frame.columns else {}
        b = samples[base_key]
        for k, c in samples.items():
            low, high, method, n_pairs, df = _raw_ci(c, b, confidence)
            rep = _replication_ci(reps.get(k), reps.get(base_key), confidence)
            if rep is not None and (not math.isfinite(high) or rep[1] / rep[0] > high / low):
                low, high, method, df = rep[0], rep[1], "replications", rep[2]
            rows.append((k, c.mean, b.mean, low, high, method, c.infl.size, b.infl.size, n_pairs, df))
    else:
        base_row = groups[base_key].iloc[0]
        se_b, df_b = _summary_se(base_row, metric, confidence)
        rse_b, rdf_b = _rep_se(base_row, metric, confidence)
        for k, g in groups.items():
            row = g.iloc[0]
            mc, mb = float(row[f"{metric}_mean"]), float(base_row[f"{metric}_mean"])
            est = _log_ratio(mc, mb)
            se, df = welch_se(*_summary_se(row, metric, confidence), se_b, df_b)
            low, high = log_ci(est, se, df, confidence)
            method = "summary"
            rse, rdf = welch_se(*_rep_se(row, metric, confidence), rse_b, rdf_b)
            rlow, rhigh = log_ci(est, rse, rdf, confidence)
            if math.isfinite(rhigh) and (not math.isfinite(high) or rhigh / rlow > high / low):
                low, high, method, df = rlow, rhigh, "replications", rdf
            n_c = row.get(f"{metric}_n", row.get("n", math.nan))
            n_b = base_row.get(f"{metric}_n", base_row.get("n", math.nan))
            rows.append((k, mc, mb, low, high, method, n_c, n_b, 0, df))
    out = []
    for k, mc, mb, low, high, method, n_c, n_b, n_pairs, df in rows:
        verdict, direction, better = _verdict(low, high, metric, higher_is_better)
        if k == base_key:
            verdict, direction, better = "baseline", "", pd.NA
        out.append(
            {
                **dict(zip(by_cols, k, strict=True)),
                "baseline": base_key[0] if len(by_cols) == 1 else base_key,
                "metric": metric,
                "mean": mc,
                "baseline_mean": mb,
                "ratio": mc / mb if mb else math.nan,
                "ratio_ci_low": low,
                "ratio_ci_high": high,
                "method": method,
                "n": n_c,
                "n_baseline": n_b,
                "n_pairs": n_pairs,
                "df": df,
                "direction": direction,
                "better": better,
                "verdict": verdict,
            }
        )
    return pd.DataFrame(out)


def _replication_means(
    frame: pd.DataFrame, keys: pd.Series, metric: str, ratio: tuple[str, str] | None
) -> dict[Any, pd.Series]:
    """Per config: its estimate in each replication (index = replication)."""
    out: dict[Any, pd.Series] = {}
    for k in dict.fromkeys(keys):
        g = frame[(keys == k).to_numpy()]
        if ratio:
            sums = g.groupby("replication")[list(ratio)].sum()
            out[k] = sums[ratio[0]] / sums[ratio[1]]
        else:
            out[k] = g.groupby("replication")[metric].mean()
    return out


def _replication_ci(c: pd.Series | None, b: pd.Series | None, confidence: float) -> tuple[float, float, float] | None:
    """CI of the ratio from per-replication estimates: paired by replication when both share them, else Welch."""
    if c is None or b is None or len(c) < 2 or len(b) < 2:
        return None
    common = c.index.intersection(b.index)
    est = _log_ratio(float(c.mean()), float(b.mean()))
    if len(common) >= 2:
        d = np.log(c[common].to_numpy(float)) - np.log(b[common].to_numpy(float))
        low, high = log_ci(float(d.mean()), float(d.std(ddof=1)) / math.sqrt(d.size), d.size - 1, confidence)
        return low, high, float(d.size - 1)
    lc, lb = np.log(c.to_numpy(float)), np.log(b.to_numpy(float))
    se, df = welch_se(
        float(lc.std(ddof=1)) / math.sqrt(lc.size), lc.size - 1, float(lb.std(ddof=1)) / math.sqrt(lb.size), lb.size - 1
    )
    low, high = log_ci(est, se, df, confidence)
    return low, high, df


def replication_ci(means: Sequence[float] | np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """Between-replication CI of one config: t-CI over its per-replication means (replications − 1 df).

    Returns ``rep_mean``, ``rep_ci_low``, ``rep_ci_high``, ``rep_std`` and ``replications`` (NaN bounds below 2).

    >>> r = replication_ci([10.0, 10.4, 9.9])
    >>> r["replications"], round(r["rep_ci_low"], 3), round(r["rep_ci_high"], 3)
    (3, 9.443, 10.757)
    """
    arr = np.asarray(means, dtype=float)
    arr = arr[~np.isnan(arr)]
    r = int(arr.size)
    mean = float(arr.mean()) if r else math.nan
    if r < 2:
        return {
            "rep_mean": mean,
            "rep_ci_low": math.nan,
            "rep_ci_high": math.nan,
            "rep_std": math.nan,
            "replications": r,
        }
    std = float(arr.std(ddof=1))
    half = float(t_crit(confidence, r - 1)) * std / math.sqrt(r)
    return {"rep_mean": mean, "rep_ci_low": mean - half, "rep_ci_high": mean + half, "rep_std": std, "replications": r}


def replication_columns(
    raw: pd.DataFrame,
    metrics: Sequence[str],
    *,
    by: str = "run_id",
    replication: str = "replication",
    ratios: Mapping[str, tuple[str, str]] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per config (``by``): ``<metric>_rep_mean``, ``<metric>_rep_ci_low``, ``<metric>_rep_ci_high``,
    ``<metric>_rep_std`` and ``replications``, from each replication's mean (or ratio estimator for ``ratios``:
    ``{metric: (numerator, denominator)}``). Merge it into the summary frame on ``by``.

    >>> raw = pd.DataFrame({"run_id": ["a"] * 6, "replication": [0, 0, 1, 1, 2, 2],
    ...                     "latency_s": [1.0, 1.0, 1.2, 1.2, 1.1, 1.1]})
    >>> replication_columns(raw, ["latency_s"])[["run_id", "latency_s_rep_mean", "replications"]].to_dict("records")
    [{'run_id': 'a', 'latency_s_rep_mean': 1.1, 'replications': 3}]
    """
    if replication not in raw.columns:
        raise ConfigError("replication", replication, reason="column not in the raw frame")
    raw = _measured(raw)
    out = []
    for key, g in raw.groupby(by, sort=False):
        row: dict[str, Any] = {by: key}
        for m in metrics:
            per_rep = g.groupby(replication)[m].mean()
            cols = replication_ci(per_rep.to_numpy(float), confidence)
            row.update({f"{m}_{k}": v for k, v in cols.items() if k != "replications"})
            row["replications"] = cols["replications"]
        for m, (num, den) in (ratios or {}).items():
            sums = g.groupby(replication)[[num, den]].sum()
            cols = replication_ci((sums[num] / sums[den]).to_numpy(float), confidence)
            row.update({f"{m}_{k}": v for k, v in cols.items() if k != "replications"})
            row["replications"] = cols["replications"]
        out.append(row)
    return pd.DataFrame(out)


def best_configs(
    frame: pd.DataFrame,
    objectives: Mapping[str, str] | Sequence[tuple[str, str]],
    *,
    by: str | Sequence[str] = "run_id",
    ratios: Mapping[str, tuple[str, str]] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per objective (metric, ``"max"`` or ``"min"``): the config with the best mean and every config statistically
    tied with it (its ratio CI to the best holds 1), as rows with ``role`` = ``best`` / ``tie``.

    Columns: ``objective`` (e.g. ``max tokens_per_s``), ``metric``, ``direction``, the ``by`` column(s), ``role``,
    ``mean``, ``ratio_to_best``, ``ratio_ci_low``, ``ratio_ci_high``, ``method``. ``ratios`` maps a metric to
    (numerator, denominator) raw columns, as in :func:`compare`.

    >>> s = pd.DataFrame({"run_id": ["a", "b", "c"], "n": [10, 10, 10], "tps_mean": [100.0, 99.0, 50.0],
    ...                   "tps_ci_low": [95.0, 94.0, 48.0], "tps_ci_high": [105.0, 104.0, 52.0]})
    >>> best_configs(s, {"tps": "max"})[["run_id", "role"]].to_dict("records")
    [{'run_id': 'a', 'role': 'best'}, {'run_id': 'b', 'role': 'tie'}]
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    items = list(objectives.items()) if isinstance(objectives, Mapping) else list(objectives)
    rows: list[dict[str, Any]] = []
    for metric, direction in items:
        if direction not in ("max", "min"):
            raise ConfigError(f"objectives[{metric!r}]", direction, allowed=["max", "min"])
        ratio = (ratios or {}).get(metric)
        any_key = (
            frame[by_cols[0]].iloc[0] if len(by_cols) == 1 else dict(zip(by_cols, frame[by_cols].iloc[0], strict=True))
        )
        table = compare(
            frame, any_key, metric, by=by_cols if len(by_cols) > 1 else by_cols[0], ratio=ratio, confidence=confidence
        )
        table = table[table["mean"].notna()]
        if table.empty:
            continue
        best_idx = table["mean"].idxmax() if direction == "max" else table["mean"].idxmin()
        best = table.loc[best_idx, by_cols]
        best_key = best.iloc[0] if len(by_cols) == 1 else dict(best.items())
        vs = compare(
            frame, best_key, metric, by=by_cols if len(by_cols) > 1 else by_cols[0], ratio=ratio, confidence=confidence
        )
        for _, r in vs.iterrows():
            if r["verdict"] not in ("baseline", NO_DIFFERENCE):
                continue
            rows.append(
                {
                    "objective": f"{direction} {metric}",
                    "metric": metric,
                    "direction": direction,
                    **{c: r[c] for c in by_cols},
                    "role": "best" if r["verdict"] == "baseline" else "tie",
                    "mean": r["mean"],
                    "ratio_to_best": r["ratio"],
                    "ratio_ci_low": r["ratio_ci_low"],
                    "ratio_ci_high": r["ratio_ci_high"],
                    "method": r["method"],
                }
            )
    out = pd.DataFrame(rows)
    if len(out):
        out = out.sort_values(["objective", "role", "mean"], ascending=[True, True, False], kind="stable")
    return out.reset_index(drop=True)


__all__ = [
    "NO_DIFFERENCE",
    "best_configs",
    "compare",
    "log_ratio_ci",
    "ratio_of_means_ci",
    "replication_ci",
    "replication_columns",
    "speed_direction",
]
