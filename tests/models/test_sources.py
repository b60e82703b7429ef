"""resolve_model dispatch: local directories, errors for bad specs, registry listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from blaze_lab.errors import ConfigError, ModelLoadError
from blaze_lab.models import known_models, resolve_model
from blaze_lab.models.sources import SOURCES, is_prepared


def test_local_llm_dir_resolves_to_itself(tiny_llama_dir: Path) -> None:
    resolved = resolve_model(str(tiny_llama_dir))
    assert resolved.path == tiny_llama_dir.resolve()
    assert (resolved.kind, resolved.source, resolved.random_weights) == ("llm", "local", False)
    assert resolved.spec == str(tiny_llama_dir)


def test_local_diffusion_dir_needs_model_index(tiny_sd_dir: Path, tiny_llama_dir: Path) -> None:
    assert resolve_model(str(tiny_sd_dir), kind="diffusion").path == tiny_sd_dir.resolve()
    with pytest.raises(ModelLoadError, match=r"has no model_index\.json.*config\.json: a 'llm' model\?"):
        resolve_model(str(tiny_llama_dir), kind="diffusion")


def test_missing_dir_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ModelLoadError, match=f"{missing} does not exist"):
        resolve_model(str(missing))


def test_dir_without_config_names_path_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError) as info:
        resolve_model(str(tmp_path))
    assert str(tmp_path) in str(info.value) and "config.json" in str(info.value)


def test_unknown_spec_lists_known_forms() -> None:
    with pytest.raises(ModelLoadError) as info:
        resolve_model("definitely not a model")
    message = str(info.value)
    for form in ("random:<arch>", "tiny-llama", "smollm2-135m", ".gguf", "local directory", "org/name"):
        assert form in message


def test_unknown_random_arch() -> None:
    with pytest.raises(ModelLoadError, match=r"unknown random architecture 'gpt-9'.*tiny-llama"):
        resolve_model("random:gpt-9")


def test_kind_mismatch_and_bad_kind() -> None:
    with pytest.raises(ModelLoadError, match="'diffusion' model, but kind='llm'"):
        resolve_model("tiny-sd", kind="llm")
    with pytest.raises(ConfigError, match="kind: invalid value 'audio'; allowed: llm, diffusion"):
        resolve_model("tiny-llama", kind="audio")
    with pytest.raises(ConfigError, match="model"):
        resolve_model("   ")


def test_missing_gguf_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=f"GGUF file not found: {tmp_path / 'x.gguf'}"):
        resolve_model(str(tmp_path / "x.gguf"))


def test_registry_order_puts_named_models_before_paths_and_hub() -> None:
    assert list(SOURCES) == ["random", "bundled", "gguf", "local", "hub"]


def test_known_models_lists_registry_with_cache_state(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BLAZE_LAB_CACHE", str(tmp_path))  # a cache no other test has touched
    rows = {row["spec"]: row for row in known_models()}
    assert {"smollm2-135m", "random:tiny-llama", "random:tiny-sd", "random:tiny-ddpm", "random:llama-1b",
            "random:sd15", "random:smollm2-135m-shape"} <= set(rows)  # fmt: skip
    assert rows["random:sd15"]["kind"] == "diffusion" and rows["random:sd15"]["random_weights"] is True
    assert rows["smollm2-135m"]["source"] == "bundled" and rows["smollm2-135m"]["random_weights"] is False
    # The session cache is fresh: nothing is prepared until resolved.
    assert rows["random:tiny-ddpm"]["prepared"] is False and rows["random:tiny-ddpm"]["size_bytes"] == 0
    resolve_model("random:tiny-ddpm", kind="diffusion")
    row = {r["spec"]: r for r in known_models()}["random:tiny-ddpm"]
    assert row["prepared"] is True and row["size_bytes"] > 100_000 and is_prepared("tiny-ddpm")
