"""The demo's path on the real model: SmolLM2-135M measured by the LLM engine (fp32 and bf16, batch 1 and 2).

Runs when SmolLM2 is prepared (``blaze-lab models prepare smollm2-135m``; CI prepares it and sets
BLAZE_LAB_REQUIRE_SMOLLM2, so there it never skips).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from blaze_lab import LLMConfig, LLMEngine, MeasureSettings

pytestmark = [pytest.mark.smollm2, pytest.mark.slow]


def test_smollm2_quickstart_settings_measure_with_quality(smollm2_dir: Path) -> None:
    from blaze_lab.engines.llm import QualitySettings

    base = LLMConfig(model="smollm2-135m", prompt_tokens=8, new_tokens=4)
    configs = [base, base.replace(batch_size=2), base.replace(dtype="bf16")]
    quality = QualitySettings(window=64, max_eval_tokens=128, kl_tokens=32, greedy_prompts=1, greedy_tokens=4)
    engine = LLMEngine()
    # Bounded on a busy machine: one warm-up, exactly 3 calls, no CI-width target.
    measure = MeasureSettings(warmup=1, warmup_max=1, min_iters=3, max_iters=3, target_ci_rel=None)
    summary, raw = engine.benchmark(configs, measure=measure, quality=quality, progress=False)
    assert len(raw) and set(raw["run_id"]) == set(summary["run_id"])
    assert list(summary["status"]) == ["ok", "ok", "ok"], summary.get("error")
    assert (summary["tokens_per_s_mean"] > 0).all() and (summary["peak_rss_bytes"] > 100e6).all()
    fp32, _, bf16 = (summary.iloc[i] for i in range(3))
    # Real weights: a coherent model (random weights of this vocabulary would sit near exp(log 49152) ≈ 49,000).
    assert 2.0 < fp32["perplexity"] < 100.0
    assert fp32["kl_div_mean"] == pytest.approx(0.0, abs=1e-6) and fp32["top1_agreement"] == 1.0
    assert 0.0 < bf16["kl_div_mean"] < 0.1 and bf16["top1_agreement"] >= 0.8
    assert math.isfinite(bf16["perplexity"]) and abs(bf16["perplexity"] / fp32["perplexity"] - 1) < 0.1
