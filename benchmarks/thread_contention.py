"""Thread settings under contention: which CPU thread default does not collapse when another process competes?

Two torch processes with 2 intra-op threads each on a 2-core machine make one ``generate`` call 10–30× slower:
OpenMP threads spin or wait at barriers for siblings the scheduler has descheduled. This script measures, for each
thread setting, the median latency of the same greedy ``generate`` call (SmolLM2-135M when prepared, else a random
Llama) alone and beside a competing torch process (matmuls on 2 threads, started and stopped by this script, bounded
in time), in a fresh subprocess per measurement (thread settings are fixed at torch start-up). Settings and
conditions are interleaved (setting A quiet, A busy, B quiet, B busy, …, then the whole order again) so slow drift of
the machine hits all alike; the printed figures are medians over rounds and the ratios busy / quiet and
setting / default.

    .venv/bin/python benchmarks/thread_contention.py --rounds 2 --calls 6
    .venv/bin/python benchmarks/thread_contention.py --ambient --calls 3 --hog-limit-s 150   # under the current load

Run it on an otherwise idle machine: the quiet figures assume nothing else competes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS: dict[str, dict[str, str]] = {
    "2 threads (torch default)": {"OMP_NUM_THREADS": "2"},
    "2 threads, OMP_WAIT_POLICY=PASSIVE": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
    "1 thread": {"OMP_NUM_THREADS": "1"},
}

_CHILD = r"""
import json, statistics, sys, time
import torch
from transformers import AutoModelForCausalLM
from blaze_lab.models import resolve_model, is_prepared
spec = "smollm2-135m" if is_prepared("smollm2-135m") else "random:tiny-llama"
model = AutoModelForCausalLM.from_pretrained(str(resolve_model(spec, kind="llm").path)).eval()
ids = torch.randint(0, 1000, (int(sys.argv[2]), 32))
times = []
with torch.no_grad():
    for i in range(int(sys.argv[1]) + 2):
        t0 = time.perf_counter()
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, min_new_tokens=16,
                       do_sample=False, pad_token_id=0)
        if i >= 2:  # two warm-up calls
            times.append(time.perf_counter() - t0)
print(json.dumps({"spec": spec, "median_s": statistics.median(times), "threads": torch.get_num_threads()}))
"""

_HOG = r"""
import time, torch
torch.set_num_threads(2)
a = torch.randn(512, 512)
end = time.monotonic() + float(__import__("sys").argv[1])
while time.monotonic() < end:
    a = (a @ a).tanh()
"""


def _measure(env_extra: dict[str, str], calls: int, batch: int, busy: bool, hog_limit_s: float) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")}
    env.update(env_extra)
    hog = None
    if busy:
        hog = subprocess.Popen([sys.executable, "-c", _HOG, str(hog_limit_s)], env={**os.environ})
        time.sleep(1.0)  # let the competitor reach its steady state
    try:
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(calls), str(batch)], env=env, capture_output=True, text=True,
            timeout=hog_limit_s, check=True,
        )
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def ambient(args: argparse.Namespace) -> None:
    """Each setting under the machine's own load, per round; a process that outlives the limit is reported as such."""
    for r in range(args.rounds):
        names = list(SETTINGS) if r % 2 == 0 else list(reversed(SETTINGS))
        for name in names:
            load = os.getloadavg()[0]
            try:
                res = _measure(SETTINGS[name], args.calls, args.batch_size, False, args.hog_limit_s)
                text = f"{res['median_s']:.2f} s"
            except subprocess.TimeoutExpired:
                text = f"> {args.hog_limit_s:g} s for {args.calls + 2} calls"
            print(f"round {r} {name:38s} median {text:>24s}  load {load:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--hog-limit-s", type=float, default=300.0, help="the competitor never outlives this")
    parser.add_argument(
        "--ambient",
        action="store_true",
        help="start no competitor: measure each setting under whatever already runs on the machine (its load is "
        "printed), ABC then CBA, a process past --hog-limit-s counted as a collapse instead of an error",
    )
    args = parser.parse_args()
    if args.ambient:
        ambient(args)
        return
    figures: dict[tuple[str, bool], list[float]] = {}
    spec = ""
    for r in range(args.rounds):
        names = list(SETTINGS) if r % 2 == 0 else list(reversed(SETTINGS))
        for name in names:
            for busy in (False, True) if r % 2 == 0 else (True, False):
                res = _measure(SETTINGS[name], args.calls, args.batch_size, busy, args.hog_limit_s)
                spec = str(res["spec"])
                figures.setdefault((name, busy), []).append(float(res["median_s"]))
                print(f"round {r} {name:38s} {'busy ' if busy else 'quiet'} {res['median_s']:.3f} s", flush=True)
    default_quiet = statistics.median(figures[(next(iter(SETTINGS)), False)])
    print(f"\nmodel {spec}, batch {args.batch_size}, 16 new tokens; medians over {args.rounds} rounds")
    print(f"{'setting':38s} {'quiet s':>8s} {'busy s':>8s} {'busy/quiet':>10s} {'quiet vs default':>16s}")
    for name in SETTINGS:
        quiet = statistics.median(figures[(name, False)])
        busy = statistics.median(figures[(name, True)])
        print(f"{name:38s} {quiet:8.3f} {busy:8.3f} {busy / quiet:10.2f} {quiet / default_quiet:16.2f}")


if __name__ == "__main__":
    main()
