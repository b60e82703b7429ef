"""What the explorer shows per engine kind: config class, panel fields, choices, headline metrics, runner.

Each kind's :class:`Panel` is named by the ``explorer`` entry of its :class:`blaze_lab.kinds.Kind`;
:func:`panels` collects the panels of every registered kind that has one. Runners import their engine lazily, so
building the panel does not load torch before the first run, and share one engine per kind per process, so the
model cache keeps a loaded model between runs that only change run-time settings.

Example:
    >>> panels()["llm"].choices["quantization"][:2]
    ('none', 'bnb-8bit')
    >>> [label for _, label, _ in panels()["router"].metrics][:2]
    ['p50 latency (s)', 'p99 latency (s)']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

import blaze_lab.engines.diffusion.config as dc
import blaze_lab.engines.llm.config as lc
from blaze_lab.config import BaseConfig
from blaze_lab.metrics.timing import MeasureSettings
from blaze_lab.router import config as rc
from blaze_lab.router.faults import SCENARIOS

Runner = Callable[[Sequence[BaseConfig], Sequence[str], MeasureSettings], pd.DataFrame]

# Quality on the tiny models: enough tokens for perplexity / KL / greedy match, small enough to take < 1 s.
LLM_QUALITY: dict[str, Any] = {
    "window": 128,
    "max_eval_tokens": 256,
    "kl_tokens": 64,
    "greedy_prompts": 1,
    "greedy_tokens": 8,
}


@dataclasses.dataclass(frozen=True)
class Panel:
    """One engine kind in the explorer.

    Attributes:
        name: engine kind (the ``engine`` column and the column prefix).
        title: what the engine picker shows.
        config: the kind's config class.
        defaults: settings the explorer starts from (tiny models, short runs).
        fields: settings shown in the panel, in order.
        choices: field -> allowed values (from the config modules' constants).
        label_fields: fields naming a run when nothing differs between runs.
        metrics: (summary column, label, higher is better) shown in the table and compared.
        plot: (metric, stat, title) of the live figure.
        runner: (configs, run_ids, measure) -> summary rows.
        measure_extra: extra ``measure`` keys written to a saved experiment (e.g. the LLM quality settings).
    """

    name: str
    title: str
    config: type[BaseConfig]
    defaults: Mapping[str, Any]
    fields: tuple[str, ...]
    choices: Mapping[str, tuple[Any, ...]]
    label_fields: tuple[str, ...]
    metrics: tuple[tuple[str, str, bool], ...]
    plot: tuple[str, str, str]
    runner: Runner
    measure_extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)


_ENGINES: dict[str, Any] = {}  # kind -> engine instance, created on first run


def _run_llm(configs: Sequence[BaseConfig], run_ids: Sequence[str], measure: MeasureSettings) -> pd.DataFrame:
    from blaze_lab.engines.llm.engine import LLMEngine
    from blaze_lab.engines.llm.quality import QualitySettings

    engine = _ENGINES.setdefault("llm", LLMEngine())
    summary, _ = engine.benchmark(
        configs, measure=measure, quality=QualitySettings(**LLM_QUALITY), run_ids=run_ids, progress=False
    )
    return summary


def _run_diffusion(configs: Sequence[BaseConfig], run_ids: Sequence[str], measure: MeasureSettings) -> pd.DataFrame:
    from blaze_lab.engines.diffusion.engine import DiffusionEngine

    engine = _ENGINES.setdefault("diffusion", DiffusionEngine())
    summary, _ = engine.benchmark(configs, measure=measure, run_ids=run_ids, progress=False)
    return summary


def _run_router(configs: Sequence[BaseConfig], run_ids: Sequence[str], measure: MeasureSettings) -> pd.DataFrame:
    from blaze_lab.router.bench import benchmark_group

    runs = [{"run_id": r, "config": c.to_dict()} for r, c in zip(run_ids, configs, strict=True)]
    summary, _ = benchmark_group(runs, sweep="explore")
    return summary


LLM_PANEL = Panel(
    name="llm",
    title="LLM",
    config=lc.LLMConfig,
    defaults={"model": "random:tiny-llama", "prompt_tokens": 16, "new_tokens": 8},
    fields=(
        "model",
        "device",
        "dtype",
        "quantization",
        "amp",
        "attn_implementation",
        "cache_implementation",
        "torch_compile",
        "batch_size",
        "prompt_tokens",
        "new_tokens",
    ),
    choices={
        "device": lc.DEVICES,
        "dtype": lc.DTYPES,
        "quantization": lc.QUANTIZATIONS,
        "amp": lc.AMP_MODES,
        "attn_implementation": lc.ATTN_IMPLEMENTATIONS,
        "cache_implementation": lc.CACHE_IMPLEMENTATIONS,
    },
    label_fields=("dtype", "quantization", "batch_size"),
    metrics=(
        ("tokens_per_s_mean", "tokens/s", True),
        ("latency_s_mean", "latency (s)", False),
        ("ttft_s_mean", "TTFT (s)", False),
        ("tpot_s_mean", "TPOT (s)", False),
        ("peak_rss_bytes", "peak RSS (bytes)", False),
        ("perplexity", "perplexity", False),
        ("kl_div_mean", "KL vs fp32", False),
        ("top1_agreement", "top-1 agreement", True),
    ),
    plot=("tokens_per_s", "mean", "LLM throughput (tokens/s, 95% CI)"),
    runner=_run_llm,
    measure_extra={"quality": LLM_QUALITY},
)

DIFFUSION_PANEL = Panel(
    name="diffusion",
    title="diffusion",
    config=dc.DiffusionConfig,
    defaults={"model": "random:tiny-sd", "steps": 2, "height": 32, "width": 32},
    fields=(
        "model",
        "device",
        "scheduler",
        "dtype",
        "amp",
        "attention",
        "vae_slicing",
        "vae_tiling",
        "offload",
        "channels_last",
        "torch_compile",
        "steps",
        "height",
        "width",
        "batch_size",
    ),
    choices={
        "device": dc.DEVICES,
        "scheduler": dc.SCHEDULERS,
        "dtype": dc.DTYPES,
        "amp": dc.AMP_MODES,
        "attention": dc.ATTENTIONS,
        "offload": dc.OFFLOADS,
    },
    label_fields=("dtype", "attention", "offload", "batch_size"),
    metrics=(
        ("images_per_s_mean", "images/s", True),
        ("latency_s_mean", "latency (s)", False),
        ("step_latency_s_mean", "step latency (s)", False),
        ("peak_rss_bytes", "peak RSS (bytes)", False),
        ("psnr_db", "PSNR vs fp32 (dB)", True),
        ("ssim", "SSIM vs fp32", True),
    ),
    plot=("step_latency_s", "mean", "Diffusion step latency (s, 95% CI)"),
    runner=_run_diffusion,
)

ROUTER_PANEL = Panel(
    name="router",
    title="router simulation",
    config=rc.RouterExperimentConfig,
    defaults={"n_requests": 2000, "replicas": 4},
    fields=("strategy", "replicas", "heterogeneity", "load", "fault", "breaker", "hedge_delay_s", "n_requests"),
    choices={
        "strategy": rc.STRATEGY_NAMES,
        "fault": tuple(SCENARIOS),
        "breaker": ("on", "off"),
        "mode": rc.MODES,
    },
    label_fields=("strategy", "fault"),
    metrics=(
        ("latency_s_p50", "p50 latency (s)", False),
        ("latency_s_p99", "p99 latency (s)", False),
        ("throughput_rps", "throughput (req/s)", True),
        ("goodput_rps", "goodput (req/s)", True),
        ("slo_attainment", "SLO attainment", True),
        ("ok_rate", "ok rate", True),
    ),
    plot=("latency_s", "mean", "Router mean latency (s, 95% CI)"),
    runner=_run_router,
)


def panels() -> dict[str, Panel]:
    """kind name -> explorer panel, for every kind in :mod:`blaze_lab.kinds` that has one (in registry order)."""
    from blaze_lab import kinds

    out: dict[str, Panel] = {}
    for name, kind in kinds.KINDS.items():
        panel = kind.explorer_panel()
        if panel is not None:
            out[name] = panel
    return out


__all__ = ["DIFFUSION_PANEL", "LLM_PANEL", "LLM_QUALITY", "ROUTER_PANEL", "Panel", "Runner", "panels"]
