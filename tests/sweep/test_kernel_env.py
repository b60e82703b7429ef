"""Kernels start with thread settings that survive a shared machine, unless the user chose their own."""

from __future__ import annotations

import os

import pytest

from blaze_lab.sweep.kernel_env import THREAD_DEFAULTS, kernel_environment


def test_defaults_are_set_for_the_kernel_and_removed_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    with kernel_environment():
        assert os.environ["OMP_WAIT_POLICY"] == THREAD_DEFAULTS["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in os.environ


def test_a_users_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    with kernel_environment():
        assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
