"""Instrumentation overhead of LLMEngine: every metric on vs a raw ``model.generate``.

Both sides run the same model, the same batch of prompts and the same fixed output length, interleaved
(raw, instrumented, raw, instrumented …) so drift in machine load hits both alike. Each side is timed from outside
with ``time.perf_counter``; the printed figure is the median of per-pair ratios instrumented / raw.

    .venv/bin/python benchmarks/llm_overhead.py --model smollm2-135m --batch-size 8 --pairs 15

Goal: median ratio ≤ 1.03 on SmolLM2 at batch 8.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.engines.llm.engine import LLMEngine
from blaze_lab.engines.llm.measure import benchmark_batch
from blaze_lab.metrics.tokens import TokenTimer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--pairs", type=int, default=15)
    args = parser.parse_args()

    cfg = LLMConfig(
        model=args.model,
        dtype=args.dtype,
        batch_size=args.batch_size,
        new_tokens=args.new_tokens,
        prompt_tokens=args.prompt_tokens,
    )
    engine = LLMEngine(cfg)
    loaded = engine.load(cfg)
    batch = benchmark_batch(loaded, cfg)
    timer = TokenTimer(loaded.device)

    def raw() -> None:
        with torch.no_grad():
            loaded.model.generate(
                **batch,
                max_new_tokens=cfg.new_tokens,
                min_new_tokens=cfg.new_tokens,
                do_sample=False,
                pad_token_id=loaded.tokenizer.pad_token_id,
            )

    def instrumented() -> None:
        # as the measurement loop's timed calls: on CPU no heap trim first (the memory probe reports the peaks)
        engine.instrumented_iteration(loaded, cfg, batch, timer, exact_memory=loaded.device.startswith("cuda"))

    raw()
    instrumented()  # warm-up both paths
    raw_s, inst_s, ratios = [], [], []
    for i in range(args.pairs):
        # alternate which side goes first, so neither always runs on a warmer cache
        order = (raw, instrumented) if i % 2 == 0 else (instrumented, raw)
        times = {}
        for fn in order:
            t0 = time.perf_counter()
            fn()
            times[fn.__name__] = time.perf_counter() - t0
        raw_s.append(times["raw"])
        inst_s.append(times["instrumented"])
        ratios.append(times["instrumented"] / times["raw"])
        print(f"pair {i}: raw {times['raw']:.3f} s, instrumented {times['instrumented']:.3f} s", flush=True)
    print(
        f"model={args.model} dtype={args.dtype} batch={args.batch_size} new_tokens={args.new_tokens} "
        f"pairs={args.pairs} device={loaded.device}"
    )
    print(f"raw generate      median {statistics.median(raw_s):.4f} s")
    print(f"LLMEngine (all metrics) median {statistics.median(inst_s):.4f} s")
    q = statistics.quantiles(ratios, n=4)
    print(f"overhead ratio    median {statistics.median(ratios):.4f}  (IQR {q[0]:.4f}–{q[2]:.4f})")


if __name__ == "__main__":
    main()
