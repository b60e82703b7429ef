"""Do two runs of the same sweep reach the same verdicts? (every pair of configs, faster / slower / no difference)

Runs (or reads) two results folders of the same spec — e.g. the quickstart run twice on one machine, minutes
apart, each in its own kernels — and, for every ordered pair of LLM configs, computes the paired verdict of
``blaze_lab.metrics.compare`` on throughput (``tokens_per_s``) from each run's combined summary (between-replication
CI where the sweep has replications). A *contradiction* is "faster" in one run and "slower" in the other; "no
difference at this precision" in one run never contradicts. Also counts the rows each run marked ``contended``.

    .venv/bin/python benchmarks/verdict_stability.py results/quickstart results/quickstart-2
    .venv/bin/python benchmarks/verdict_stability.py --run experiments/quickstart.yaml   # runs it twice first
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd


def verdicts(results: Path, metric: str) -> tuple[dict[tuple[str, str], str], pd.DataFrame]:
    from blaze_lab.metrics.compare import compare
    from blaze_lab.report.labels import config_labels
    from blaze_lab.sweep.collect import collect

    summary, _ = collect(results)
    llm = summary[(summary["engine"] == "llm") & (summary["status"] == "ok")].reset_index(drop=True)
    labels = dict(zip(llm["run_id"], config_labels(llm), strict=True))
    out: dict[tuple[str, str], str] = {}
    for base in llm["run_id"]:
        table = compare(llm, baseline=base, metric=metric, higher_is_better=True)
        for _, row in table.iterrows():
            if row["run_id"] != base:
                out[(labels[base], labels[row["run_id"]])] = str(row["verdict"])
    return out, llm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--run", type=Path, help="a spec to run twice (into results/<name>-a and -b) first")
    parser.add_argument("--metric", default="tokens_per_s")
    args = parser.parse_args()
    folders = list(args.folders)
    if args.run:
        for tag in ("a", "b"):
            root = Path("results") / f"verdicts-{tag}"
            subprocess.run([sys.executable, "-m", "blaze_lab", "sweep", str(args.run), "--results", str(root),
                            "--no-report", "--allow-failures"], check=True)  # fmt: skip
            folders.append(next(p for p in root.iterdir() if p.is_dir()))
    (a, llm_a), (b, llm_b) = (verdicts(f, args.metric) for f in folders[:2])
    rows, contradictions = [], 0
    for pair in sorted(set(a) & set(b)):
        va, vb = a[pair], b[pair]
        clash = {va, vb} == {"faster", "slower"} or {va, vb} == {"higher", "lower"}
        contradictions += clash
        rows.append({"config": pair[1], "vs": pair[0], "run 1": va, "run 2": vb, "contradiction": clash})
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(pd.DataFrame(rows).to_string(index=False))
    for name, llm in (("run 1", llm_a), ("run 2", llm_b)):
        print(f"{name}: {len(llm)} ok LLM rows, {int(llm['contended'].sum())} contended, "
              f"{int((~llm['valid'].astype(bool)).sum())} invalid")  # fmt: skip
    print(f"\n{len(rows)} ordered pairs compared on {args.metric}: {contradictions} contradictions")


if __name__ == "__main__":
    main()
