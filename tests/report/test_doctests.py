"""The usage examples in the report docstrings are executed, so they cannot rot."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name", ["axes", "best", "cdf", "figures", "labels", "overview", "reasons", "rows", "sections", "tables"]
)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"blaze_lab.report.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
