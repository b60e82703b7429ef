"""Memory that belongs to the config: the README's multi-config example vs each config measured alone.

Runs the README's SmolLM2 configs (fp32, bf16, bnb-8bit, bnb-nf4 at batch 1 and 8) twice: all together in one
``LLMEngine.benchmark`` call in this process (as the README does), and each alone in a fresh Python process. For
every config it prints ``peak_rss_increase_bytes`` (peak RSS minus the RSS before the config's model was loaded) and
``rss_anon_increase_bytes`` (anonymous memory only: without the file-backed pages of a memory-mapped checkpoint)
from both, and their ratio; the goal is every ratio within 5% of 1. ``--alone-runs N`` measures each config alone in
N fresh processes and compares with their median, printing their range too: a config whose isolated figure itself
varies from process to process cannot be judged by one isolated run; ``--together-runs N`` likewise runs the
configs together in N fresh processes (the together figure is then their median). It also checks that on CPU the
nf4 model's peak increase is below fp32's. Timing is irrelevant here (3 measured calls, no CI target), so a busy
machine does not change the figures. ``--kind diffusion`` does the same for the diffusion kind with a tiny random
Stable Diffusion pipeline (128x128, 4 DDIM steps; batch 1, batch 4, batch 4 with VAE slicing).

    .venv/bin/python benchmarks/memory_isolation.py
    .venv/bin/python benchmarks/memory_isolation.py --only bnb-8bit --alone-runs 5
    .venv/bin/python benchmarks/memory_isolation.py --alone-runs 5 --together-runs 5
    .venv/bin/python benchmarks/memory_isolation.py --kind diffusion --alone-runs 3 --together-runs 3
    .venv/bin/python benchmarks/memory_isolation.py --pairs fp32/bnb-fp4,bf16/bnb-nf4 --alone-runs 3
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import statistics
import subprocess
import sys

COLUMNS = ("peak_rss_increase_bytes", "rss_anon_increase_bytes", "peak_rss_bytes")
PAIRS = [("fp32", "none"), ("bf16", "none"), ("fp32", "bnb-8bit"), ("fp32", "bnb-nf4")]

_RUN = r"""
import json, sys
from blaze_lab.metrics import MeasureSettings
settings = MeasureSettings(warmup=1, warmup_max=1, min_iters=3, max_iters=3, target_ci_rel=None)
if sys.argv[1] == "llm":
    from blaze_lab.engines.llm import LLMConfig, LLMEngine
    from blaze_lab.engines.llm.quality import QualitySettings
    cfgs = [LLMConfig.from_dict(c) for c in json.loads(sys.argv[2])]
    summary, _ = LLMEngine().benchmark(cfgs, measure=settings, quality=QualitySettings(enabled=False), progress=False)
else:
    from blaze_lab.engines.diffusion import DiffusionEngine
    from blaze_lab.engines.diffusion.config import DiffusionConfig
    cfgs = [DiffusionConfig.from_dict(c) for c in json.loads(sys.argv[2])]
    summary, _ = DiffusionEngine().benchmark(cfgs, measure=settings, progress=False)
print(json.dumps([{k: float(row[k]) for k in COLUMNS} for _, row in summary.iterrows()]))
""".replace("COLUMNS", repr(COLUMNS))


def _subprocess_rows(kind: str, cfgs: list[object]) -> list[dict[str, float]]:
    """The configs measured together in one fresh process (one config: measured alone)."""
    out = subprocess.run(
        [sys.executable, "-c", _RUN, kind, json.dumps([c.to_dict() for c in cfgs])],  # type: ignore[attr-defined]
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def configs(
    model: str, quantizations: list[str] | None = None, pairs: list[tuple[str, str]] | None = None
) -> list[object]:
    from blaze_lab.engines.llm import LLMConfig

    base = LLMConfig(model=model, prompt_tokens=32, new_tokens=16)
    pairs = [(d, q) for d, q in pairs or PAIRS if quantizations is None or q in quantizations or d in quantizations]
    return [base.replace(dtype=d, quantization=q, batch_size=b) for d, q in pairs for b in (1, 8)]


def diffusion_configs() -> list[object]:
    from blaze_lab.engines.diffusion.config import DiffusionConfig

    base = DiffusionConfig(model="random:tiny-sd", device="cpu", scheduler="ddim", steps=4, height=128, width=128)
    return [base, base.replace(batch_size=4), base.replace(batch_size=4, vae_slicing=True)]


def _name(cfg: object) -> str:
    if hasattr(cfg, "quantization"):
        return f"{cfg.dtype}/{cfg.quantization}/bs{cfg.batch_size}"  # type: ignore[attr-defined]
    return f"tiny-sd/bs{cfg.batch_size}" + ("/vae-slicing" if cfg.vae_slicing else "")  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("llm", "diffusion"), default="llm")
    parser.add_argument("--model", default="smollm2-135m", help="the LLM (--kind llm)")
    parser.add_argument(
        "--only", default=None, help="comma-separated dtypes/quantizations to keep, e.g. fp32,bnb-8bit (default: all)"
    )
    parser.add_argument(
        "--pairs",
        default=None,
        help="comma-separated dtype/quantization pairs instead of the README's, e.g. fp32/bnb-fp4,bf16/bnb-nf4",
    )
    parser.add_argument("--alone-runs", type=int, default=1, help="fresh isolated processes per config (median)")
    parser.add_argument(
        "--together-runs",
        type=int,
        default=1,
        help="1: all configs together in this process; N > 1: in N fresh processes, compared by their median",
    )
    args = parser.parse_args()
    from blaze_lab.engines.diffusion import DiffusionEngine
    from blaze_lab.engines.llm import LLMEngine
    from blaze_lab.engines.llm.quality import QualitySettings
    from blaze_lab.metrics import MeasureSettings

    if args.kind == "llm":
        pairs = [tuple(p.split("/", 1)) for p in args.pairs.split(",")] if args.pairs else None
        cfgs = configs(args.model, args.only.split(",") if args.only else None, pairs)  # type: ignore[arg-type]
    else:
        cfgs = diffusion_configs()
    together_runs: list[list[dict[str, float]]] = []
    if args.together_runs <= 1:  # in this process, as the README example does
        settings = MeasureSettings(warmup=1, warmup_max=1, min_iters=3, max_iters=3, target_ci_rel=None)
        if args.kind == "llm":
            quality = QualitySettings(enabled=False)
            summary, _ = LLMEngine().benchmark(cfgs, measure=settings, quality=quality, progress=False)  # type: ignore[arg-type]
        else:
            summary, _ = DiffusionEngine().benchmark(cfgs, measure=settings, progress=False)  # type: ignore[arg-type]
        together_runs.append([{k: float(row[k]) for k in COLUMNS} for _, row in summary.iterrows()])
    # Memory figures do not depend on the machine's load: two subprocesses at a time.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        n_together = args.together_runs if args.together_runs > 1 else 0
        tog_jobs = [pool.submit(_subprocess_rows, args.kind, cfgs) for _ in range(n_together)]
        alone_jobs = [[pool.submit(_subprocess_rows, args.kind, [cfg]) for _ in range(args.alone_runs)] for cfg in cfgs]
        together_runs += [job.result() for job in tog_jobs]
        alone_runs = [[job.result()[0] for job in jobs] for jobs in alone_jobs]
    many = args.alone_runs > 1 or args.together_runs > 1
    print(
        f"{'config':28s} {'together MB':>12s} {'alone MB':>10s} {'ratio':>7s}  {'anon tog.':>9s} {'anon alone':>10s}"
        + ("  together range MB  alone range MB" if many else "")
    )
    worst = 0.0
    by_name: dict[str, float] = {}
    for i, cfg in enumerate(cfgs):
        tog_rows = [run[i] for run in together_runs]
        tog = {k: statistics.median(r[k] for r in tog_rows) for k in COLUMNS}
        alone = {k: statistics.median(r[k] for r in alone_runs[i]) for k in COLUMNS}
        name = _name(cfg)
        ratio = tog["peak_rss_increase_bytes"] / alone["peak_rss_increase_bytes"]
        worst = max(worst, abs(ratio - 1))
        by_name[name] = alone["peak_rss_increase_bytes"]
        t_peaks = sorted(r["peak_rss_increase_bytes"] / 1e6 for r in tog_rows)
        a_peaks = sorted(r["peak_rss_increase_bytes"] / 1e6 for r in alone_runs[i])
        print(
            f"{name:28s} {tog['peak_rss_increase_bytes'] / 1e6:12.1f} {alone['peak_rss_increase_bytes'] / 1e6:10.1f} "
            f"{ratio:7.3f}  {tog['rss_anon_increase_bytes'] / 1e6:9.1f} {alone['rss_anon_increase_bytes'] / 1e6:10.1f}"
            + (f"  {t_peaks[0]:7.1f}–{t_peaks[-1]:<9.1f}  {a_peaks[0]:.1f}–{a_peaks[-1]:.1f}" if many else ""),
            flush=True,
        )
    print(f"\nlargest |together/alone - 1| = {worst:.1%} (goal <= 5%)")
    if "fp32/bnb-nf4/bs1" not in by_name or "fp32/none/bs1" not in by_name:
        return
    nf4, fp32 = by_name["fp32/bnb-nf4/bs1"], by_name["fp32/none/bs1"]
    print(f"nf4 peak increase {nf4 / 1e6:.1f} MB vs fp32 {fp32 / 1e6:.1f} MB: {'below' if nf4 < fp32 else 'NOT below'}")


if __name__ == "__main__":
    main()
