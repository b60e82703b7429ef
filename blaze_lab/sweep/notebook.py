"""The notebook contract: which parameters a benchmark notebook declares, where it is found, its code version.

Every benchmark notebook has a ``parameters`` cell declaring exactly :data:`NOTEBOOK_PARAMETERS`; papermill
injects their values. The notebook's code cells (not outputs or metadata) are part of each run's identity.

Example:
    >>> NOTEBOOK_PARAMETERS[:3]
    ('sweep', 'group', 'runs')
    >>> resolve_notebook("notebooks/llm_benchmark.ipynb").name
    'llm_benchmark.ipynb'
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import blaze_lab
from blaze_lab.errors import ConfigError

# The notebook <-> sweep contract: exactly these names in each notebook's `parameters` cell.
NOTEBOOK_PARAMETERS = ("sweep", "group", "runs", "reference", "measure", "summary_path", "raw_path")

PROJECT_ROOT = Path(blaze_lab.__file__).resolve().parent.parent


def resolve_notebook(value: str | Path) -> Path:
    """A notebook path as given if absolute or present relative to the cwd, else relative to the project root."""
    path = Path(value)
    if path.is_absolute() or path.exists():
        return path
    return PROJECT_ROOT / path


def check_notebook(path: Path, where: str) -> None:
    """Refuse a notebook whose ``parameters`` cell does not declare exactly :data:`NOTEBOOK_PARAMETERS`."""
    import papermill

    if not path.is_file():
        raise ConfigError(where, str(path), reason="notebook not found")
    try:
        declared = set(papermill.inspect_notebook(str(path)))
    except Exception as exc:  # papermill raises assorted errors for unreadable notebooks; all mean "refuse"
        raise ConfigError(where, str(path), reason=f"cannot inspect notebook ({type(exc).__name__}: {exc})") from None
    expected = set(NOTEBOOK_PARAMETERS)
    missing = sorted(expected - declared)
    if missing:
        raise ConfigError(
            where,
            str(path),
            reason=f"parameters cell lacks parameter {missing[0]!r}",
            allowed=NOTEBOOK_PARAMETERS,
        )
    unknown = sorted(declared - expected)
    if unknown:
        raise ConfigError(
            where,
            str(path),
            reason=f"parameters cell declares unknown parameter {unknown[0]!r} (the sweep never sets it)",
            allowed=NOTEBOOK_PARAMETERS,
        )


def code_version(notebook: Path) -> str:
    """``blaze_lab.__version__`` + a hash of the notebook's code-cell sources (outputs and metadata excluded)."""
    try:
        cells = json.loads(notebook.read_text()).get("cells", [])
        sources = ["".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code"]
        digest = hashlib.sha256(json.dumps(sources).encode()).hexdigest()[:12]
    except (OSError, ValueError):
        digest = "missing"  # check_notebook refuses it; expansion alone (dry runs in tests) still works
    return f"{blaze_lab.__version__}+nb.{digest}"


__all__ = ["NOTEBOOK_PARAMETERS", "PROJECT_ROOT", "check_notebook", "code_version", "resolve_notebook"]
