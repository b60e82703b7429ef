"""How long the groups of a sweep will take: from earlier runs of the same groups when stored, else a rough model.

Each sweep stores, per group, the wall time of its last execution and how many runs it measured (``seconds`` and
``measured`` in the manifest's group entry). A group's estimate is, in order:

1. **measured**: the same load-time group (same part name and load-time config) in any sweep folder under the results
   root: seconds per run of its latest execution × runs to do;
2. **model**: :data:`ROUGH_MODEL` — a kernel start and model load, plus seconds per run, per engine kind (set from
   the quickstart on a quiet 2-core CPU machine; an accelerator is faster, a larger model slower).

Time is spent per kind, not per run (a router run takes ~1 s, an LLM run tens of seconds), so the progress bar counts
estimated seconds, not runs: its ETA does not swing as the sweep moves from one kind to another.

Example:
    >>> rough_seconds("router", 12), rough_seconds("llm", 2)
    (11.0, 50.0)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from blaze_lab.sweep.collect import MANIFEST
from blaze_lab.sweep.plan import Group

# kind -> (seconds per kernel execution: start + model load, seconds per run). Unknown kinds: DEFAULT_MODEL.
ROUGH_MODEL: dict[str, tuple[float, float]] = {
    "llm": (10.0, 20.0),
    "diffusion": (10.0, 8.0),
    "router": (5.0, 0.5),
    "serving": (10.0, 30.0),
}
DEFAULT_MODEL = (10.0, 10.0)
MEASURED = "measured"
MODEL = "model"


def base_id(group_id: str) -> str:
    """A group id without its replication suffix (``llm-6a22-rep1`` -> ``llm-6a22``).

    >>> base_id("my-report-6a22-rep1"), base_id("my-report-6a22")
    ('my-report-6a22', 'my-report-6a22')
    """
    return re.sub(r"-rep\d+$", "", group_id)


def rough_seconds(kind: str, runs: int) -> float:
    """:data:`ROUGH_MODEL`'s seconds for one execution of a ``kind`` group measuring ``runs`` runs (0 for none)."""
    if runs <= 0:
        return 0.0
    start, per_run = ROUGH_MODEL.get(kind, DEFAULT_MODEL)
    return start + per_run * runs


def model_text(kinds: Sequence[str] | None = None) -> str:
    """The rough model in words (for ``kinds``, default all), for the dry run's footnote.

    >>> model_text(["router"])
    'rough model (2-core CPU) per kernel: router 5 s + 0.5 s/run'
    """
    chosen = list(dict.fromkeys(kinds)) if kinds is not None else list(ROUGH_MODEL)
    parts = [
        f"{kind} {start:g} s + {per:g} s/run"
        for kind in chosen
        for start, per in [ROUGH_MODEL.get(kind, DEFAULT_MODEL)]
    ]
    return "rough model (2-core CPU) per kernel: " + ", ".join(parts)


def stored_timings(results_root: str | Path) -> dict[str, float]:
    """Base group id -> seconds per run of its latest stored execution, over every sweep folder under the root
    (one or two levels deep, like ``blaze-lab ls``)."""
    root = Path(results_root)
    latest: dict[str, tuple[str, float]] = {}
    if not root.is_dir():
        return {}
    for manifest in [*root.glob(f"*/{MANIFEST}"), *root.glob(f"*/*/{MANIFEST}")]:
        try:
            data = json.loads(manifest.read_text())
            when = str(data.get("started") or "")
            entries = data.get("groups", {}).items()
        except (OSError, ValueError, AttributeError):
            continue  # an unreadable manifest gives no timings; `blaze-lab ls` reports it
        for gid, entry in entries:
            if not isinstance(entry, Mapping):
                continue
            seconds, measured = entry.get("seconds"), entry.get("measured")
            if not isinstance(seconds, int | float) or not isinstance(measured, int) or measured <= 0:
                continue
            base = base_id(gid)
            if base not in latest or when >= latest[base][0]:
                latest[base] = (when, float(seconds) / measured)
    return {gid: per_run for gid, (_, per_run) in latest.items()}


def estimates(
    plan: Sequence[Group], todo: Mapping[str, int], timings: Mapping[str, float]
) -> dict[str, tuple[float, str]]:
    """Group id -> (estimated seconds for its ``todo`` runs, ``"measured"`` or ``"model"``)."""
    out = {}
    for group in plan:
        n = todo.get(group.group_id, 0)
        per_run = timings.get(base_id(group.group_id))
        if per_run is not None:
            out[group.group_id] = (per_run * n, MEASURED)
        else:
            out[group.group_id] = (rough_seconds(group.kind, n), MODEL)
    return out


def duration_text(seconds: float) -> str:
    """``"45 s"``, ``"3.5 min"``, ``"1.2 h"``.

    >>> duration_text(45.2), duration_text(210), duration_text(7200)
    ('45 s', '3.5 min', '2.0 h')
    """
    if not math.isfinite(seconds):
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def source_text(sources: Sequence[str]) -> str:
    """Where a set of estimates came from, in words."""
    kinds = set(sources)
    if kinds == {MEASURED}:
        return "from earlier runs of these groups"
    if kinds == {MODEL}:
        return "rough model"
    if not kinds:
        return "nothing to run"
    return "earlier runs + rough model"


def timing_entry(seconds: float, measured: int) -> dict[str, Any]:
    """The manifest fields the next estimate reads."""
    return {"seconds": round(seconds, 3), "measured": measured}


__all__ = [
    "DEFAULT_MODEL",
    "MEASURED",
    "MODEL",
    "ROUGH_MODEL",
    "base_id",
    "duration_text",
    "estimates",
    "model_text",
    "rough_seconds",
    "source_text",
    "stored_timings",
    "timing_entry",
]
