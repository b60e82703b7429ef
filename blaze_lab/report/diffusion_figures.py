"""Diffusion figures and the ``diffusion`` report section: per-step latency, stage split, memory vs latency (Pareto),
PSNR/SSIM vs speed, per-step latency distribution, and an image grid (one thumbnail per config, same seed).

Pure ``DataFrame -> Figure | str`` functions over the diffusion summary frame (one row per config) and raw frame (one
row per pipeline call). The image grid is HTML with base64 ``<img>`` tags built from the ``thumbnail_png`` bytes
each summary row carries, so the report stays one self-contained file (no image files to ship beside it).

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"engine": ["diffusion"] * 2, "diffusion.attention": ["sdpa", "sliced"],
    ...                    "status": ["ok", "ok"], "step_latency_s_mean": [0.05, 0.055],
    ...                    "step_latency_s_ci_low": [0.049, 0.054], "step_latency_s_ci_high": [0.051, 0.056]})
    >>> [round(v, 1) for v in step_latency_bars(df).data[0].x]
    [50.0, 55.0]
"""

from __future__ import annotations

import base64
import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from blaze_lab.errors import ReportError
from blaze_lab.report.axes import layout
from blaze_lab.report.best import best_display, best_table, diffusion_objectives
from blaze_lab.report.figures import (
    ci_bars,
    scatter_panels,
)
from blaze_lab.report.labels import (
    labels_of,
    with_labels,
)

# Memory vs latency is the same figure for every engine kind (columns latency_s_* and peak memory): one definition.
from blaze_lab.report.llm_figures import (
    latency_cdf,
    latency_stat,
    memory_latency_scatter,
    random_weights,
)
from blaze_lab.report.rows import (
    has_values,
    numeric,
    ok_rows,
    require,
)
from blaze_lab.report.sections import Item, figure_item, note

STAGES = (("text_encode_s", "text encode"), ("denoise_s", "denoise"), ("vae_decode_s", "VAE decode"))
RANDOM_WEIGHTS_NOTE = (
    "Some configs ran with RANDOM weights: speed and memory are real for the architecture, but PSNR/SSIM "
    "measure numeric drift between settings, not visual quality (the images are noise)."
)
PSNR_IDENTICAL_DB = 100.0
"""Where identical images (PSNR = inf) are drawn on the PSNR axis."""


def step_latency_bars(summary: pd.DataFrame, stat: str = "mean") -> go.Figure:
    """Per-step latency (ms) per config, pooled over every step of every measured call, with its 95% CI."""
    return ci_bars(
        summary,
        "step_latency_s",
        stat,
        title=f"Per-step latency ({stat}, 95% CI, pooled over steps)",
        axis_title=f"step latency {stat} (ms)",
        scale=1000.0,
    )


def latency_bars(summary: pd.DataFrame) -> go.Figure:
    """Per-call latency per config (median with the CI of the median, or mean with its CI)."""
    stat = latency_stat(summary)
    return ci_bars(summary, "latency_s", stat, title=f"Call latency ({stat}, 95% CI)", axis_title=f"latency {stat} (s)")


def stage_breakdown(summary: pd.DataFrame) -> go.Figure:
    """Stacked horizontal bars: mean text-encode, denoise and VAE-decode time per config (each measured directly)."""
    rows = ok_rows(summary)
    require(rows, ["denoise_s_mean"], "stage breakdown")
    labels = labels_of(rows).tolist()
    fig = go.Figure()
    for metric, name in STAGES:
        values = numeric(rows, f"{metric}_mean") * 1000.0
        if values.notna().any():
            fig.add_trace(go.Bar(y=labels, x=values.fillna(0.0).tolist(), name=name, orientation="h"))
    return layout(
        fig,
        "Where a call's time goes (mean ms per stage)",
        barmode="stack",
        xaxis_title="time per call (ms)",
        yaxis={"autorange": "reversed"},
        height=int(170 + 34 * max(len(labels), 2)),
        legend={"orientation": "h", "y": -0.25},
    )


def quality_vs_speed(summary: pd.DataFrame) -> go.Figure:
    """PSNR (dB) and SSIM against the reference vs images/s, one panel each, Pareto front (max both) ringed.

    Identical images (PSNR = inf) are drawn at :data:`PSNR_IDENTICAL_DB`. SSIM cannot pass 1 and its axis spans at
    least 2% (values 0.9999997 and 1.0 are the same image for a reader, and must look it).
    """
    rows = ok_rows(summary)
    require(rows, ["images_per_s_mean"], "quality vs speed")
    candidates = (("psnr_db", "PSNR vs reference (dB)", (0.0, None)), ("ssim", "SSIM vs reference", (None, 1.0)))
    panels = [(c, t, b) for c, t, b in candidates if has_values(rows, c)]
    if not panels:
        raise ReportError("quality vs speed: no values in column(s) psnr_db, ssim")
    shown = rows.assign(psnr_db=numeric(rows, "psnr_db").replace(math.inf, PSNR_IDENTICAL_DB))
    return scatter_panels(
        shown,
        "images_per_s_mean",
        panels,
        minimize=(False, False),
        title=f"Quality vs speed (higher is better; identical images drawn at {PSNR_IDENTICAL_DB:g} dB)",
        x_title="throughput, mean (images/s)",
        x_err=("images_per_s_ci_low", "images_per_s_ci_high"),
    )


def step_latency_cdf(summary: pd.DataFrame, raw: pd.DataFrame) -> go.Figure:
    """Empirical CDF of every denoising step's latency, one line per ok config."""
    return latency_cdf(summary, raw, "step_latency_s")


def _thumbnail_src(value: object) -> str | None:
    if isinstance(value, bytes | bytearray | memoryview) and len(value):
        return "data:image/png;base64," + base64.b64encode(bytes(value)).decode("ascii")
    return None


def image_grid_html(summary: pd.DataFrame, size_px: int = 128) -> str:
    """One thumbnail per config (same seed and prompt), labelled with the config label, PSNR and SSIM.

    Thumbnails come from the ``thumbnail_png`` column (PNG bytes) and are embedded as base64 ``<img>`` tags.
    Rows without a thumbnail (status ≠ ok) are shown as a grey tile with their status.
    """
    if "thumbnail_png" not in summary.columns:
        raise ReportError("image grid: no thumbnail_png column (rows measured before images were kept)")
    rows = with_labels(summary)
    labels = labels_of(rows)
    tiles = []
    for idx, row in rows.iterrows():
        src = _thumbnail_src(row.get("thumbnail_png"))
        label = html.escape(str(labels[idx]))
        if src is None:
            status = html.escape(str(row.get("status", "")))
            body = (
                f'<div style="width:{size_px}px;height:{size_px}px;background:#eee;display:flex;'
                f'align-items:center;justify-content:center;color:#888">{status}</div>'
            )
            caption = label
        else:
            body = (
                f'<img src="{src}" alt="{label}" width="{size_px}" height="{size_px}" '
                'style="image-rendering:pixelated;object-fit:contain">'
            )
            caption = f"{label}<br>{_quality_caption(row)}"
        tiles.append(
            f'<figure style="margin:4px;width:{size_px + 8}px;font-size:11px;text-align:center">'
            f"{body}<figcaption>{caption}</figcaption></figure>"
        )
    if not tiles:
        raise ReportError("image grid: no rows")
    return '<div class="image-grid" style="display:flex;flex-wrap:wrap">' + "".join(tiles) + "</div>"


def _quality_caption(row: pd.Series) -> str:
    psnr = pd.to_numeric(pd.Series([row.get("psnr_db")]), errors="coerce").iloc[0]
    ssim = pd.to_numeric(pd.Series([row.get("ssim")]), errors="coerce").iloc[0]
    parts = []
    if not np.isnan(psnr):
        parts.append("PSNR ∞" if np.isinf(psnr) else f"PSNR {psnr:.1f} dB")
    if not np.isnan(ssim):
        parts.append(f"SSIM {ssim:.3f}")
    return html.escape(" · ".join(parts)).replace("∞", "&infin;")


def diffusion_sections(summary: pd.DataFrame, raw: pd.DataFrame) -> list[tuple[str, Item]]:
    """The ``diffusion`` report section: every figure the frames support, a note for each they don't."""
    summary = with_labels(summary)
    items: list[tuple[str, Item]] = []
    if random_weights(summary):
        items.append(("Random weights", note(RANDOM_WEIGHTS_NOTE)))
    items += [
        ("Best config per objective", best_display(best_table(summary, diffusion_objectives(summary)))),
        figure_item("Per-step latency", step_latency_bars, summary),
        figure_item("Call latency", latency_bars, summary),
        figure_item("Stage breakdown", stage_breakdown, summary),
        figure_item("Memory vs latency (Pareto)", memory_latency_scatter, summary),
        figure_item("PSNR / SSIM vs speed", quality_vs_speed, summary),
        figure_item("Per-step latency distribution", step_latency_cdf, summary, raw),
        figure_item("Images (same seed and prompt)", image_grid_html, summary),
    ]
    return items


__all__ = [
    "PSNR_IDENTICAL_DB",
    "diffusion_sections",
    "image_grid_html",
    "latency_bars",
    "memory_latency_scatter",
    "quality_vs_speed",
    "stage_breakdown",
    "step_latency_bars",
    "step_latency_cdf",
]
