"""TEST FIXTURE: writes tests/data/sample_sweep/, a small SYNTHETIC sweep result in the runner's folder layout.

Not a measurement. The numbers are drawn from a seeded RNG around figures measured for SmolLM2 on this
project's 2-core CPU (fp32 ~17 tok/s at batch 1, ~90 at batch 8; bf16 faster; bnb nf4 ppl 12.3 vs 10.8), so the report
tests and notebooks/report.ipynb have realistic-looking input without running a model. It has: 4 quantization
settings x batch 1/8 as ok rows (one flagged invalid by its CV), and one ``unsupported`` row (torchao int4 on CPU).

Layout (as the runner writes it): ``sample_sweep/manifest.json`` and ``sample_sweep/<group>/{summary,raw}.parquet``.

Regenerate with ``.venv/bin/python tests/data/make_sample.py`` (deterministic).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from blaze_lab.config import stable_hash
from blaze_lab.metrics.recorder import order_columns, summarize_frame

OUT = Path(__file__).with_name("sample_sweep")
SWEEP = "sample"
NEW_TOKENS = 32
PROMPT_TOKENS = 32
ITERS = 10
ENV = {
    "env.device": "cpu",
    "env.gpu_name": None,
    "env.cpu": "Synthetic CPU (test fixture)",
    "env.cpu_count": 2,
    "env.torch": "2.13.0",
    "env.transformers": "5.24.0",
    "env.git_sha": "fixture000000",
}
# (dtype, quantization): (tok/s at bs1, tok/s at bs8, perplexity, kl_div_mean, rss MiB, relative noise)
SETTINGS = {
    ("fp32", "none"): (17.0, 90.0, 10.8, 0.0, 1150, 0.03),
    ("bf16", "none"): (22.0, 170.0, 10.85, 0.002, 760, 0.03),
    ("fp32", "bnb-8bit"): (8.0, 45.0, 10.9, 0.011, 640, 0.03),
    ("bf16", "bnb-nf4"): (14.0, 153.0, 12.3, 0.09, 520, 0.03),
}
NOISY = (("fp32", "bnb-8bit"), 1)  # this run gets CV > 0.5 so the summary flags it valid=False
UNSUPPORTED = ("fp32", "torchao-int4-weight-only", 1, "torchao Int4WeightOnlyConfig: no CPU packing format")


def config(dtype: str, quant: str, batch: int) -> dict[str, object]:
    return {
        "llm.model": "smollm2-135m",
        "llm.dtype": dtype,
        "llm.quantization": quant,
        "llm.batch_size": batch,
        "llm.prompt_tokens": PROMPT_TOKENS,
        "llm.new_tokens": NEW_TOKENS,
    }


def ids(cfg: dict[str, object], group: str) -> dict[str, object]:
    h = stable_hash(cfg)[:12]
    return {"run_id": f"r-{h}", "sweep": SWEEP, "group": group, "config_hash": h, "engine": "llm"}


def raw_rows(rng: np.random.Generator, dtype: str, quant: str, batch: int, group: str) -> list[dict[str, object]]:
    tps1, tps8, ppl, kl, rss_mib, noise = SETTINGS[(dtype, quant)]
    tps = tps1 if batch == 1 else tps8
    if ((dtype, quant), batch) == NOISY:
        noise = 0.9
    cfg = config(dtype, quant, batch)
    rows = []
    for i in range(ITERS):
        latency = batch * NEW_TOKENS / tps * float(np.exp(rng.normal(0.0, noise)))
        ttft = latency * (0.06 + 0.02 * (batch == 8)) * float(np.exp(rng.normal(0.0, 0.05)))
        rows.append(
            {
                **ids(cfg, group),
                "status": "ok",
                "error": "",
                **cfg,
                "iteration": i,
                "latency_s": latency,
                "tokens_per_s": batch * NEW_TOKENS / latency,
                "ttft_s": ttft,
                "tpot_s": (latency - ttft) / (NEW_TOKENS - 1),
                "peak_allocated_bytes": np.nan,
                "peak_reserved_bytes": np.nan,
                "nvml_vram_bytes": np.nan,
                "peak_rss_bytes": float((rss_mib + 40 * (batch == 8)) * 2**20 + rng.integers(0, 2**20)),
                "perplexity": ppl,
                "kl_div_mean": kl,
                "top1_agreement": 1.0 - kl * 2,
                "greedy_match": 1.0 - kl * 3,
                "random_weights": False,
                **ENV,
            }
        )
    return rows


def _group_entry(summary: pd.DataFrame) -> dict[str, object]:
    # The runner's manifest lists each group; blaze_lab.sweep.collect reads only the groups listed here.
    return {
        "kind": "llm",
        "part": "llm",
        "notebook": "notebooks/llm_benchmark.ipynb",
        "run_ids": summary["run_id"].tolist(),
        "status": "done",
    }


def main() -> None:
    rng = np.random.default_rng(7)
    shutil.rmtree(OUT, ignore_errors=True)
    quality = ["perplexity", "kl_div_mean", "top1_agreement", "greedy_match", "random_weights"]
    counts = {"ok": 0, "unsupported": 0}
    groups: dict[str, dict[str, object]] = {}
    for dtype, quant in SETTINGS:
        group = f"g-{dtype}-{quant}"
        raw = pd.DataFrame([r for b in (1, 8) for r in raw_rows(rng, dtype, quant, b, group)])
        summary = summarize_frame(
            raw.drop(columns=["iteration"]),
            metrics=["latency_s", "tokens_per_s", "ttft_s", "tpot_s"],
            primary="latency_s",
            max_metrics=["peak_allocated_bytes", "peak_reserved_bytes", "nvml_vram_bytes", "peak_rss_bytes"],
        )
        raw = raw.drop(columns=quality)  # quality is per config (summary), not per iteration
        counts["ok"] += len(summary)
        groups[group] = _group_entry(summary)
        (OUT / group).mkdir(parents=True)
        summary.to_parquet(OUT / group / "summary.parquet", index=False)
        raw.to_parquet(OUT / group / "raw.parquet", index=False)
    dtype, quant, batch, error = UNSUPPORTED
    group = f"g-{dtype}-{quant}"
    cfg = config(dtype, quant, batch)
    row = {
        **ids(cfg, group),
        "status": "unsupported",
        "error": error,
        **cfg,
        "n": 0,
        "valid": False,
        "validity_reason": "not run",
        **ENV,
    }
    (OUT / group).mkdir(parents=True)
    order_columns(pd.DataFrame([row])).to_parquet(OUT / group / "summary.parquet", index=False)
    pd.DataFrame(columns=["run_id", "iteration"]).to_parquet(OUT / group / "raw.parquet", index=False)
    counts["unsupported"] += 1
    groups[group] = _group_entry(pd.DataFrame([row]))
    manifest = {
        "sweep": SWEEP,
        "fixture": "SYNTHETIC test data written by tests/data/make_sample.py (not a measurement)",
        "spec_path": "experiments/quickstart.yaml",
        "started": "2026-11-26T04:00:00+00:00",
        "ended": "2026-11-26T04:03:00+00:00",
        "git_sha": ENV["env.git_sha"],
        "env": ENV,
        "counts": counts,
        "groups": groups,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
