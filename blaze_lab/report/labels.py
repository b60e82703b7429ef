"""Config labels: the one formatter that names a config in the report, the CLI and the explorer.

A label shows only the config fields that differ between the rows being compared (``bf16 · quant=bnb-nf4 · bs8``),
with short field names (:data:`FIELD_SHORT`). Pure functions over frames and rows: no plotting, no I/O.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"llm.dtype": ["fp32", "bf16"], "llm.batch_size": [8, 8]})
    >>> config_labels(df).tolist()
    ['fp32', 'bf16']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from blaze_lab.report.rows import config_columns, is_missing

# Short names for config fields in labels: "bs8" reads better than "batch_size=8".
FIELD_SHORT: dict[str, str] = {
    "batch_size": "bs",
    "max_new_tokens": "out",
    "new_tokens": "out",
    "prompt_tokens": "in",
    "prompt_len": "in",
    "num_inference_steps": "steps",
    "steps": "steps",
    "quantization": "quant",
    "attn_implementation": "attn",
    "attention": "attn",
    "images_per_prompt": "batch",
    "replicas": "replicas",
    "torch_compile": "compile",
    "heterogeneity": "hetero",
}
# Fields whose values name themselves (fp32, smollm2-135m, round_robin): shown bare. Every other field is shown as
# ``name=value`` for EVERY value, so "quant=none" sits beside "quant=bnb-8bit" and "offload=model" never reads as a
# model name.
BARE_FIELDS = frozenset({"dtype", "model", "strategy"})
# Count fields shown as prefix+value with no separator (numbers that read as one token: bs8, steps20).
_GLUED = {"bs", "steps", "out", "in", "batch"}

LABEL_SEPARATOR = " · "
LABEL = "config"  # column added by with_labels()


def format_field(field: str, value: Any) -> str:
    """One field of a label: ``fp32``, ``bs8``, ``quant=none``, ``offload=model``, ``vae_slicing=off``.

    >>> [format_field(f, v) for f, v in [("llm.dtype", "bf16"), ("llm.batch_size", 8.0),
    ...                                  ("llm.quantization", "bnb-8bit"), ("diffusion.vae_slicing", False)]]
    ['bf16', 'bs8', 'quant=bnb-8bit', 'vae_slicing=off']
    """
    name = field.split(".", 1)[-1]
    short = FIELD_SHORT.get(name, name)
    if isinstance(value, bool | np.bool_):
        return f"{short}={'on' if value else 'off'}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int | np.integer | float | np.floating):
        return f"{short}{value}" if short in _GLUED else f"{short}={value:g}"
    text = str(value) or "none"
    if name == "model" and "/" in text:
        text = text.rstrip("/").rsplit("/", 1)[-1]  # a local path or hub id: its last part names it
    return text if name in BARE_FIELDS else f"{short}={text}"


def varying_columns(df: pd.DataFrame, columns: Sequence[str] | None = None) -> list[str]:
    """Config columns whose value differs between rows of ``df`` (missing counts as a value)."""
    cols = list(columns) if columns is not None else config_columns(df)
    return [c for c in cols if c in df.columns and df[c].astype(str).nunique(dropna=False) > 1]


def config_label(row: pd.Series | dict[str, Any], fields: Sequence[str] | None = None) -> str:
    """A readable label for one config, e.g. ``"bf16 · quant=bnb-nf4 · bs8"`` (fields by :func:`format_field`).

    ``fields`` are the config columns to show (normally those that vary across the frame, see
    :func:`config_labels`); by default every dotted config field of the row. Missing values are skipped.

    >>> config_label({"llm.dtype": "bf16", "llm.quantization": "bnb-nf4", "llm.batch_size": 8})
    'bf16 · quant=bnb-nf4 · bs8'
    >>> config_label({"llm.dtype": "fp32", "llm.quantization": "none", "llm.torch_compile": True})
    'fp32 · quant=none · compile=on'
    """
    items = dict(row)
    names = (
        list(fields) if fields is not None else [k for k in items if "." in str(k) and not str(k).startswith("env.")]
    )
    parts = [format_field(f, items[f]) for f in names if f in items and not is_missing(items[f])]
    return LABEL_SEPARATOR.join(parts) if parts else "(default)"


def config_labels(df: pd.DataFrame) -> pd.Series:
    """One label per row showing only the config fields that vary (per engine kind when the frame mixes kinds).

    Duplicate labels (configs that differ only in fields outside the dotted columns) get ``#2``, ``#3`` … so bars
    never merge.

    >>> df = pd.DataFrame({"llm.dtype": ["fp32", "bf16"], "llm.model": ["m", "m"]})
    >>> config_labels(df).tolist()
    ['fp32', 'bf16']
    """
    labels = pd.Series("", index=df.index, dtype=object)
    if df.empty:
        return labels
    groups = df.groupby(df["engine"].astype(str), sort=False) if "engine" in df.columns else [("", df)]
    for kind, sub in groups:
        cols = [c for c in config_columns(sub) if c.startswith(f"{kind}.")] or [
            c for c in config_columns(sub) if sub[c].notna().any()
        ]
        # A field constant within this kind (but not across kinds) is not news: compare within the group.
        fields = varying_columns(sub, cols) or [c for c in cols if sub[c].notna().any()]
        for idx, row in sub.iterrows():
            labels[idx] = config_label(row, fields)
    seen: dict[str, int] = {}
    for idx, label in labels.items():
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[idx] = f"{label} #{seen[label]}"
    return labels


def with_labels(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``config`` column of :func:`config_labels` (kept when already there).

    Label a whole engine frame once, before filtering, so every figure of a report names a config the same way.
    """
    if LABEL in df.columns:
        return df
    return df.assign(**{LABEL: config_labels(df)})


def labels_of(df: pd.DataFrame) -> pd.Series:
    """The ``config`` column when present (see :func:`with_labels`), else :func:`config_labels` of ``df``."""
    if LABEL in df.columns:
        return df[LABEL].astype(str)
    return config_labels(df)


# Metric column roots -> (name a reader knows, unit). Units in every header and axis title come from here.
METRIC_NAMES: dict[str, tuple[str, str]] = {
    "tokens_per_s": ("throughput", "tokens/s"),
    "images_per_s": ("throughput", "images/s"),
    "latency_s": ("latency", "s"),
    "step_latency_s": ("per-step latency", "s"),
    "ttft_s": ("TTFT", "s"),
    "tpot_s": ("TPOT", "s"),
    "itl_s": ("ITL", "s"),
    "peak_allocated_bytes": ("peak allocated memory", "MiB"),
    "peak_reserved_bytes": ("peak reserved memory", "MiB"),
    "peak_rss_bytes": ("peak RSS", "MiB"),
    "perplexity": ("perplexity", ""),
    "kl_div_mean": ("KL vs reference", "nats"),
    "top1_agreement": ("top-1 agreement", "fraction"),
    "psnr_db": ("PSNR vs reference", "dB"),
    "ssim": ("SSIM vs reference", ""),
    "goodput_rps": ("goodput", "req/s"),
    "slo_attainment": ("SLO attainment", "fraction"),
    "n": ("samples", "n"),
}
_STATS = {"mean": "mean", "p50": "p50", "p90": "p90", "p99": "p99", "median": "median"}


def column_header(column: str) -> str:
    """A table header with its unit: ``tokens_per_s_mean`` -> ``throughput mean (tokens/s)``.

    >>> [column_header(c) for c in ("tokens_per_s_mean", "latency_s_p99", "peak_rss_bytes", "ssim", "odd_col")]
    ['throughput mean (tokens/s)', 'latency p99 (s)', 'peak RSS (MiB)', 'SSIM vs reference', 'odd col']
    """
    root, stat = column, ""
    head, _, tail = column.rpartition("_")
    if tail in _STATS and head in METRIC_NAMES:
        root, stat = head, tail
    if root not in METRIC_NAMES:
        return column.replace("_", " ")
    name, unit = METRIC_NAMES[root]
    text = f"{name} {stat}".strip()
    return f"{text} ({unit})" if unit else text


__all__ = [
    "BARE_FIELDS",
    "FIELD_SHORT",
    "LABEL",
    "LABEL_SEPARATOR",
    "METRIC_NAMES",
    "column_header",
    "config_label",
    "config_labels",
    "format_field",
    "labels_of",
    "varying_columns",
    "with_labels",
]
