"""Fit the router simulator's LLM service costs: latency = a + b·prompt_tokens + c·new_tokens on a real model.

Runs one greedy request at a time (full prefill, no KV reuse) for every (prompt length, new tokens) of a small grid,
in a seeded random order, ``--reps`` times each, prompts cut from the bundled text; records TTFT and end-to-end
latency with the contention columns of each call. Fits ``e2e = a + b·prompt + c·new`` (the simulator's
``base_latency_s`` / ``prefill_s_per_token`` / ``decode_s_per_token``) with
:func:`blaze_lab.replicas.service.fit_token_costs`, and ``ttft = a' + b'·prompt`` as a check of the prefill slope,
and prints both fits with R² and relative errors. Rows go to ``--out`` (parquet). One thread: on a busy machine two
threads oversubscribe the cores and the fit drowns in noise (R² 0.55 against 0.98 with one; docs/routing.md).

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD .venv/bin/python benchmarks/calibrate_llm_service.py --model smollm2-135m
"""

from __future__ import annotations

import argparse
import itertools
import random
from typing import Any

import pandas as pd

from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.engines.llm.loading import load_llm
from blaze_lab.engines.llm.prefix_kv import PrefixKVCache
from blaze_lab.load.prefix import text_token_ids
from blaze_lab.metrics.contention import ContentionProbe
from blaze_lab.replicas.service import fit_token_costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--prompts", type=int, nargs="+", default=[32, 128, 256, 512])
    parser.add_argument("--new-tokens", type=int, nargs="+", default=[2, 8, 16])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/llm_service_calibration.parquet")
    args = parser.parse_args()

    loaded = load_llm(LLMConfig(model=args.model, device="cpu"))
    stream = text_token_ids(loaded.tokenizer)
    kv = PrefixKVCache(loaded)
    probe = ContentionProbe(loaded.device)
    grid = list(itertools.product(args.prompts, args.new_tokens)) * args.reps
    random.Random(args.seed).shuffle(grid)
    rows: list[dict[str, Any]] = []
    for i, (prompt, new) in enumerate([(args.prompts[0], args.new_tokens[0])] * args.warmup + grid):
        start = (i * 97) % max(1, len(stream) - prompt)  # a different window of the text per call
        ids = stream[start : start + prompt]
        before = probe.snapshot()
        out = kv.generate(ids, 0, new, reuse=False)
        rows.append({"call": i, "warmup": i < args.warmup, "prompt_tokens": len(ids), "new_tokens": new,
                     "ttft_s": out.timings.ttft_s, "latency_s": out.timings.e2e_s, **probe.since(before)})
    raw = pd.DataFrame(rows)
    raw.to_parquet(args.out)
    measured = raw[~raw["warmup"]]
    fit = fit_token_costs(measured)
    ttft = fit_token_costs(measured.assign(no_decode=0), latency_col="ttft_s", output_col="no_decode")
    print(f"{args.model}: {len(measured)} calls, {int(measured['contended'].sum())} contended")
    print(f"e2e  = {fit['base_s']:.4f} s + {fit['prefill_s_per_token'] * 1e3:.3f} ms/prompt token + "
          f"{fit['decode_s_per_token'] * 1e3:.2f} ms/new token   R2 {fit['r2']:.3f}  rel. error median "
          f"{fit['rel_err_median']:.1%} max {fit['rel_err_max']:.1%}")
    print(f"ttft = {ttft['base_s']:.4f} s + {ttft['prefill_s_per_token'] * 1e3:.3f} ms/prompt token   R2 "
          f"{ttft['r2']:.3f}  rel. error median {ttft['rel_err_median']:.1%} max {ttft['rel_err_max']:.1%}")
    print(measured.groupby(["prompt_tokens", "new_tokens"])[["ttft_s", "latency_s"]].median().round(4).to_string())


if __name__ == "__main__":
    main()
