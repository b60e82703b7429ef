"""Diffusion figures on small synthetic frames (unit-test fixtures, not measurements)."""

from __future__ import annotations

import base64
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from blaze_lab.engines.diffusion.quality import png_bytes
from blaze_lab.errors import ReportError
from blaze_lab.report.diffusion_figures import (
    PSNR_IDENTICAL_DB,
    diffusion_sections,
    image_grid_html,
    memory_latency_scatter,
    quality_vs_speed,
    stage_breakdown,
    step_latency_bars,
)
from blaze_lab.report.html import build_report
from blaze_lab.report.sections import report_sections


def _stats(prefix: str, mean: float) -> dict[str, float]:
    return {
        f"{prefix}_mean": mean,
        f"{prefix}_p50": mean,
        f"{prefix}_ci_low": mean * 0.95,
        f"{prefix}_ci_high": mean * 1.05,
        f"{prefix}_median_ci_low": mean * 0.9,
        f"{prefix}_median_ci_high": mean * 1.1,
    }


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    thumb = png_bytes(np.full((8, 8, 3), 200, dtype=np.uint8))
    rows, raw = [], []
    specs = [  # run_id, attention, vae_slicing, step s, latency s, rss, psnr, ssim
        ("a", "sdpa", False, 0.050, 0.25, 900e6, math.inf, 1.0),
        ("b", "sliced", False, 0.056, 0.28, 700e6, 80.0, 0.9999),
        ("c", "sdpa", True, 0.051, 0.27, 600e6, math.inf, 1.0),
    ]
    for run_id, attn, vae, step, lat, rss, psnr, ssim in specs:
        rows.append(
            {
                "run_id": run_id,
                "engine": "diffusion",
                "status": "ok",
                "error": "",
                "valid": True,
                "n": 3,
                "diffusion.attention": attn,
                "diffusion.vae_slicing": vae,
                "diffusion.offload": "none",
                "random_weights": True,
                **_stats("step_latency_s", step),
                **_stats("latency_s", lat),
                **_stats("images_per_s", 1 / lat),
                **_stats("text_encode_s", 0.02),
                **_stats("denoise_s", lat - 0.05),
                **_stats("vae_decode_s", 0.03),
                "peak_rss_bytes": rss,
                "psnr_db": psnr,
                "ssim": ssim,
                "thumbnail_png": thumb,
            }
        )
        raw += [{"run_id": run_id, "step_latency_s": [step, step * 1.1]} for _ in range(3)]
    rows.append(
        {
            "run_id": "d",
            "engine": "diffusion",
            "status": "unsupported",
            "error": "requires accelerator",
            "diffusion.attention": "sdpa",
            "diffusion.vae_slicing": False,
            "diffusion.offload": "model",
            "n": 0,
            "valid": False,
        }
    )
    return pd.DataFrame(rows), pd.DataFrame(raw)


def test_step_latency_bars_in_ms_with_ci(frames) -> None:
    fig = step_latency_bars(frames[0])
    assert [round(v, 3) for v in fig.data[0].x] == [50.0, 56.0, 51.0]
    assert fig.data[0].error_x.array[0] == pytest.approx(2.5)


def test_stage_breakdown_stacks_three_stages(frames) -> None:
    fig = stage_breakdown(frames[0])
    assert [t.name for t in fig.data] == ["text encode", "denoise", "VAE decode"]
    assert fig.layout.barmode == "stack"


def test_memory_latency_pareto_front(frames) -> None:
    fig = memory_latency_scatter(frames[0])
    front = next(t for t in fig.data if t.name == "Pareto-optimal")
    assert len(front.x) == 2  # a (fastest) and c (least memory); b is dominated by c


def test_quality_vs_speed_draws_identical_images_at_the_cap(frames) -> None:
    fig = quality_vs_speed(frames[0])
    ys = [y for t in fig.data if t.mode and "markers" in t.mode and t.xaxis == "x" for y in t.y]
    assert PSNR_IDENTICAL_DB in ys and 80.0 in ys and all(math.isfinite(y) for y in ys)


def test_image_grid_embeds_base64_pngs_and_marks_failed_rows(frames) -> None:
    page = image_grid_html(frames[0])
    assert page.count('src="data:image/png;base64,') == 3 and "unsupported" in page
    encoded = page.split('src="data:image/png;base64,')[1].split('"')[0]
    assert base64.b64decode(encoded).startswith(b"\x89PNG")
    assert "PSNR &infin;" in page and "PSNR 80.0 dB" in page
    with pytest.raises(ReportError):
        image_grid_html(frames[0].drop(columns=["thumbnail_png"]))


def test_section_is_registered_and_renders_in_the_report(frames) -> None:
    summary, raw = frames
    items = dict(diffusion_sections(summary, raw))
    assert isinstance(items["Per-step latency distribution"], go.Figure)
    assert "RANDOM weights" in items["Random weights"]
    assert "diffusion" in report_sections(summary, raw)
    page = build_report(summary, raw, {"sweep": "t"})
    assert "Images (same seed and prompt)" in page and "data:image/png;base64," in page
