"""Explorer runs are saved after every run and reload into a session (kernel restarts lose nothing); readable units."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from blaze_lab.explorer.capabilities import Device
from blaze_lab.explorer.history import SessionStore, history
from blaze_lab.explorer.session import ExplorerSession
from blaze_lab.explorer.units import readable, readable_compare
from blaze_lab.results import load_results
from blaze_lab.widgets import Explorer

from .test_session import fake_llm


def _session(root: Path, **kwargs: object) -> ExplorerSession:
    return ExplorerSession(device=Device.cpu(), runners={"llm": fake_llm}, results_root=root, **kwargs)  # type: ignore[arg-type]


def test_every_run_is_saved_and_a_new_session_continues_it(tmp_path: Path) -> None:
    first = _session(tmp_path)
    first.run(vary={"dtype": ["fp32", "bf16"]})
    first.select(kind="router", n_requests=200, replicas=2)
    first.run()
    folder = first.saved_to
    assert folder is not None and folder.parent == tmp_path / "explorer" and not first.persist_error
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["counts"] == {"ok": 3} and list(manifest["runs"]) == ["run-1", "run-2", "run-3"]
    assert sorted(p.name for p in folder.iterdir()) == ["llm", "manifest.json", "router"]

    # a fresh kernel: everything comes back, numbering and saving continue in the same folder
    again = ExplorerSession.load(folder, device=Device.cpu(), runners={"llm": fake_llm})
    assert again.results["run"].tolist() == ["run-1", "run-2", "run-3"]
    assert again.configs == first.configs and again.measure == first.measure
    assert again.compare(["run-1", "run-2"]).loc["tokens/s", "run-2 / run-1"] == pytest.approx(2.0)
    again.select(kind="llm", batch_size=2)
    assert again.run()["run"].tolist() == ["run-4"]
    assert again.saved_to == folder and len(json.loads((folder / "manifest.json").read_text())["runs"]) == 4
    assert again.experiment()["parts"][0]["zip"]  # save-as-experiment works on reloaded runs

    # the folder reads like a sweep: ls, load_results
    listed = history(tmp_path)
    assert listed["path"].tolist() == [str(folder)] and listed["runs"].tolist() == [4]
    assert load_results(folder, kind="llm")["llm.batch_size"].tolist() == [1, 1, 2]


def test_memory_only_session_writes_nothing_and_a_failed_save_keeps_the_rows(tmp_path: Path) -> None:
    quiet = _session(tmp_path, persist=False)
    quiet.run()
    assert quiet.saved_to is None and not (tmp_path / "explorer").exists()
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    session = _session(blocked)
    session.run()
    assert len(session.results) == 1 and session.persist_error.startswith("results not saved to ")


def test_two_sessions_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 2, 22, 15, 3, tzinfo=UTC)
    a = SessionStore.create(tmp_path, now)
    a.folder.mkdir(parents=True)
    b = SessionStore.create(tmp_path, now)
    assert (a.folder.name, b.folder.name) == ("2026-12-02T22-15-03", "2026-12-02T22-15-03-2")
    assert history(tmp_path / "none").empty


def test_panel_shows_human_units_full_labels_and_reloads(tmp_path: Path) -> None:
    explorer = Explorer(device=Device.cpu(), runners={"llm": fake_llm}, results_root=tmp_path)
    explorer.run(vary={"dtype": ["fp32", "bf16"]})
    table = explorer.results_html.value
    assert "100 MB" in table and "1.00e+08" not in table and "ms" in table
    assert [label for label, _ in explorer.compare_select.options] == ["run-1 · fp32", "run-2 · bf16"]
    assert "runs saved in" in explorer.saved_html.value
    explorer.compare(["run-1", "run-2"])
    assert "95% CI" in explorer.compare_html.value and "no verdict" in explorer.compare_html.value
    assert "2×" in explorer.compare_html.value
    saved = explorer.session.saved_to
    assert saved is not None
    reloaded = Explorer.load(saved, device=Device.cpu(), runners={"llm": fake_llm})
    assert "run-2" in reloaded.results_html.value and len(reloaded.compare_select.options) == 2


def test_readable_units() -> None:
    frame = pd.DataFrame({"run": ["run-1"], "peak RSS (bytes)": [6.256e8], "latency (s)": [1.5], "tokens/s": [14.1]})
    assert readable(frame).iloc[0].tolist() == ["run-1", "626 MB", "1.50 s", "14.1"]
    cmp = pd.DataFrame(
        {"a": [6.256e8], "a CI low": [float("nan")], "a CI high": [float("nan")], "b": [1.2e9]},
        index=pd.Index(["peak RSS (bytes)"], name="metric"),
    )
    assert readable_compare(cmp).loc["peak RSS"].tolist() == ["626 MB", "", "1.20 GB"]
