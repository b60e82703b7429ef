"""Per-run metrics of LLM-aware routing: time to first token, KV prefix-cache hits, load imbalance.

Pure functions over a run's decision ledger (``ttft_s``, ``prompt_tokens``, ``cached_tokens``, ``replica``,
``outcome``) and its per-replica frame (``replica``, ``dispatched``); :func:`blaze_lab.router.bench.summarize_run`
adds them to every router summary row:

* ``ttft_s_p50/p90/p99/mean`` — arrival → first token of successful requests (router queue + replica queue +
  prefill); a percentile only from the n whose order-statistic CI exists, as the latency columns;
* ``cache_hit_rate`` — share of the successful requests' prompt tokens reused from a replica's KV cache (0 without
  caches); ``cache_hit_rate_min`` / ``_max`` over replicas and ``cache_hit_rate_by_replica`` (JSON text);
* ``prefill_tokens_saved`` / ``prefill_tokens`` — prompt tokens reused / still prefilled;
* ``load_imbalance`` — max / mean of attempts dispatched per replica (1 = perfectly even; 16 replicas with all the
  load on one = 16).

Example:
    >>> ledger = pd.DataFrame({"replica": ["r0", "r0", "r1"], "outcome": ["ok"] * 3, "ttft_s": [0.1, 0.2, 0.3],
    ...                        "prompt_tokens": [100, 100, 100], "cached_tokens": [80, 0, 0]})
    >>> m = prefix_metrics(ledger, pd.DataFrame({"replica": ["r0", "r1"], "dispatched": [2, 1]}))
    >>> round(m["cache_hit_rate"], 3), m["prefill_tokens_saved"], round(m["load_imbalance"], 3)
    (0.267, 80, 1.333)
    >>> m["cache_hit_rate_by_replica"]
    '{"r0": 0.4, "r1": 0.0}'
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.metrics.intervals import quantile_min_n

PREFIX_COLUMNS = ("ttft_s_p50", "ttft_s_p90", "ttft_s_p99", "ttft_s_mean", "cache_hit_rate", "cache_hit_rate_min",
                  "cache_hit_rate_max", "cache_hit_rate_by_replica", "prefill_tokens_saved", "prefill_tokens",
                  "load_imbalance")


def prefix_metrics(ledger: pd.DataFrame, replicas: pd.DataFrame) -> dict[str, Any]:
    """The columns of :data:`PREFIX_COLUMNS` for one run (see the module docstring)."""
    row: dict[str, Any] = {}
    ok = ledger[ledger["outcome"] == "ok"]
    ttft = ok["ttft_s"].to_numpy(dtype=float) if "ttft_s" in ok.columns else np.array([])
    ttft = ttft[np.isfinite(ttft)]
    for key, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        row[f"ttft_s_{key}"] = float(np.percentile(ttft, q)) if len(ttft) >= quantile_min_n(q / 100.0) else math.nan
    row["ttft_s_mean"] = float(ttft.mean()) if len(ttft) else math.nan
    cached = ok["cached_tokens"] if "cached_tokens" in ok.columns else pd.Series(0, index=ok.index)
    prompt = ok["prompt_tokens"].astype(float)
    saved, total = int(cached.sum()), float(prompt.sum())
    row["cache_hit_rate"] = saved / total if total else math.nan
    per = (pd.DataFrame({"replica": ok["replica"], "cached": cached, "prompt": prompt})
           .groupby("replica", sort=True)[["cached", "prompt"]].sum())
    per = per[per["prompt"] > 0]
    rates = per["cached"] / per["prompt"]
    row["cache_hit_rate_min"] = float(rates.min()) if len(rates) else math.nan
    row["cache_hit_rate_max"] = float(rates.max()) if len(rates) else math.nan
    ordered = sorted(rates.items(), key=lambda kv: (len(str(kv[0])), str(kv[0])))  # r2 before r10
    row["cache_hit_rate_by_replica"] = json.dumps({str(k): round(float(v), 4) for k, v in ordered})
    row["prefill_tokens_saved"] = saved
    row["prefill_tokens"] = int(total) - saved
    dispatched = replicas["dispatched"].to_numpy(dtype=float) if len(replicas) else np.array([])
    mean = dispatched.mean() if len(dispatched) else 0.0
    row["load_imbalance"] = float(dispatched.max() / mean) if mean > 0 else math.nan
    return row


__all__ = ["PREFIX_COLUMNS", "prefix_metrics"]
