"""Kernels start with thread settings that survive a shared machine, unless the user chose their own."""

from __future__ import annotations

import os

import pytest

from blaze_lab.sweep import kernel_env
from blaze_lab.sweep.kernel_env import kernel_environment, thread_defaults


@pytest.mark.parametrize(("cores", "threads"), [(1, "1"), (2, "1"), (16, "15")])
def test_one_core_stays_free(monkeypatch: pytest.MonkeyPatch, cores: int, threads: str) -> None:
    monkeypatch.setattr(kernel_env, "usable_cores", lambda: cores)
    assert thread_defaults() == {"OMP_NUM_THREADS": threads}


def test_defaults_are_set_for_the_kernel_and_removed_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with kernel_environment():
        assert os.environ["OMP_NUM_THREADS"] == thread_defaults()["OMP_NUM_THREADS"]
    assert "OMP_NUM_THREADS" not in os.environ


def test_a_users_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    with kernel_environment():
        assert os.environ["OMP_NUM_THREADS"] == "2"
    assert os.environ["OMP_NUM_THREADS"] == "2"
