"""The ``llm`` kind's notebook entry point: measure one load-time group of runs with an :class:`LLMEngine`.

Example:
    >>> runs = [{"run_id": "r1", "config": {"model": "random:tiny-llama", "new_tokens": 4}}]
    >>> summary, raw = benchmark_group(runs, measure={"min_iters": 2})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.engines.llm.engine import LLMEngine
from blaze_lab.engines.llm.quality import QualitySettings
from blaze_lab.metrics.timing import MeasureSettings


def benchmark_group(
    runs: Sequence[Mapping[str, Any]],
    reference: Mapping[str, Any] | None = None,
    measure: Mapping[str, Any] | None = None,
    sweep: str = "adhoc",
    group: str = "g0",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Notebook entry point: ``runs`` = [{"run_id", "config"}] of one load-time group → (summary, raw)."""
    configs = [LLMConfig.from_dict(r["config"]) for r in runs]
    quality = QualitySettings(**dict((measure or {}).get("quality", {})))
    measure_settings = MeasureSettings.from_dict({k: v for k, v in (measure or {}).items() if k != "quality"})
    ref = LLMConfig.from_dict(reference) if reference else None
    return LLMEngine().benchmark(
        configs,
        reference=ref,
        measure=measure_settings,
        quality=quality,
        run_ids=[r["run_id"] for r in runs],
        extra={"sweep": sweep, "group": group},
    )


__all__ = ["benchmark_group"]
