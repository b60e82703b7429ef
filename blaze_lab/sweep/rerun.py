"""Which stored rows a sweep trusts on resume: the measurement-code fingerprint and the rerun flags.

Every summary row the driver stores carries :data:`CODE_COLUMN`, the fingerprint of the code that measured it
(:func:`code_fingerprint`: ``blaze_lab.__version__`` + a hash of the sources that take or shape measurements). On
resume a run is skipped only when its stored row was measured by the *current* code and the :class:`Rerun` policy
trusts its outcome; every other run is measured again and :func:`verdicts` says why ("other code", "invalid" ...),
so the CLI can say so instead of silently reusing old numbers.

The fingerprint is not part of the run id on purpose: run ids stay stable across commits (``blaze-lab compare``
and the report name runs by them), while the stored fingerprint still refuses rows of other code.

Example:
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"run_id": ["a", "b", "c"], "status": ["ok", "ok", "error"], "valid": [True, False, None],
    ...                      "n": [10, 1, 0], "measure_code": ["v1", "v1", "v1"]})
    >>> verdicts(rows, ["a", "b", "c", "d"], Rerun(), "v1")
    {'a': 'complete', 'b': 'complete', 'c': 'error', 'd': 'missing'}
    >>> verdicts(rows, ["a", "b"], Rerun(rerun_invalid=True), "v2")
    {'a': 'other code', 'b': 'other code'}
    >>> verdicts(rows, ["a", "b"], Rerun(rerun_invalid=True), "v1")
    {'a': 'complete', 'b': 'invalid'}
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

import blaze_lab

CODE_COLUMN = "measure_code"
# The parts of blaze_lab whose code takes or shapes a measurement (engines, timing and statistics, serving, routing,
# replicas, load generation, caches, model building, bundled prompts, config classes and the group dispatch).
# The report, CLI, explorer and the sweep driver itself are left out: changing them changes no stored number.
MEASUREMENT_SOURCES = (
    "engines",
    "metrics",
    "serving",
    "router",
    "replicas",
    "load",
    "cache",
    "models",
    "data",
    "kinds.py",
    "config.py",
    "clock.py",
    "sweep/group.py",
)
PACKAGE_ROOT = Path(blaze_lab.__file__).resolve().parent
# Verdicts: "complete" is skipped; every other verdict is measured (again).
COMPLETE = "complete"


@dataclasses.dataclass(frozen=True)
class Rerun:
    """Which stored outcomes a resume re-measures.

    ``force``: every run; ``rerun_invalid``: ok rows flagged ``valid=False`` (or with fewer than 2 samples) and
    ``error``/``oom`` rows; ``retry_errors``: ``error`` rows (the default). Rows measured by other code are always
    re-measured.
    """

    force: bool = False
    rerun_invalid: bool = False
    retry_errors: bool = True


def source_hash(root: Path, sources: Iterable[str] = MEASUREMENT_SOURCES) -> str:
    """sha256 (12 hex digits) over the relative paths and bytes of ``root``'s measurement sources (``.py`` files and
    data files; caches and hidden files skipped), in a fixed order."""
    digest = hashlib.sha256()
    for name in sources:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            rel = file.relative_to(root)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts) or file.suffix == ".pyc":
                continue
            digest.update(str(rel).encode() + b"\0")
            digest.update(file.read_bytes() if file.is_file() else b"<missing>")
            digest.update(b"\0")
    return digest.hexdigest()[:12]


@functools.cache
def code_fingerprint() -> str:
    """This interpreter's measurement code: ``<__version__>+code.<source hash>`` (computed once per process).

    >>> code_fingerprint().startswith(blaze_lab.__version__ + "+code.")
    True
    """
    return f"{blaze_lab.__version__}+code.{source_hash(PACKAGE_ROOT)}"


def _invalid(row: Mapping[str, object]) -> bool:
    valid = row.get("valid")
    if valid is False or (isinstance(valid, str) and valid.lower() == "false"):
        return True
    try:
        return valid is not None and not bool(valid)  # numpy bool False
    except (TypeError, ValueError):
        return False


def _few(row: Mapping[str, object]) -> bool:
    n = pd.to_numeric(pd.Series([row.get("n")]), errors="coerce").iloc[0]
    return bool(pd.notna(n) and n < 2)


def verdict(row: Mapping[str, object] | None, policy: Rerun, code: str) -> str:
    """What a resume does with one run's stored row: ``complete`` (skip) or why it is measured again."""
    if row is None:
        return "missing"
    if policy.force:
        return "forced"
    if str(row.get(CODE_COLUMN) or "") != code:
        return "other code"
    status = str(row.get("status"))
    if status == "error" and (policy.retry_errors or policy.rerun_invalid):
        return "error"
    if status == "oom" and policy.rerun_invalid:
        return "oom"
    if status == "ok" and policy.rerun_invalid and (_invalid(row) or _few(row)):
        return "invalid"
    if status not in ("ok", "unsupported", "oom", "error"):
        return "error"
    return COMPLETE


def verdicts(summary: pd.DataFrame, run_ids: Iterable[str], policy: Rerun, code: str) -> dict[str, str]:
    """run id -> :func:`verdict` of its stored row (the last one for the run; ``missing`` without one)."""
    rows: dict[str, Mapping[str, object]] = {}
    if not summary.empty and "run_id" in summary.columns and "status" in summary.columns:
        for record in summary.to_dict("records"):
            rows[str(record["run_id"])] = record
    return {run_id: verdict(rows.get(run_id), policy, code) for run_id in run_ids}


def resume_note(counts: Mapping[str, int]) -> str:
    """One line saying what a resume re-measures and why, from counts of :func:`verdicts` ('' when nothing stored).

    >>> resume_note({"complete": 20, "other code": 6, "missing": 4})
    'resume: 20 rows complete (skipped); 6 rows measured by other code: re-measuring; 4 runs not measured yet'
    """
    parts = []
    if counts.get(COMPLETE):
        parts.append(f"{counts[COMPLETE]} rows complete (skipped)")
    texts = {
        "forced": "{} rows re-measured (--force)",
        "other code": "{} rows measured by other code: re-measuring",
        "invalid": "{} invalid rows re-measured (--rerun-invalid)",
        "oom": "{} oom rows re-measured (--rerun-invalid)",
        "error": "{} error rows retried",
        "missing": "{} runs not measured yet",
    }
    parts += [text.format(counts[key]) for key, text in texts.items() if counts.get(key)]
    if not any(counts.get(k) for k in ("complete", "forced", "other code", "invalid", "oom", "error")):
        return ""
    return "resume: " + "; ".join(parts)


__all__ = [
    "CODE_COLUMN",
    "COMPLETE",
    "MEASUREMENT_SOURCES",
    "Rerun",
    "code_fingerprint",
    "resume_note",
    "source_hash",
    "verdict",
    "verdicts",
]
