"""The usage examples in the result-cache docstrings are executed, so they cannot rot."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["auth", "codec", "keys", "tier", "memory", "disk", "redis_tier", "tiered", "workload"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"blaze_lab.cache.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if name != "redis_tier":  # its example needs a server and is marked +SKIP
        assert result.attempted > 0
