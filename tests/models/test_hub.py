"""Hub ids: the local HF cache is used; an uncached id fails fast with an actionable message."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from blaze_lab.errors import ModelLoadError
from blaze_lab.models import resolve_model
from blaze_lab.models.hub import looks_like_hub_id


@pytest.fixture
def empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_hub_id_shape() -> None:
    assert looks_like_hub_id("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert not looks_like_hub_id("a/b/c") and not looks_like_hub_id("/abs") and not looks_like_hub_id("plain")


def test_uncached_hub_id_with_offline_env_fails_fast(empty_hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match=r"'no-org/no-model' is not in the local HF cache.*offline") as info:
        resolve_model("no-org/no-model")
    assert time.perf_counter() - start < 10
    assert "resolve_model('/path/to/dir')" in str(info.value) and "\n" not in str(info.value)


def test_uncached_hub_id_on_this_network_fails_fast(empty_hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No offline flag: the real reachability probe runs (the project's machines have no hub access).
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr("blaze_lab.models.hub.hub_reachable", lambda timeout_s=3.0: False)
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match="unreachable \\(offline\\); download it elsewhere and pass a local dir"):
        resolve_model("no-org/no-model")
    assert time.perf_counter() - start < 10


def test_real_probe_returns_within_timeout() -> None:
    from blaze_lab.models.hub import hub_reachable

    start = time.perf_counter()
    hub_reachable(timeout_s=2.0)
    assert time.perf_counter() - start < 8


def test_cached_hub_snapshot_resolves(empty_hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = empty_hf_cache / "models--some-org--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    resolved = resolve_model("some-org/tiny")
    assert resolved.path == snapshot and resolved.source == "hub" and resolved.random_weights is False
    with pytest.raises(ModelLoadError, match=r"has no model_index\.json"):
        resolve_model("some-org/tiny", kind="diffusion")
