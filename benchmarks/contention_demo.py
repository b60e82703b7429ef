"""Busy-machine detection: the same configs measured quiet, then beside a CPU hog this script starts on purpose.

Measures a few short SmolLM2 configs (interleaved, as every sweep does) twice in this process: first on a quiet
machine, then while a competing torch process (matmuls on all cores; started here, killed after the measurement,
never alive longer than ``--hog-limit-s``) runs beside it. Prints, per phase, how many rows were marked
``contended`` and the CPU share other processes took. On a quiet machine no row should be contended; beside the hog
every row should be, with ``valid=False`` and the figures in its reason.

    .venv/bin/python benchmarks/contention_demo.py
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

_HOG = r"""
import sys, time, torch
torch.set_num_threads(2)
a = torch.randn(512, 512)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    a = (a @ a).tanh()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--hog-limit-s", type=float, default=600.0)
    args = parser.parse_args()
    from blaze_lab.engines.llm import LLMConfig, LLMEngine
    from blaze_lab.engines.llm.quality import QualitySettings
    from blaze_lab.metrics import MeasureSettings

    base = LLMConfig(model=args.model, prompt_tokens=32, new_tokens=8)
    configs = [base.replace(batch_size=b) for b in (1, 4)]
    settings = MeasureSettings(min_iters=10, max_iters=10, target_ci_rel=None, max_duration_s=120)
    engine = LLMEngine()
    quality = QualitySettings(enabled=False)
    for phase in ("quiet", "beside a CPU hog"):
        hog = None
        if phase != "quiet":
            hog = subprocess.Popen([sys.executable, "-c", _HOG, str(args.hog_limit_s)])
            time.sleep(2.0)
        try:
            summary, _ = engine.benchmark(configs, measure=settings, quality=quality, progress=False)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
        print(f"{phase}: {int(summary['contended'].sum())}/{len(summary)} rows contended; other processes' CPU "
              f"share per row: {', '.join(f'{v:.0%}' for v in summary['other_cpu_frac_mean'])}")  # fmt: skip
        for reason in summary["validity_reason"]:
            print(f"    {reason or 'valid'}")


if __name__ == "__main__":
    main()
