"""The usage examples in the explorer's docstrings run, so they cannot rot."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name",
    ["blaze_lab.explorer.capabilities", "blaze_lab.explorer.panels", "blaze_lab.explorer.session", "blaze_lab.widgets"],
)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
