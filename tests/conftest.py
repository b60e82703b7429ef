"""Shared pytest fixtures. Each subsystem keeps its fixtures in its own clearly marked block below."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# ====================================================================================================================
# blaze_lab.models — model cache isolation and tiny model fixtures
#
# Cache policy:
#   * Every test session gets a fresh temporary BLAZE_LAB_CACHE (autouse, session scope), so no test ever
#     writes models into the user's real cache (~/.cache/blaze_lab or their own $BLAZE_LAB_CACHE).
#   * Tests marked ``smollm2`` are the one exception: they see the user's REAL cache, so the 517 MB SmolLM2
#     prepared once by ``blaze-lab models prepare smollm2-135m`` is reused instead of downloaded per session.
#     Use the ``smollm2_dir`` fixture in them: it skips (with the reason) when SmolLM2 is not prepared, and fails
#     instead when BLAZE_LAB_REQUIRE_SMOLLM2 is set (`make test REQUIRE_SMOLLM2=1`, what CI runs).
#   * Tiny models for any test: ``tiny_llama_dir``, ``tiny_sd_dir``, ``tiny_ddpm_dir`` (built once per session
#     into tmp dirs, ~0.1-1 s each) — load them with ``from_pretrained(path)``.
# ====================================================================================================================

_REAL_BLAZE_CACHE = os.environ.get("BLAZE_LAB_CACHE")
"""The user's cache setting, captured at conftest import, before the session fixture redirects it."""


def real_blaze_cache() -> Path:
    """The user's real blaze_lab cache directory (what ``cache_dir()`` returns outside tests)."""
    if _REAL_BLAZE_CACHE:
        return Path(_REAL_BLAZE_CACHE).expanduser()
    return Path.home() / ".cache" / "blaze_lab"


@pytest.fixture(scope="session", autouse=True)
def _isolated_blaze_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point BLAZE_LAB_CACHE at a per-session temp dir for the whole session."""
    path = tmp_path_factory.mktemp("blaze_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BLAZE_LAB_CACHE", str(path))
        yield path


@pytest.fixture(autouse=True)
def _real_cache_for_smollm2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests marked ``smollm2`` use the real cache (the prepared model is reused, never re-downloaded)."""
    if request.node.get_closest_marker("smollm2") is not None:
        monkeypatch.setenv("BLAZE_LAB_CACHE", str(real_blaze_cache()))


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The prepared SmolLM2-135M-Instruct directory in the real cache; skips when it is not prepared."""
    from blaze_lab.models.bundled import bundled_path
    from blaze_lab.models.cache import is_complete

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BLAZE_LAB_CACHE", str(real_blaze_cache()))
        path = bundled_path("smollm2-135m")
    if not is_complete(path):
        reason = f"SmolLM2 is not prepared at {path}; run `blaze-lab models prepare smollm2-135m` first"
        if os.environ.get("BLAZE_LAB_REQUIRE_SMOLLM2"):  # CI prepared it: a missing model is a failure there
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama + BPE tokenizer (left padding) in transformers layout, built once per session."""
    from blaze_lab.models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random StableDiffusionPipeline (64x64) in diffusers layout, built once per session."""
    from blaze_lab.models import build_tiny_sd

    return build_tiny_sd(tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="session")
def tiny_ddpm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random unconditional DDPMPipeline (32x32) in diffusers layout, built once per session."""
    from blaze_lab.models.fixtures import build_tiny_ddpm

    return build_tiny_ddpm(tmp_path_factory.mktemp("tiny-ddpm"))


# ====================================================================================================================
# end of blaze_lab.models block
# ====================================================================================================================


# ====================================================================================================================
# blaze_lab.sweep.ray_executor / blaze_lab.router.ray_replicas — a real local Ray cluster (tests marked `ray`)
#
#   * ``ray_cluster``: session scope, started on first use: a head node (1 CPU) plus a second node process
#     ("w1", 1 CPU, custom resource {"worker": 1}); yields the LocalRayCluster (``.address``, ``.add_node``,
#     ``.kill_node``). Every node is stopped at the end, also on failure (by process group; never `ray stop`).
# ====================================================================================================================


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    import shutil
    import tempfile

    pytest.importorskip("ray", reason="the `ray` extra is not installed (make setup installs it)")
    from ray_cluster import LocalRayCluster

    # A short root: Ray's unix socket paths under it must stay below the 107-character limit.
    root = Path(tempfile.mkdtemp(prefix="bray", dir="/tmp"))
    cluster = LocalRayCluster(root)
    try:
        cluster.start_head(num_cpus=1)
        cluster.add_node("w1", num_cpus=1, resources={"worker": 1})
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


# ====================================================================================================================
# end of the ray block
# ====================================================================================================================


# ====================================================================================================================
# blaze_lab.explorer — the explorer saves every run under $BLAZE_LAB_RESULTS/explorer/ (default: the repository's
# results/). Tests (and the kernels the browser tests start, which inherit the environment) write to a per-session
# temp dir instead.
# ====================================================================================================================


@pytest.fixture(scope="session", autouse=True)
def _isolated_results_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BLAZE_LAB_RESULTS", str(path))
        yield path
