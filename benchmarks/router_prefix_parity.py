"""Live vs simulated prefix-aware routing: do the strategies rank the same on fake replicas as in simulation?

The high-reuse mix of experiments/router_prefix.yaml at small scale: 4 replicas with an 8,192-token KV prefix cache
each, 8 prefix groups of 1,024 tokens (Zipf 0.6) + ~64 own tokens, 16 output tokens, load 0.7, calibrated service
costs; P2C, least connections, adaptive, prefix affinity and the weighted scorer. Every strategy and seed runs live
(asyncio router, fake replicas sleeping their service times on the real clock at ``--time-scale`` real seconds per
model second, the replicas' caches and the router's index as in simulation), live on a virtual clock (the same
asyncio code in virtual time) and simulated, with the same requests, service draws and seed. Prints, per seed and
metric, Spearman's rho and Kendall's tau-b between the live and simulated rankings and whether both pick the same
best strategy (``blaze_lab.router.parity.agreement``); rows go to ``--out``.

    PYTHONPATH=$PWD python benchmarks/router_prefix_parity.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse

from blaze_lab.router.config import RouterExperimentConfig
from blaze_lab.router.parity import agreement, parity_runs

STRATEGIES = ["power_of_two_choices", "least_connections", "adaptive", "prefix_affinity", "weighted_scorer"]
METRICS = ["ttft_s_p50", "ttft_s_p99", "latency_s_p99", "cache_hit_rate"]


def base_config(n_requests: int, time_scale: float) -> RouterExperimentConfig:
    """The experiment's high-reuse mix at 4 replicas (same costs as experiments/router_prefix.yaml)."""
    return RouterExperimentConfig(
        mode="live", replicas=4, n_requests=n_requests, time_scale=time_scale, workload="prefix", prefix_groups=8,
        prefix_tokens=1024, suffix_tokens=64, output_tokens=16, prefix_zipf_s=0.6, kv_cache_tokens=8192,
        base_latency_s=0.11, per_request_s=0.0, prefill_s_per_token=0.0092, decode_s_per_token=0.186,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--strategies", nargs="+", default=STRATEGIES)
    ap.add_argument("--n-requests", type=int, default=400)
    ap.add_argument("--time-scale", type=float, default=0.02, help="real seconds per model second (live)")
    ap.add_argument("--out", default="results/router_prefix_parity.parquet")
    args = ap.parse_args()
    runs = parity_runs(base_config(args.n_requests, args.time_scale), args.strategies, args.seeds)
    runs.drop(columns=[c for c in runs.columns if runs[c].dtype == object and c not in ("strategy", "mode")]
              ).to_parquet(args.out)
    print(runs.pivot_table(index=["seed", "strategy"], columns="mode", values=METRICS).round(3).to_string())
    for metric in METRICS:
        lower = metric != "cache_hit_rate"
        real = agreement(runs, metric, "live", "sim", lower_is_better=lower)
        virtual = agreement(runs, metric, "live_virtual", "sim", lower_is_better=lower)
        print(f"\n{metric}: live (real clock) vs sim: Kendall tau {real['kendall'].round(3).tolist()}, Spearman "
              f"{real['spearman'].round(3).tolist()}, same best {real['same_best'].tolist()} "
              f"(live best {real['best_live'].tolist()}, sim best {real['best_sim'].tolist()}); "
              f"live on a virtual clock vs sim: Kendall tau {virtual['kendall'].round(3).tolist()}")


if __name__ == "__main__":
    main()
