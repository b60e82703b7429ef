"""Window-to-window speed of a shared machine, and a canary that tracks it.

One process alternates, for ``--seconds``: a timed SmolLM2 ``generate`` (fp32, batch 1, 32 → 16 tokens), a timed
memory copy (4 × a 64 MiB float32 tensor) and a timed compute kernel (40 × a 256 × 256 matmul). It prints the
Spearman correlation of the three per-call times and their medians per 30 s window. On the project's shared 2-core
machine the generate time moved by ±12% from one 30 s window to the next with no other process in the process table
(the busy-machine probe sees nothing: other processes' CPU share and steal stay ≈ 0), and the memory copy moved with
it — a neighbour on the host taking memory bandwidth, invisible from inside the machine except by measuring it.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/machine_windows.py --seconds 360
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--seconds", type=float, default=360.0)
    parser.add_argument("--window-s", type=float, default=30.0)
    args = parser.parse_args()

    import pandas as pd
    import torch
    from transformers import AutoModelForCausalLM

    from blaze_lab.models import resolve_model

    path = resolve_model(args.model, kind="llm").path
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    ids = torch.randint(0, model.config.vocab_size, (1, 32), generator=torch.Generator().manual_seed(0))
    kwargs = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "max_new_tokens": 16,
        "min_new_tokens": 16,
        "do_sample": False,
        "pad_token_id": model.config.eos_token_id,
    }
    src = torch.ones(16 * 1024 * 1024)  # 64 MiB: larger than the last-level cache, so the copy is DRAM-bound
    dst = torch.empty_like(src)
    a = torch.randn(256, 256)
    rows = []
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(3):
            model.generate(**kwargs)  # warm-up
        while time.perf_counter() - start < args.seconds:
            t0 = time.perf_counter()
            model.generate(**kwargs)
            t1 = time.perf_counter()
            for _ in range(4):
                dst.copy_(src)
            t2 = time.perf_counter()
            for _ in range(40):
                a @ a
            t3 = time.perf_counter()
            rows.append({"t": t3 - start, "generate_s": t1 - t0, "copy_s": t2 - t1, "matmul_s": t3 - t2})
    frame = pd.DataFrame(rows)
    cols = ["generate_s", "copy_s", "matmul_s"]
    print(f"{len(frame)} calls; Spearman correlation of per-call times:")
    print(frame[cols].corr(method="spearman").round(3).to_string())
    frame["window_s"] = (frame["t"] // args.window_s * args.window_s).astype(int)
    med = frame.groupby("window_s")[cols].median()
    print(f"\nmedians per {args.window_s:.0f} s window (generate s, copy ms, matmul ms):")
    print(med.assign(copy_s=med["copy_s"] * 1e3, matmul_s=med["matmul_s"] * 1e3).round(3).to_string())
    spread = med["generate_s"].max() / med["generate_s"].min()
    print(f"\nslowest / fastest window: generate {spread:.3f}, copy {med['copy_s'].max() / med['copy_s'].min():.3f}")


if __name__ == "__main__":
    main()
