"""Human reasons for rows that did not produce measurements (``status`` unsupported or error).

An engine records the library's own words (``torchao Int4WeightOnlyConfig: ImportError: Requires mslk >= 1.0.0``);
a reader wants to know *why* in plain terms. :func:`human_reason` tries, in order:

1. the device capability rules (:mod:`blaze_lab.explorer.capabilities`), evaluated for the device the row ran on —
   the same sentence the explorer shows beside a disabled choice ("no CPU kernel");
2. a small explicit table of known library messages (:data:`KNOWN_MESSAGES`);
3. the recorded text itself, cut to its first line.

The report shows the human reason and keeps the library text in a ``detail`` column.

Example:
    >>> row = {"engine": "llm", "status": "unsupported", "env.device": "cpu",
    ...        "llm.quantization": "torchao-int4-weight-only", "error": "ImportError: Requires mslk >= 1.0.0"}
    >>> human_reason(row)
    'needs an accelerator (torchao int4 weight-only has no CPU kernel); this device is CPU-only'
    >>> human_reason({"engine": "llm", "error": "OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB"})
    'out of accelerator memory at this setting'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from blaze_lab.report.rows import is_missing

# (pattern in the library text, human reason; ``{0}`` is the pattern's first group). First match wins.
KNOWN_MESSAGES: tuple[tuple[str, str], ...] = (
    (r"Requires mslk", "needs the mslk kernel package (torchao int4 kernels), which is not installed here"),
    (r"out of memory|OutOfMemoryError", "out of accelerator memory at this setting"),
    (r"No module named '([\w.]+)'", "the {0} package is not installed"),
    (r"no CUDA device|CUDA is not available|Torch not compiled with CUDA", "no CUDA device visible on this machine"),
    (r"has no continuous batching", "this model class has no continuous batching in the installed transformers"),
    (r"needs an accelerator|onload", "needs an accelerator; this device is CPU-only"),
    (r"[Tt]imed? ?out", "the run timed out"),
)
MAX_REASON_CHARS = 160


def _text(value: Any) -> str:
    return "" if is_missing(value) else str(value).strip()


def _capability_reason(row: Mapping[str, Any]) -> str:
    kind = _text(row.get("engine"))
    if not kind:
        return ""
    from blaze_lab.explorer import capabilities  # the rules the explorer shows beside a disabled choice
    device_name = _text(row.get("env.device")) or "cpu"
    accelerator = device_name not in ("cpu", "mps")
    device = capabilities.Device(accelerator=accelerator, name=_text(row.get("env.gpu_name")) or device_name)
    prefix = f"{kind}."
    settings = {k[len(prefix) :]: v for k, v in row.items() if str(k).startswith(prefix) and not is_missing(v)}
    requested = settings.get("device", "auto")
    for field, value in settings.items():
        try:
            verdict = capabilities.verdict(kind, field, value, device, requested)
        except (TypeError, ValueError):  # an unhashable or odd value: no rule can match it
            continue
        # Package rules look at THIS machine's installs, not the one that ran: only device rules are evidence.
        if not verdict.allowed and "not installed" not in verdict.reason:
            return verdict.reason
    return ""


def human_reason(row: Mapping[str, Any]) -> str:
    """Why a row has no measurements, in plain words (see the module doc for the order of sources)."""
    found = _capability_reason(row)
    if found:
        return found
    detail = _text(row.get("error"))
    for pattern, reason in KNOWN_MESSAGES:
        match = re.search(pattern, detail)
        if match:
            return reason.format(*match.groups())
    if not detail:
        return f"status {_text(row.get('status')) or 'unknown'}, no error recorded"
    first = detail.splitlines()[0]
    return first if len(first) <= MAX_REASON_CHARS else first[: MAX_REASON_CHARS - 1] + "…"


__all__ = ["KNOWN_MESSAGES", "human_reason"]
