"""What running the model load and the first call under ``ExactHeap`` costs (the CPU memory protocol's set-up cost).

On CPU, blaze_lab loads a config's model and makes its first (discarded) warm-up call with glibc's mmap threshold
pinned at its 128 KiB floor (``blaze_lab.metrics.memory.ExactHeap``), so the temporaries of quantizing at load and
of bitsandbytes' first-forward repacking do not leave the heap fragmented around the live weights (the memory probe
then reads the same peak in every process: ``benchmarks/memory_isolation.py``). Those two steps are untimed or
discarded, so the floor changes no reported speed, only ``load_s`` and the wall time of warm-up. This script measures
that: in fresh processes, alternating plain / under ``ExactHeap`` (ABBA within each of ``--rounds``), it times
``load_llm`` and the first greedy ``generate`` (batch 8, 32-token prompt, 16 new tokens) for fp32, bitsandbytes
8-bit and nf4 SmolLM2, and prints the medians and the ratio exact/plain.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/load_under_exact_heap.py --rounds 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

_CHILD = r"""
import contextlib, json, sys, time, torch
from blaze_lab.engines.llm import LLMConfig
from blaze_lab.engines.llm.loading import load_llm
from blaze_lab.metrics.memory import ExactHeap
quant, exact = sys.argv[1], sys.argv[2] == "1"
cfg = LLMConfig(model="smollm2-135m", quantization=quant, batch_size=8, prompt_tokens=32, new_tokens=16)
load_llm(cfg.replace(model="random:tiny-llama"))  # libraries imported and thread pools started before the timing
t0 = time.perf_counter()
with ExactHeap(active=exact):
    loaded = load_llm(cfg)
load_s = time.perf_counter() - t0
ids = torch.randint(0, 1000, (8, 32))
t0 = time.perf_counter()
with ExactHeap(active=exact), torch.no_grad():
    loaded.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, min_new_tokens=16,
                          do_sample=False, pad_token_id=0)
print(json.dumps({"load_s": load_s, "first_call_s": time.perf_counter() - t0}))
"""

QUANTS = ("none", "bnb-8bit", "bnb-nf4")


def _child(quant: str, exact: bool) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, quant, "1" if exact else "0"], capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="ABBA rounds (each: plain, exact, exact, plain)")
    args = parser.parse_args()
    print(f"{'quantization':14s} {'load plain':>10s} {'load exact':>10s} {'ratio':>6s}  "
          f"{'1st call plain':>14s} {'1st call exact':>14s} {'ratio':>6s}")
    for quant in QUANTS:
        runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for _ in range(args.rounds):
            for exact in (False, True, True, False):
                runs[exact].append(_child(quant, exact))
        med = {e: {k: statistics.median(r[k] for r in runs[e]) for k in ("load_s", "first_call_s")} for e in runs}
        print(
            f"{quant:14s} {med[False]['load_s']:9.2f}s {med[True]['load_s']:9.2f}s "
            f"{med[True]['load_s'] / med[False]['load_s']:6.2f}  {med[False]['first_call_s']:13.2f}s "
            f"{med[True]['first_call_s']:13.2f}s {med[True]['first_call_s'] / med[False]['first_call_s']:6.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
