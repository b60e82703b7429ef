"""Small synthetic frames for the report tests (unit-test fixtures, not measurements)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _stats(prefix: str, values: list[float]) -> dict[str, float]:
    mean = float(np.mean(values))
    return {
        f"{prefix}_mean": mean,
        f"{prefix}_p50": float(np.median(values)),
        f"{prefix}_ci_low": mean * 0.95,
        f"{prefix}_ci_high": mean * 1.10,
        f"{prefix}_median_ci_low": float(np.median(values)) * 0.9,
        f"{prefix}_median_ci_high": float(np.median(values)) * 1.2,
    }


@pytest.fixture
def summary() -> pd.DataFrame:
    """Three ok LLM configs (one flagged invalid) and one unsupported row."""
    rows = []
    specs = [
        ("r1", "fp32", "none", 8, 90.0, 2.8, 1200e6, 10.8, 0.0, True),
        ("r2", "bf16", "none", 8, 170.0, 1.5, 800e6, 10.85, 0.002, True),
        ("r3", "bf16", "bnb-nf4", 8, 150.0, 1.7, 500e6, 12.3, 0.09, False),
    ]
    for run_id, dtype, quant, bs, tps, lat, rss, ppl, kl, valid in specs:
        rows.append(
            {
                "run_id": run_id,
                "sweep": "t",
                "engine": "llm",
                "status": "ok",
                "error": "",
                "llm.model": "smollm2-135m",
                "llm.dtype": dtype,
                "llm.quantization": quant,
                "llm.batch_size": bs,
                **_stats("tokens_per_s", [tps]),
                **_stats("latency_s", [lat]),
                **_stats("ttft_s", [lat * 0.05]),
                **_stats("tpot_s", [lat / 40]),
                "n": 10,
                "valid": valid,
                "validity_reason": "" if valid else "cv=0.8 > 0.5",
                "peak_allocated_bytes": np.nan,
                "peak_rss_bytes": rss,
                "perplexity": ppl,
                "kl_div_mean": kl,
                "env.device": "cpu",
                "env.torch": "2.13.0",
            }
        )
    rows.append(
        {
            "run_id": "r4",
            "sweep": "t",
            "engine": "llm",
            "status": "unsupported",
            "error": "torchao int4: no CPU packing format",
            "llm.model": "smollm2-135m",
            "llm.dtype": "fp32",
            "llm.quantization": "torchao-int4-weight-only",
            "llm.batch_size": 8,
            "n": 0,
            "valid": False,
            "validity_reason": "not run",
            "env.device": "cpu",
            "env.torch": "2.13.0",
        }
    )
    return pd.DataFrame(rows)


@pytest.fixture
def raw() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for run_id, base in (("r1", 2.8), ("r2", 1.5), ("r3", 1.7)):
        for i in range(5):
            lat = base * float(np.exp(rng.normal(0, 0.05)))
            rows.append(
                {
                    "run_id": run_id,
                    "engine": "llm",
                    "iteration": i,
                    "latency_s": lat,
                    "ttft_s": lat * 0.05,
                    "tpot_s": lat / 40,
                }
            )
    return pd.DataFrame(rows)
