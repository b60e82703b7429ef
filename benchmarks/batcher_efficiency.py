"""DynamicBatcher efficiency: 16 concurrent equal-length requests through the batcher vs ideal batches vs one by one.

Three ways to serve the same 16 prompts (each exactly ``--prompt-tokens`` tokens, greedy, ``--new-tokens`` each):

- **batcher**: all 16 submitted at once to a ``DynamicBatcher`` (max batch 8) over ``LLMEngine``; timed from the
  first submit to the last result (queueing, the worker thread, per-token streaming to 16 async queues included);
- **ideal**: direct batched generate on the two batches of 8 (the same ``LLMEngine._generate`` call, no batcher);
- **sequential**: direct generate of each prompt alone, one after another.

The two baselines run their generate calls on a worker thread, as the batcher does, so all three differ only in
how requests are grouped (torch's intra-op parallelism is set up per calling thread).

Repetitions are interleaved (batcher, ideal, sequential, batcher, ...) so drift in machine load hits all three alike;
printed: the median of per-repetition ratios ideal/batcher (goal >= 0.85: the batcher keeps >= 85% of the
throughput of perfect batches) and sequential/batcher (goal >= 2.5: the batcher is >= 2.5x faster than no batching).

    .venv/bin/python benchmarks/batcher_efficiency.py --model smollm2-135m --dtype bf16 --reps 3
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import statistics
import time

from blaze_lab.engines.llm import LLMEngine
from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.serving.batching import DynamicBatcher
from blaze_lab.serving.runner import LLMBatchRunner


def equal_length_prompts(tokenizer: object, n: int, tokens: int) -> list[str]:
    """``n`` distinct prompts that tokenize to exactly ``tokens`` tokens (cut from the bundled text)."""
    from blaze_lab.models import eval_text

    ids = tokenizer(eval_text(), add_special_tokens=False)["input_ids"]  # type: ignore[operator]
    special = len(tokenizer("")["input_ids"])  # type: ignore[operator]  # BOS etc. the tokenizer adds itself
    out: list[str] = []
    start = 0
    while len(out) < n and start + tokens < len(ids):
        text = tokenizer.decode(ids[start : start + tokens])  # type: ignore[attr-defined]
        # decode -> encode is not always the identity (merges across the cut): keep only exact round trips
        if len(tokenizer(text)["input_ids"]) == tokens + special:  # type: ignore[operator]
            out.append(text)
        start += max(1, tokens // 2)
    if len(out) < n:
        raise SystemExit(f"could not cut {n} prompts of exactly {tokens} tokens from the bundled text")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--dtype", default="bf16")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    engine = LLMEngine(LLMConfig(model=args.model, dtype=args.dtype, new_tokens=args.new_tokens))
    loaded = engine.load()
    runner = LLMBatchRunner(engine)
    prompts = equal_length_prompts(loaded.tokenizer, args.requests, args.prompt_tokens)
    batches = [prompts[i : i + args.max_batch] for i in range(0, len(prompts), args.max_batch)]

    def direct(batch: list[str]) -> None:
        enc = loaded.tokenizer(batch, return_tensors="pt", padding=True).to(loaded.device)
        engine._generate(loaded, engine.config, enc, args.new_tokens, None, exact=False)

    worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="baseline")

    def timed(groups: list[list[str]]) -> float:
        def work() -> float:
            t0 = time.perf_counter()
            for group in groups:
                direct(group)
            return time.perf_counter() - t0

        return worker.submit(work).result()

    def ideal() -> float:
        return timed(batches)

    def sequential() -> float:
        return timed([[p] for p in prompts])

    def streamed() -> float:
        # Diagnostic: ideal batches plus a per-step streamer (what streaming alone costs: a host sync per step).
        def work() -> float:
            t0 = time.perf_counter()
            for group in batches:
                runner.run(group, args.new_tokens, lambda tokens: None)
            return time.perf_counter() - t0

        return worker.submit(work).result()

    async def through_batcher(batcher: DynamicBatcher) -> float:
        before = len(batcher.batches)
        t0 = time.perf_counter()
        handles = [batcher.submit(p, args.new_tokens) for p in prompts]
        results = await asyncio.gather(*(h.result() for h in handles))
        elapsed = time.perf_counter() - t0
        assert all(r.outcome == "ok" for r in results), [r.error for r in results if r.outcome != "ok"]
        while batcher.queue_depth or len(batcher.batches) - before < len(batches):  # batch rows land after results
            await asyncio.sleep(0.001)
        sizes = [b["batch_size"] for b in batcher.batches[before:]]
        assert sizes == [len(b) for b in batches], sizes
        return elapsed

    times: dict[str, list[float]] = {"batcher": [], "ideal": [], "sequential": [], "streamed": []}

    async def measure() -> None:
        # One long-lived batcher (as a server would have): its worker thread is warmed up once, like the baselines'.
        async with DynamicBatcher(runner, max_batch_size=args.max_batch, max_wait_ms=5.0) as batcher:
            timed([batches[0], [prompts[0]]])  # warm-up: first-call allocations and kernel selection
            await through_batcher(batcher)
            for rep in range(args.reps):
                times["batcher"].append(await through_batcher(batcher))
                times["ideal"].append(ideal())
                times["sequential"].append(sequential())
                times["streamed"].append(streamed())
                print(f"rep {rep}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)

    asyncio.run(measure())
    vs_ideal = [i / b for i, b in zip(times["ideal"], times["batcher"], strict=True)]
    vs_seq = [s / b for s, b in zip(times["sequential"], times["batcher"], strict=True)]
    load = os.getloadavg()
    print(f"model {args.model} {args.dtype}, {args.requests} requests x {args.prompt_tokens} in / "
          f"{args.new_tokens} out, max batch {args.max_batch}, {args.reps} interleaved reps, "
          f"load avg {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} on {os.cpu_count()} cores")
    print(f"median seconds: batcher {statistics.median(times['batcher']):.2f}, "
          f"ideal {statistics.median(times['ideal']):.2f}, sequential {statistics.median(times['sequential']):.2f}")
    print(f"batcher vs ideal (ideal/batcher, goal >= 0.85): {statistics.median(vs_ideal):.3f}  "
          f"[{min(vs_ideal):.3f} .. {max(vs_ideal):.3f}]")
    print(f"batcher vs sequential (sequential/batcher, goal >= 2.5): {statistics.median(vs_seq):.2f}x  "
          f"[{min(vs_seq):.2f} .. {max(vs_seq):.2f}]")
    vs_streamed = [i / s for i, s in zip(times["ideal"], times["streamed"], strict=True)]
    print(f"diagnostic: ideal/streamed (cost of a per-step streamer alone): {statistics.median(vs_streamed):.3f}")
    worker.shutdown()


if __name__ == "__main__":
    main()
