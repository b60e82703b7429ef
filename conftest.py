"""Repository-root pytest setup for the docstring examples (``pytest blaze_lab --doctest-modules``).

Two things the doctest run needs that tests/conftest.py cannot give it (that file only applies under tests/):

* Modules whose top-level imports need an optional extra that is not installed (redis-py for the redis cache tier,
  ipywidgets for the explorer widget, ...) cannot even be imported, so they are not collected; everything else
  still runs. The scan is static (module-level imports only, followed through blaze_lab's own modules), so a
  module that imports an extra lazily inside a function is collected and runs.
* Every doctest sees a per-session temporary ``BLAZE_LAB_CACHE``, so an example never writes into the user's
  real model cache.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "blaze_lab"


def _module_path(name: str) -> Path | None:
    """The file of blaze_lab module ``name`` (a package's ``__init__.py``), or None when there is none."""
    relative = Path(*name.split("."))
    for candidate in (ROOT / relative.with_suffix(".py"), ROOT / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _top_level_imports(path: Path) -> set[str]:
    """Absolute module names imported by ``path``'s own top-level statements.

    Imports inside functions, ``if TYPE_CHECKING:`` blocks and ``try: ... except ImportError`` are not followed:
    they do not run (or may fail) at import time.
    """
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@cache
def _missing_extra(path: Path) -> str | None:
    """The first third-party module ``path`` needs at import time that is not installed, or None."""
    _missing_extra_stack.add(path)
    try:
        for name in sorted(_top_level_imports(path)):
            top = name.split(".")[0]
            if top == "blaze_lab":
                own = _module_path(name)
                if own is not None and own not in _missing_extra_stack and (missing := _missing_extra(own)):
                    return missing
            elif importlib.util.find_spec(top) is None:
                return top
        return None
    finally:
        _missing_extra_stack.discard(path)


_missing_extra_stack: set[Path] = set()  # import cycles: a module already being scanned is not rescanned


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip collecting a blaze_lab module whose import needs an extra that is not installed."""
    if collection_path.suffix == ".py" and PACKAGE in collection_path.parents:
        return True if _missing_extra(collection_path) else None
    return None


@pytest.fixture(scope="session")
def _doctest_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("doctest_blaze_cache")


@pytest.fixture(autouse=True)
def _isolated_cache_for_doctests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Docstring examples use a temporary model cache (tests/ has its own session-wide isolation)."""
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.setenv("BLAZE_LAB_CACHE", str(request.getfixturevalue("_doctest_cache")))
    yield
