"""A/A: one config entered twice, measured interleaved — the paired comparison must say "no difference".

The same SmolLM2 config is given twice (run ids ``A`` and ``B``) to one ``LLMEngine.benchmark`` call, so the loop
measures them in alternating rounds from one loaded model. ``blaze_lab.metrics.compare`` then compares B with A on
latency (paired by round) and on throughput (the ratio estimator tokens / seconds). A correct interval contains 1.0
and the verdict is "no difference at this precision" — in about 95% of repetitions by construction (the coverage
harness in tests/metrics measures that rate on synthetic data; this script shows it on the real engine).

    .venv/bin/python benchmarks/aa_compare.py --repeats 3
"""

from __future__ import annotations

import argparse

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from blaze_lab.engines.llm import LLMConfig, LLMEngine
    from blaze_lab.engines.llm.quality import QualitySettings
    from blaze_lab.metrics import MeasureSettings
    from blaze_lab.metrics.compare import compare

    cfg = LLMConfig(model=args.model, batch_size=args.batch_size, new_tokens=args.new_tokens, prompt_tokens=32)
    engine = LLMEngine()
    rows = []
    for seed in range(args.repeats):
        summary, raw = engine.benchmark(
            [cfg, cfg], run_ids=["A", "B"], measure=MeasureSettings(min_iters=10, max_duration_s=60),
            quality=QualitySettings(enabled=False), progress=False, order_seed=seed,
        )
        lat = compare(raw, baseline="A", metric="latency_s").set_index("run_id").loc["B"]
        thr = compare(raw, baseline="A", metric="tokens_per_s", ratio=("tokens", "latency_s")).set_index("run_id")
        thr_b = thr.loc["B"]
        rows.append({
            "repeat": seed,
            "n": int(summary["n"].min()),
            "contended": bool(summary["contended"].any()),
            "latency ratio": f"{lat['ratio']:.3f} [{lat['ratio_ci_low']:.3f}, {lat['ratio_ci_high']:.3f}]",
            "latency verdict": lat["verdict"],
            "throughput ratio": f"{thr_b['ratio']:.3f} [{thr_b['ratio_ci_low']:.3f}, {thr_b['ratio_ci_high']:.3f}]",
            "throughput verdict": thr_b["verdict"],
        })
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
