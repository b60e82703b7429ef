"""Model cache location and atomic materialization (a failed or killed build never looks complete)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from blaze_lab.models.cache import MARKER, cache_dir, is_complete, materialize, models_dir, read_marker


def test_cache_dir_follows_env_and_defaults_to_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BLAZE_LAB_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    assert models_dir() == tmp_path / "c" / "models"
    monkeypatch.delenv("BLAZE_LAB_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "blaze_lab"


def test_session_cache_is_not_the_users_real_cache() -> None:
    # The autouse conftest fixture redirects every test away from ~/.cache/blaze_lab.
    assert cache_dir() != Path.home() / ".cache" / "blaze_lab"


def test_materialize_builds_once_and_writes_marker(tmp_path: Path) -> None:
    calls = []

    def build(tmp: Path) -> None:
        calls.append(tmp)
        (tmp / "config.json").write_text("{}")

    target = tmp_path / "m"
    assert materialize(target, build, {"spec": "x"}) == target
    assert materialize(target, build, {"spec": "x"}) == target
    assert len(calls) == 1
    assert calls[0] != target and calls[0].parent == target.parent  # built beside the target, then renamed
    assert (target / "config.json").is_file() and is_complete(target)
    assert read_marker(target) == {"spec": "x"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock", "m"]


def test_failed_build_leaves_no_target_and_no_temp_dir(tmp_path: Path) -> None:
    def build(tmp: Path) -> None:
        (tmp / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("disk full")

    target = tmp_path / "m"
    with pytest.raises(RuntimeError, match="disk full"):
        materialize(target, build, {})
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == [".m.lock"]


def test_killed_build_is_not_complete_and_is_cleaned_by_next_build(tmp_path: Path) -> None:
    # A real process dies (os._exit: no cleanup handlers run) in the middle of writing the model.
    code = (
        "import os, sys; from pathlib import Path; from blaze_lab.models.cache import materialize\n"
        "def build(tmp):\n"
        "    (tmp / 'config.json').write_text('{}'); os._exit(3)\n"
        "materialize(Path(sys.argv[1]), build, {})\n"
    )
    target = tmp_path / "m"
    done = subprocess.run([sys.executable, "-c", code, str(target)], check=False)
    assert done.returncode == 3
    assert not target.exists() and not is_complete(target)
    leftovers = list(tmp_path.glob(".m.tmp-*"))
    assert len(leftovers) == 1 and (leftovers[0] / "config.json").exists()

    materialize(target, lambda tmp: (tmp / "config.json").write_text('{"ok": 1}'), {})
    assert (target / "config.json").read_text() == '{"ok": 1}'
    assert not list(tmp_path.glob(".m.tmp-*"))


def test_directory_without_marker_is_rebuilt(tmp_path: Path) -> None:
    target = tmp_path / "m"
    target.mkdir()
    (target / "stale.bin").write_bytes(b"x")
    materialize(target, lambda tmp: (tmp / "config.json").write_text("{}"), {})
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "config.json"]
