"""Real scale-out: the same small sweep on the Ray executor with 1 and then 2 workers; wall time and efficiency.

The sweep is a router scaling sweep (max load vs replica count, simulated): ``--groups`` parts, one per replica
count, each a load grid of ``--n-requests``-request simulations, so every part is one load-time group = one Ray task
(a papermill kernel: its start is part of what is measured, as in any real sweep). Each setting runs on a fresh
local Ray cluster started by this script (``ray.init(num_cpus=W)``: W tasks at a time, one CPU each) into a fresh
results folder, so nothing is resumed. Efficiency = t1 / (W·tW): 1.0 is linear scaling; with ``--repeats`` >= 2
the 1-worker and W-worker runs alternate and the efficiency gets a paired 95% CI (log scale, Student-t over the
repeats). The ceiling is the machine: with C cores, W workers cannot beat min(W, C)x, and the Ray processes, the
driver and anything else on the machine share the same cores — so the script records the core count and the load
average before and after each run. ``ray_scaling.json`` has ``efficiency`` (+ ``_ci_low/_high``), ``speedup``,
``wall_s`` per worker count, ``repeats``, ``cpu_count``, ``ceiling_speedup`` and every run.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/ray_scaling.py --out results/claims     # writes ray_scaling.json

Budget on a 2-core machine with the defaults: ~2-3 min (two sweeps of 4 groups, plus two cluster starts).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPLICA_COUNTS = (1, 4, 16, 64)


def spec(groups: int, n_requests: int, loads: list[float]) -> dict[str, Any]:
    """The sweep: one router part (= one Ray task) per replica count, each a load grid in simulation."""
    counts = [REPLICA_COUNTS[i % len(REPLICA_COUNTS)] for i in range(groups)]
    return {
        "name": "ray_scaling",
        "description": "Router max-load sweep over replica counts (simulated), one part per count: scale-out demo.",
        "parts": [
            {"name": f"replicas_{r}_{i}", "kind": "router",
             "base": {"mode": "sim", "replicas": r, "n_requests": n_requests, "seed": i},
             "grid": {"load": loads}}
            for i, r in enumerate(counts)
        ],
    }


def run_once(spec_path: Path, workers: int, root: Path) -> dict[str, Any]:
    """Start a local Ray cluster with ``workers`` CPUs, run the sweep on it, shut it down: the timings."""
    import ray

    from blaze_lab.sweep.ray_executor import RayExecutor
    from blaze_lab.sweep.runner import run_sweep

    load_before = os.getloadavg()
    t0 = time.perf_counter()
    ray.init(num_cpus=workers, num_gpus=0, include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=False, object_store_memory=100_000_000)
    try:
        started = time.perf_counter()
        address = ray.get_runtime_context().gcs_address
        result = run_sweep(spec_path, results_root=root / f"w{workers}", executor=RayExecutor(address),
                           progress=False)
        wall = time.perf_counter() - started
    finally:
        ray.shutdown()
    return {
        "workers": workers,
        "wall_s": wall,
        "cluster_start_s": started - t0,
        "counts": dict(result.counts),
        "groups": len(result.executed),
        "loadavg_before": list(load_before),
        "loadavg_after": list(os.getloadavg()),
    }


def summarize(runs: list[dict[str, Any]], workers: int, cores: int) -> dict[str, Any]:
    """Speedup and efficiency of ``workers`` vs 1 worker: means over repeats, with a paired 95% CI (each repeat is
    one 1-worker run and one ``workers`` run, alternated in time) when there are >= 2 repeats.

    >>> runs = [{"workers": 1, "wall_s": 60.0}, {"workers": 2, "wall_s": 40.0}]
    >>> out = summarize(runs, 2, 2)
    >>> out["speedup"], out["efficiency"], out["ceiling_speedup"]
    (1.5, 0.75, 2)
    """
    import math

    from blaze_lab.metrics.intervals import ratio_of_means_ci

    one = [r["wall_s"] for r in runs if r["workers"] == 1]
    many = [r["wall_s"] for r in runs if r["workers"] == workers]
    pairs = min(len(one), len(many))
    speedup, low, high = (float(v) for v in ratio_of_means_ci(one[:pairs], many[:pairs], paired=True))
    return {
        "workers": workers,
        "repeats": pairs,
        "wall_s": {"1": sum(one) / len(one), str(workers): sum(many) / len(many)},
        "speedup": speedup,
        "speedup_ci_low": low,
        "speedup_ci_high": high,
        "efficiency": speedup / workers,
        "efficiency_ci_low": low / workers if math.isfinite(low) else math.nan,
        "efficiency_ci_high": high / workers if math.isfinite(high) else math.nan,
        "ceiling_speedup": min(workers, cores),
        "cpu_count": cores,
    }


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results"), help="folder for ray_scaling.json")
    parser.add_argument("--groups", type=int, default=4, help="parts = Ray tasks (default 4)")
    parser.add_argument("--n-requests", type=int, default=300_000, help="requests per simulated run")
    parser.add_argument("--loads", type=float, nargs="+", default=[0.6, 0.9])
    parser.add_argument("--workers", type=int, default=2, help="compared with 1 worker")
    parser.add_argument("--repeats", type=int, default=1, help="1-worker / W-worker pairs, alternated (>= 2: a CI)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # A new local ray.init() would otherwise turn on token authentication and write ~/.ray/auth_token, which then
    # switches every later Ray process of this user to token mode (and breaks clusters started without a token).
    # These throwaway clusters live for one measurement on this machine.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    runs = []
    with tempfile.TemporaryDirectory(prefix="ray-scaling-") as tmp:
        root = Path(tmp)
        spec_path = root / "ray_scaling.yaml"
        spec_path.write_text(yaml.safe_dump(spec(args.groups, args.n_requests, args.loads), sort_keys=False))
        for rep in range(args.repeats):
            for w in (1, args.workers):
                r = run_once(spec_path, w, root / f"rep{rep}")
                runs.append({"repeat": rep, **r})
                print(f"repeat {rep}, {w} worker(s): {r['wall_s']:.1f} s wall ({r['groups']} groups, {r['counts']}), "
                      f"load {r['loadavg_before'][0]:.2f} -> {r['loadavg_after'][0]:.2f}", flush=True)
    cores = os.cpu_count() or 1
    report = {
        "benchmark": "ray_scaling",
        "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **summarize(runs, args.workers, cores),
        "groups": args.groups,
        "n_requests": args.n_requests,
        "loads": args.loads,
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "ray_scaling.json"
    path.write_text(json.dumps(_no_nan(report), indent=2, allow_nan=False) + "\n")  # strict JSON: NaN -> null
    print(f"{args.workers} vs 1 worker(s): speedup {report['speedup']:.2f}x "
          f"[{report['speedup_ci_low']:.2f}, {report['speedup_ci_high']:.2f}] (NaN: one repeat, no CI), "
          f"efficiency {report['efficiency']:.2f} "
          f"(ceiling {report['ceiling_speedup']}x on {cores} cores)")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
