"""What a heap trim before each call costs the call: interleaved trimmed and untrimmed SmolLM2 ``generate`` calls.

The memory tracker used to return freed heap memory to the OS (``malloc_trim``) before every measured call, so each
call faulted its temporaries in again. This script times bare ``generate`` calls in pairs, one preceded by
:func:`blaze_lab.metrics.memory.trim_heap` and one not (the order alternates), with glibc's mmap threshold pinned at
the 32 MiB ceiling the timed calls run at, and prints the median of per-pair ratios trimmed / untrimmed.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/heap_trim_cost.py --prompt-tokens 8 --new-tokens 2 --pairs 40
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--prompt-tokens", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=40)
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM

    from blaze_lab.metrics.memory import ExactHeap, trim_heap
    from blaze_lab.models import resolve_model

    path = resolve_model(args.model, kind="llm").path
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, args.dtype)).eval()
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (args.batch_size, args.prompt_tokens), generator=gen)
    kwargs = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "max_new_tokens": args.new_tokens,
        "min_new_tokens": args.new_tokens,
        "do_sample": False,
        "pad_token_id": model.config.eos_token_id,
    }
    with ExactHeap():
        pass  # on exit: the threshold pinned at the 32 MiB ceiling, as for the measurement loop's timed calls
    times: dict[str, list[float]] = {"trimmed": [], "untrimmed": []}
    with torch.no_grad():
        for _ in range(3):
            model.generate(**kwargs)  # warm-up
        for i in range(args.pairs):
            for mode in ("trimmed", "untrimmed") if i % 2 == 0 else ("untrimmed", "trimmed"):
                if mode == "trimmed":
                    trim_heap()
                t0 = time.perf_counter()
                model.generate(**kwargs)
                times[mode].append(time.perf_counter() - t0)
    ratios = [a / b for a, b in zip(times["trimmed"], times["untrimmed"], strict=True)]
    q = statistics.quantiles(ratios, n=4)
    print(
        f"{args.model} {args.dtype} batch {args.batch_size}, {args.prompt_tokens} -> {args.new_tokens} tokens, "
        f"{args.pairs} pairs: median trimmed {statistics.median(times['trimmed']):.4f} s, untrimmed "
        f"{statistics.median(times['untrimmed']):.4f} s; trimmed/untrimmed median {statistics.median(ratios):.4f} "
        f"(IQR {q[0]:.4f}–{q[2]:.4f})"
    )


if __name__ == "__main__":
    main()
