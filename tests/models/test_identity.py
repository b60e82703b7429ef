"""Model identity: a rebuilt model under the same name gets a new identity; hashing is remembered per file version."""

from __future__ import annotations

from pathlib import Path

import pytest

from blaze_lab.models import identity


def test_rebuilt_model_changes_identity_and_hashes_are_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLAZE_LAB_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden": 64}')
    (model / "model.safetensors").write_bytes(b"\x00" * 1000)
    first = identity.model_identity(model, {"dtype": "fp32"})
    assert identity.model_identity(model, {"dtype": "fp32"}) == first

    reads: list[Path] = []
    real_open = Path.open

    def counting_open(self: Path, *args: object, **kwargs: object) -> object:
        reads.append(self)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", counting_open)
    identity._MEMO.clear()  # a new process: the on-disk store answers, no file is read again
    assert identity.model_identity(model, {"dtype": "fp32"}) == first
    assert [p for p in reads if model in p.parents] == []
    monkeypatch.undo()
    monkeypatch.setenv("BLAZE_LAB_CACHE", str(tmp_path / "cache"))

    (model / "model.safetensors").write_bytes(b"\x01" * 1000)  # same name, new weights
    assert identity.model_identity(model, {"dtype": "fp32"}) != first
    assert set(identity.library_versions()) >= {"torch", "transformers"}
