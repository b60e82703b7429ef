"""LLM figures and the ``llm`` report section: throughput, latency, memory, quality, distributions, best configs.

Pure ``DataFrame -> Figure | DataFrame`` functions over the LLM summary frame (one row per config) and raw frame
(one row per iteration/request). Each raises :class:`~blaze_lab.errors.ReportError` when its columns are absent;
:func:`llm_sections` turns that into a note, so a sweep that measured less still gets a report.

Example:
    >>> from blaze_lab.report.llm_figures import llm_sections
    >>> items = llm_sections(summary, raw)              # doctest: +SKIP
    >>> [title for title, _ in items][:2]               # doctest: +SKIP
    ['Throughput', 'Latency']
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from blaze_lab.errors import ReportError
from blaze_lab.report.best import Objective, best_display, best_table, ci_objective, memory_objective
from blaze_lab.report.cdf import cdf_figure
from blaze_lab.report.figures import (
    ci_bars,
    ci_columns,
    multi_ci_bars,
    scatter_panels,
    scatter_with_front,
)
from blaze_lab.report.labels import (
    METRIC_NAMES,
    column_header,
    labels_of,
    with_labels,
)
from blaze_lab.report.rows import (
    has_values,
    numeric,
    ok_rows,
    require,
)
from blaze_lab.report.sections import Item, figure_item, note
from blaze_lab.report.tables import (
    table_figure,
)

MIB = 1024.0 * 1024.0
DEFAULT_KL_THRESHOLD = 0.05  # nats; below this the next-token distributions are near-identical to the reference
RAW_LATENCY_METRICS = (("latency_s", "Latency"), ("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("itl_s", "ITL"))


RANDOM_WEIGHTS_NOTE = (
    "Some configs ran with RANDOM weights: speed and memory are real for the architecture, but perplexity/KL "
    "measure numeric drift only, not language-model quality."
)


def random_weights(summary: pd.DataFrame) -> bool:
    """True when any row says ``random_weights`` (quality columns then mean numeric drift, not model quality)."""
    if "random_weights" not in summary.columns:
        return False
    return bool(summary["random_weights"].map(lambda v: v is True or v is np.True_ or v == 1).any())


def memory_column(df: pd.DataFrame) -> str:
    """``peak_allocated_bytes`` when any ok row has it (accelerator), else ``peak_rss_bytes`` (CPU process)."""
    rows = ok_rows(df)
    for col in ("peak_allocated_bytes", "peak_rss_bytes"):
        if has_values(rows, col):
            return col
    raise ReportError("memory: no values in peak_allocated_bytes or peak_rss_bytes")


def latency_stat(df: pd.DataFrame) -> str:
    """``p50`` when the frame has ``latency_s_p50``, else ``mean``."""
    return "p50" if has_values(ok_rows(df), "latency_s_p50") else "mean"


def throughput_bars(summary: pd.DataFrame) -> go.Figure:
    """Mean output tokens/s per config with the bootstrap 95% CI of the mean as asymmetric error bars."""
    return ci_bars(summary, "tokens_per_s", "mean", title="Throughput (mean tokens/s, 95% CI)", axis_title="tokens/s")


def latency_bars(summary: pd.DataFrame, stat: str | None = None) -> go.Figure:
    """Per-call latency per config: median with the CI of the median (or mean with its CI)."""
    stat = stat or latency_stat(summary)
    return ci_bars(summary, "latency_s", stat, title=f"Latency ({stat}, 95% CI)", axis_title=f"latency {stat} (s)")


def ttft_tpot_bars(summary: pd.DataFrame, stat: str = "mean") -> go.Figure:
    """TTFT, TPOT (and ITL when measured) per config in ms with CIs, one subplot each."""
    metrics = [("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("itl_s", "ITL")]
    return multi_ci_bars(
        summary,
        metrics,
        stat,
        title=f"Time to first token / per output token ({stat}, 95% CI)",
        scale=1000.0,
        unit="(ms)",
    )


def memory_latency_scatter(summary: pd.DataFrame) -> go.Figure:
    """Peak memory (MiB) vs latency; the Pareto frontier (minimize both) is marked as a line + highlighted points."""
    mem = memory_column(summary)
    stat = latency_stat(summary)
    value, low, high = ci_columns("latency_s", stat)
    return scatter_with_front(
        summary,
        value,
        mem,
        minimize=(True, True),
        title=f"Memory vs latency — {column_header(mem)} against latency {stat}; Pareto front ringed",
        x_title=f"latency {stat} (s)",
        y_title=column_header(mem),
        y_scale=1.0 / MIB,
        x_err=(low, high),
        y_timed=False,
    )


def quality_vs_speed(summary: pd.DataFrame) -> go.Figure:
    """Perplexity and mean KL divergence (vs the reference config) against mean tokens/s, one panel each.

    The Pareto front (max tokens/s, min quality loss) is ringed in each panel.
    """
    rows = ok_rows(summary)
    require(rows, ["tokens_per_s_mean"], "quality vs speed")
    candidates = (("perplexity", "perplexity"), ("kl_div_mean", "KL divergence vs reference (nats)"))
    panels = [(c, t, (0.0, None)) for c, t in candidates if has_values(rows, c)]
    if not panels:
        raise ReportError("quality vs speed: no values in column(s) perplexity, kl_div_mean")
    return scatter_panels(
        rows,
        "tokens_per_s_mean",
        panels,
        minimize=(False, True),
        title="Quality vs speed (lower is better; Pareto front ringed)",
        x_title="throughput, mean (tokens/s)",
        x_err=("tokens_per_s_ci_low", "tokens_per_s_ci_high"),
    )


def latency_cdf(summary: pd.DataFrame, raw: pd.DataFrame, metric: str = "latency_s") -> go.Figure:
    """Empirical CDF of a per-sample metric from the RAW frame, one line per ok config (labels from ``summary``)."""
    rows = ok_rows(summary)
    if "run_id" not in rows.columns:
        raise ReportError("latency distribution: summary has no run_id column")
    labels = pd.Series(labels_of(rows).to_numpy(), index=rows["run_id"].astype(str).to_numpy())
    raw = raw.assign(run_id=raw["run_id"].astype(str)) if "run_id" in raw.columns else raw
    title = dict(RAW_LATENCY_METRICS).get(metric) or METRIC_NAMES.get(metric, (metric, ""))[0].capitalize()
    unit, scale = ("s", 1.0) if metric == "latency_s" else ("ms", 1000.0)
    return cdf_figure(raw, metric, labels, title=f"{title} distribution (CDF per config)", scale=scale, unit=unit)


def llm_objectives(summary: pd.DataFrame, kl_threshold: float = DEFAULT_KL_THRESHOLD) -> list[Objective]:
    """Max tokens/s, min latency (p50 or mean), min peak memory, min perplexity, max tokens/s with KL under
    ``kl_threshold``."""
    rows = ok_rows(summary)
    lat = latency_stat(rows)
    kl_note = (
        "no config with kl_div_mean under the threshold"
        if has_values(rows, "kl_div_mean")
        else "kl_div_mean not measured"
    )
    throughput = ci_objective("max throughput", "tokens_per_s", "mean", True, "tokens/s")
    return [
        throughput,
        ci_objective(f"min latency {lat}", "latency_s", lat, False, "s"),
        memory_objective(rows),
        Objective("min perplexity", "perplexity", False),
        dataclasses.replace(
            throughput,
            name=f"max throughput with KL ≤ {kl_threshold:g}",
            where=lambda df: numeric(df, "kl_div_mean") <= kl_threshold,
            why_empty=kl_note,
        ),
    ]


def best_configs(summary: pd.DataFrame, kl_threshold: float = DEFAULT_KL_THRESHOLD) -> pd.DataFrame:
    """The best ok config per objective (:func:`llm_objectives`) and every config tied with it (overlapping 95%
    CIs: see :mod:`blaze_lab.report.best`). An objective without data has an empty config and a ``note``."""
    return best_table(summary, llm_objectives(summary, kl_threshold))


def best_config_table(summary: pd.DataFrame, kl_threshold: float = DEFAULT_KL_THRESHOLD) -> go.Figure:
    """Plotly Table of :func:`best_configs`."""
    return table_figure(best_configs(summary, kl_threshold), title="Best config per objective")


def llm_sections(summary: pd.DataFrame, raw: pd.DataFrame) -> list[tuple[str, Item]]:
    """The ``llm`` report section: every LLM figure that the frames support, a note for each that they don't.

    ``summary``/``raw`` are the LLM rows of a sweep (all statuses; non-ok rows are dropped from metric figures).
    """
    summary = with_labels(summary)
    items: list[tuple[str, Item]] = []
    if random_weights(summary):
        items.append(("Random weights", note(RANDOM_WEIGHTS_NOTE)))
    items += [
        ("Best config per objective", best_display(best_configs(summary))),
        figure_item("Throughput", throughput_bars, summary),
        figure_item("Latency", latency_bars, summary),
        figure_item("TTFT / TPOT", ttft_tpot_bars, summary),
        figure_item("Memory vs latency (Pareto)", memory_latency_scatter, summary),
        figure_item("Quality vs speed", quality_vs_speed, summary),
    ]
    present = [(m, t) for m, t in RAW_LATENCY_METRICS if m in raw.columns]
    if not present:
        items.append(figure_item("Latency distribution", latency_cdf, summary, raw))
    for metric, title in present:
        items.append(figure_item(f"{title} distribution", latency_cdf, summary, raw, metric))
    return items


__all__ = [
    "DEFAULT_KL_THRESHOLD",
    "best_config_table",
    "best_configs",
    "latency_bars",
    "latency_cdf",
    "llm_objectives",
    "llm_sections",
    "memory_column",
    "memory_latency_scatter",
    "quality_vs_speed",
    "random_weights",
    "throughput_bars",
    "ttft_tpot_bars",
]
