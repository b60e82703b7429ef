"""A tiny engine kind for the sweep tests: a config class and a notebook that needs no model.

The notebook (notebooks/fake_benchmark.ipynb) behaves by the load-time field ``mode``: ``ok`` writes one summary row
per run, ``raise`` raises, ``oom`` raises an out-of-memory error, ``die`` kills its own kernel, ``late`` writes its
rows and then fails (a failing plot cell), ``hold`` waits for a release file (lets a test kill the sweep mid-group).
Every execution appends "<group> <run_id>..." to the file named by $BLAZE_TEST_LOG, so tests count executions.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from blaze_lab.config import BaseConfig, check_choice, check_int
from blaze_lab.kinds import KINDS, Kind

NOTEBOOK = Path(__file__).resolve().parent / "notebooks" / "fake_benchmark.ipynb"
MODES = ("ok", "raise", "oom", "die", "late", "hold")


@dataclasses.dataclass(frozen=True)
class FakeConfig(BaseConfig):
    PREFIX = "fake"
    LOAD_FIELDS = ("model", "mode")
    model: str = "m"
    mode: str = "ok"
    x: int = 1
    flavor: str = "a"

    def validate(self) -> None:
        check_choice(self, "mode", MODES)
        check_choice(self, "flavor", ("a", "b"))
        check_int(self, "x", minimum=0)


def no_group(*args: object, **kwargs: object) -> None:
    raise NotImplementedError("the fake notebook measures by itself")


# The notebook measures by itself (no group function is called); no report section: its rows get the report's note.
FAKE_KIND = Kind("fake", FakeConfig, str(NOTEBOOK), group=no_group, section=None)


def register() -> None:
    """For subprocesses (tests use monkeypatch.setitem(KINDS, "fake", FAKE_KIND))."""
    KINDS["fake"] = FAKE_KIND
