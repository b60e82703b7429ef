"""Print the measured coverage of every interval blaze_lab reports (the table in docs/metrics.md).

Each cell is the share of simulated experiments whose 95% interval holds the truth, over ``--reps`` experiments
(Monte-Carlo SE ≈ √(0.95·0.05/reps): 0.22% at 10,000) drawn by ``blaze_lab.metrics.coverage``'s samplers.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/coverage_table.py --reps 10000
"""

from __future__ import annotations

import argparse
import math
import time

from blaze_lab.metrics.coverage import (
    SAMPLERS,
    compare_coverage,
    mean_coverage,
    quantile_coverage,
    ratio_coverage,
    stopped_mean_coverage,
)
from blaze_lab.metrics.stats import quantile_min_n


def fmt(value: float) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.1f}"


def table(title: str, columns: list[str], rows: list[tuple[str, list[float]]]) -> None:
    print(f"\n**{title}**\n")
    print("| sampler | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, values in rows:
        print(f"| {name} | " + " | ".join(fmt(v) for v in values) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    reps, seed = args.reps, args.seed
    start = time.perf_counter()
    print(f"coverage in % of nominal-95% intervals, {reps} experiments per cell, seed {seed}")

    ns = [2, 3, 5, 10, 30, 100, 400]
    table(
        "Mean, Student-t CI (n =)",
        [str(n) for n in ns],
        [(name, [mean_coverage(s, n, reps=reps, seed=seed) for n in ns]) for name, s in SAMPLERS.items()],
    )

    quantile_rows = []
    for q in (0.5, 0.9, 0.95, 0.99):
        m = quantile_min_n(q)
        for name in ("lognormal (any cv)", "drift +5%, cv 5%", "5% outliers 3x, cv 5%"):
            s = SAMPLERS["lognormal cv 10%" if name.startswith("lognormal") else name]
            quantile_rows.append(
                (
                    f"p{round(100 * q)} · {name}",
                    [quantile_coverage(s, q, n, reps=reps, seed=seed) for n in (m, m + 1, 2 * m)],
                )
            )
    table(
        "Percentiles, order-statistic CI (n = min n, min n + 1, 2 × min n; min n = 6, 36, 72, 368)",
        ["min n", "min n + 1", "2 × min n"],
        quantile_rows,
    )

    rn = [5, 10, 30, 100]
    table(
        "Throughput Σtokens/Σseconds, Fieller CI — same tokens every call (n =)",
        [str(n) for n in rn],
        [(name, [ratio_coverage(s, n, reps=reps, seed=seed) for n in rn]) for name, s in SAMPLERS.items()],
    )
    table(
        "Throughput Σtokens/Σseconds, Fieller CI — tokens vary per call, 16..256 (n =)",
        [str(n) for n in rn],
        [
            (name, [ratio_coverage(s, n, varying=True, reps=reps, seed=seed) for n in rn])
            for name, s in SAMPLERS.items()
        ],
    )

    targets = [0.01, 0.02, 0.05]
    for min_n in (10, 5):
        rows = []
        for name, s in SAMPLERS.items():
            cells = [stopped_mean_coverage(s, min_n=min_n, target_rel=t, reps=reps, seed=seed) for t in targets]
            rows.append((f"{name} (mean n: {', '.join(f'{c[1]:.0f}' for c in cells)})", [c[0] for c in cells]))
        table(
            f"Mean t-CI after the stop rule, min_n = {min_n}, max 200 calls (target half-width =)",
            [f"{t:.0%}" for t in targets],
            rows,
        )

    cn = [3, 5, 10, 30]
    for label, kwargs in (
        # The log-ratio interval is scale-equivariant: coverage of any true ratio equals the A/A column.
        ("A/A interleaved, paired: coverage = share saying 'no difference'", {"paired": True}),
        ("A/A independent runs, Welch", {"paired": False, "round_cv": 0.0}),
    ):
        table(
            f"Compare: {label} (n per config =)",
            [str(n) for n in cn],
            [
                (name, [compare_coverage(s, n, reps=reps, seed=seed, **kwargs)[0] for n in cn])  # type: ignore[arg-type]
                for name, s in SAMPLERS.items()
            ],
        )
    power = [
        (name, [compare_coverage(s, n, reps=reps, seed=seed, true_ratio=1.2)[1] for n in cn])
        for name, s in SAMPLERS.items()
    ]
    table(
        "Compare: A/B 20% slower, paired — share of runs with verdict 'slower' (power, not coverage)",
        [str(n) for n in cn],
        power,
    )
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
