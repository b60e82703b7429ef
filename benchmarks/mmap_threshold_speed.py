"""What pinning glibc's mmap threshold costs a timed ``generate`` (why blaze_lab's CPU memory probe is untimed).

Runs the same greedy SmolLM2 ``generate`` (32-token prompt, 16 new tokens, batch 1 and 8; median of 6 calls after 2
warm-up calls) in fresh processes with glibc's default dynamic threshold, pinned at its 128 KiB floor (what
``blaze_lab.metrics.memory.ExactHeap`` sets for the memory probe) and pinned at its 32 MiB ceiling (what timed calls
run with after a probe), alternating the three ``--rounds`` times; prints each median and its ratio to the default.
The same pins for a whole memory benchmark: ``MALLOC_MMAP_THRESHOLD_=131072 .venv/bin/python
benchmarks/memory_isolation.py``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mmap_threshold_speed.py --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

_CHILD = r"""
import json, statistics, time, torch
from transformers import AutoModelForCausalLM
from blaze_lab.models import resolve_model
model = AutoModelForCausalLM.from_pretrained(str(resolve_model("smollm2-135m", kind="llm").path)).eval()
out = {}
for bs in (1, 8):
    ids = torch.randint(0, 1000, (bs, 32))
    times = []
    with torch.no_grad():
        for i in range(8):
            t0 = time.perf_counter()
            model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, min_new_tokens=16,
                           do_sample=False, pad_token_id=0)
            if i >= 2:
                times.append(time.perf_counter() - t0)
    out[bs] = statistics.median(times)
print(json.dumps(out))
"""

MODES = {"default (dynamic)": None, "floor 128 KiB": "131072", "ceiling 32 MiB": "33554432"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for r in range(args.rounds):
        base: dict[str, float] = {}
        for name, threshold in MODES.items():
            env = {k: v for k, v in os.environ.items() if k != "MALLOC_MMAP_THRESHOLD_"}
            if threshold is not None:
                env["MALLOC_MMAP_THRESHOLD_"] = threshold
            out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True)
            med = json.loads(out.stdout.strip().splitlines()[-1])
            base = base or med
            cells = "  ".join(f"bs{bs} {med[bs]:.3f} s ({med[bs] / base[bs]:.2f}x)" for bs in ("1", "8"))
            print(f"round {r} {name:18s} {cells}  load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
