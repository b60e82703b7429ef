"""TTFT with vs without prefix KV reuse for requests sharing one prefix (PrefixKVCache on a real model).

Requests come from a one-group shared-prefix workload cut from the bundled text (``--prefix-tokens`` shared,
``--suffix-tokens`` their own). Each round runs the same request twice — full prefill and prefix reuse — in a
seeded random order (interleaved pairs: drift in machine load hits both alike) and checks both produce the same
greedy tokens. The stored prefix is computed once before the rounds (its miss is not a measured call). Each row
carries the contention columns of its call. The paired ratio of mean TTFT, its 95% CI and the verdict come from
``blaze_lab.metrics.compare``; the raw rows go to ``--out`` (parquet).

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD .venv/bin/python benchmarks/prefix_reuse.py --model smollm2-135m --pairs 20
"""

from __future__ import annotations

import argparse
import random
import statistics
from typing import Any

import pandas as pd

from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.engines.llm.loading import load_llm
from blaze_lab.engines.llm.prefix_kv import PrefixKVCache
from blaze_lab.load.prefix import PrefixWorkloadConfig, prefix_workload, text_token_ids
from blaze_lab.metrics.contention import ContentionProbe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--prefix-tokens", type=int, default=256)
    parser.add_argument("--suffix-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/prefix_reuse.parquet")
    args = parser.parse_args()

    loaded = load_llm(LLMConfig(model=args.model, device="cpu"))
    cfg = PrefixWorkloadConfig(n_requests=args.warmup + args.pairs, n_groups=1, prefix_dist="fixed",
                               prefix_mean=args.prefix_tokens, suffix_dist="fixed", suffix_mean=args.suffix_tokens,
                               output_dist="fixed", output_mean=args.new_tokens, seed=args.seed)
    requests = prefix_workload(cfg, token_ids=text_token_ids(loaded.tokenizer))
    kv = PrefixKVCache(loaded)
    kv.prefill(requests[0].token_ids[: requests[0].prefix_tokens])
    probe = ContentionProbe(loaded.device)
    order = random.Random(args.seed)
    rows: list[dict[str, Any]] = []
    mismatches = 0
    for i, req in enumerate(requests):
        sides = [("full_prefill", False), ("prefix_reuse", True)]
        order.shuffle(sides)
        tokens = {}
        for run_id, reuse in sides:
            before = probe.snapshot()
            out = kv.generate(req.token_ids, req.prefix_tokens, args.new_tokens, reuse=reuse)
            tokens[run_id] = out.token_ids
            rows.append({"run_id": run_id, "round": i - args.warmup, "warmup": i < args.warmup, "status": "ok",
                         "ttft_s": out.timings.ttft_s, "prefill_s": out.timings.prefill_s,
                         "e2e_s": out.timings.e2e_s, "prompt_tokens": req.prompt_tokens,
                         "reused_tokens": out.reused_tokens, **probe.since(before)})
        mismatches += tokens["full_prefill"] != tokens["prefix_reuse"]
    raw = pd.DataFrame(rows)
    raw.to_parquet(args.out)
    measured = raw[~raw["warmup"]]
    for run_id, g in measured.groupby("run_id"):
        print(f"{run_id:13s} ttft median {statistics.median(g['ttft_s']) * 1e3:7.1f} ms  "
              f"prefill median {statistics.median(g['prefill_s']) * 1e3:7.1f} ms  n={len(g)}  "
              f"contended calls {int(g['contended'].sum())}")
    pairs = measured.pivot(index="round", columns="run_id", values="ttft_s")
    print(f"median of per-pair TTFT ratios reuse/full: {(pairs['prefix_reuse'] / pairs['full_prefill']).median():.3f}")
    print(f"greedy token mismatches between the sides: {mismatches} of {len(requests)}")
    from blaze_lab.metrics.compare import compare

    verdict = compare(raw, baseline="full_prefill", metric="ttft_s")
    print(verdict[["run_id", "mean", "ratio", "ratio_ci_low", "ratio_ci_high", "method", "n_pairs", "verdict"]]
          .to_string(index=False))


if __name__ == "__main__":
    main()
