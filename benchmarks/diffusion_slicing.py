"""What diffusers' memory knobs cost and save here: attention slicing, VAE slicing, VAE tiling vs the baseline.

Every variant runs on the same loaded pipeline (the knobs are run-time settings), the same prompt, seeds, size and
batch. Rounds are interleaved (baseline, sliced, max-sliced, vae-slicing, vae-tiling, baseline, …) so drift in
machine load hits every variant alike. Per call: wall latency (``DiffusionEngine.run_call``: synchronize, clock) and
the peak RSS *increase* over the RSS right before the call (the kernel's VmHWM high-water mark, reset per call), so
the ~1 GB of libraries every process holds does not dilute the ratios. Printed: medians per variant and the median
of per-round ratios variant / baseline, plus the max pixel difference of each variant's image vs the baseline's.

    .venv/bin/python benchmarks/diffusion_slicing.py --model random:tiny-sd --size 128 --batch-size 4 --rounds 7

On a GPU add ``--device cuda``: memory is then peak allocated CUDA bytes (minus the allocation before the call).
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import psutil
import torch

from blaze_lab.engines.diffusion import DiffusionEngine
from blaze_lab.engines.diffusion.config import DiffusionConfig
from blaze_lab.metrics.memory import MemoryTracker

VARIANTS: dict[str, dict[str, object]] = {
    "baseline": {},
    "attention sliced (auto)": {"attention": "sliced", "attention_slice_size": "auto"},
    "attention sliced (max)": {"attention": "sliced", "attention_slice_size": "max"},
    "vae slicing": {"vae_slicing": True},
    "vae tiling": {"vae_tiling": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random:tiny-sd")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    base = DiffusionConfig(
        model=args.model,
        device=args.device,
        dtype=args.dtype,
        scheduler="ddim",
        steps=args.steps,
        height=args.size,
        width=args.size,
        batch_size=args.batch_size,
    )
    configs = {name: base.replace(**change) for name, change in VARIANTS.items()}  # type: ignore[arg-type]
    engine = DiffusionEngine(base)
    cuda = args.device.startswith("cuda")
    latency: dict[str, list[float]] = {name: [] for name in configs}
    memory: dict[str, list[float]] = {name: [] for name in configs}
    images: dict[str, np.ndarray] = {}
    for name, cfg in configs.items():  # warm-up: one call each (allocator, lazy init, oneDNN kernels)
        images[name] = engine.generate(cfg).images[0]
    for _ in range(args.rounds):
        for name, cfg in configs.items():
            loaded = engine.prepare(cfg)
            before = torch.cuda.memory_allocated() if cuda else psutil.Process().memory_info().rss
            with MemoryTracker(loaded.device) as mem:
                result = engine.run_call(loaded, cfg, [cfg.prompt], [cfg.seed])
            peak = mem.result()["peak_allocated_bytes" if cuda else "peak_rss_bytes"]
            latency[name].append(result.timings.latency_s)
            memory[name].append(max(peak - before, 0.0))

    what = "peak allocated increase" if cuda else "peak RSS increase"
    print(
        f"{args.model} {args.size}x{args.size} batch {args.batch_size} {args.steps} steps {args.dtype} on "
        f"{args.device} ({args.threads} thread(s)), {args.rounds} interleaved rounds"
    )
    print(f"{'variant':26s} {'latency p50':>12s} {'ratio':>7s} {what + ' p50':>26s} {'ratio':>7s} {'max |Δpx|':>9s}")
    for name in configs:
        lat_ratio = statistics.median(a / b for a, b in zip(latency[name], latency["baseline"], strict=True))
        mem_ratio = statistics.median(
            a / b if b > 0 else float("nan") for a, b in zip(memory[name], memory["baseline"], strict=True)
        )
        diff = int(np.abs(images[name].astype(int) - images["baseline"].astype(int)).max())
        print(
            f"{name:26s} {statistics.median(latency[name]):11.3f}s {lat_ratio:7.3f} "
            f"{statistics.median(memory[name]) / 2**20:23.1f} MiB {mem_ratio:7.3f} {diff:9d}"
        )


if __name__ == "__main__":
    main()
