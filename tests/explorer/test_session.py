"""ExplorerSession: settings -> validated config, runs -> results, compare, figure, save as a valid sweep spec.

Engine runs are faked (a runner returning a summary row) except for the router simulation, which is real and fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from blaze_lab.config import BaseConfig
from blaze_lab.errors import ConfigError, UnsupportedError
from blaze_lab.explorer.capabilities import Device
from blaze_lab.explorer.session import ExplorerSession
from blaze_lab.metrics.timing import MeasureSettings
from blaze_lab.sweep.plan import expand
from blaze_lab.sweep.spec import load_spec


def fake_llm(configs: Sequence[BaseConfig], run_ids: Sequence[str], measure: MeasureSettings) -> pd.DataFrame:
    """Throughput proportional to batch size, bf16 twice as fast; one summary row per config."""
    rows = []
    for cfg, run_id in zip(configs, run_ids, strict=True):
        speed = 100.0 * cfg.batch_size * (2 if cfg.dtype == "bf16" else 1)  # type: ignore[attr-defined]
        rows.append(
            {
                "run_id": run_id,
                "engine": "llm",
                **cfg.flat(),
                "status": "ok",
                "error": "",
                "tokens_per_s_mean": speed,
                "tokens_per_s_ci_low": speed * 0.9,
                "tokens_per_s_ci_high": speed * 1.1,
                "n": 10,
                "latency_s_mean": 1 / speed,
                "peak_rss_bytes": 1e8,
                "perplexity": 10.0,
                "kl_div_mean": 0.0,
                "valid": True,
                "validity_reason": "",
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture
def session() -> ExplorerSession:
    return ExplorerSession(device=Device.cpu(), runners={"llm": fake_llm})


def test_select_validates_lazily_and_explains(session: ExplorerSession) -> None:
    session.select(batch_size=0)
    assert session.problem().startswith("ConfigError: llm.batch_size")
    with pytest.raises(ConfigError):
        session.config()
    session.select(batch_size=2, quantization="torchao-int4-weight-only")
    assert "UnsupportedError" in session.problem() and "no CPU kernel" in session.problem()
    with pytest.raises(UnsupportedError):
        session.run()
    assert session.results.empty  # nothing ran


def test_unknown_setting_and_kind_are_config_errors(session: ExplorerSession) -> None:
    with pytest.raises(ConfigError, match=r"llm\.colour"):
        session.select(colour="red")
    with pytest.raises(ConfigError, match="engine"):
        session.select(kind="tts")


def test_offload_on_cpu_is_the_panel_problem(session: ExplorerSession) -> None:
    session.select(kind="diffusion", offload="model")
    assert "needs an accelerator" in session.problem()
    assert [v for v, ok in session.choices("offload") if ok.allowed] == ["none"]


def test_notes_for_allowed_caveats(session: ExplorerSession) -> None:
    session.select(dtype="fp16")
    assert session.problem() == ""
    assert any("fp16" in n for n in session.notes())


def test_run_appends_numbered_rows_with_progress(session: ExplorerSession) -> None:
    seen: list[tuple[int, int]] = []
    new = session.run(vary={"batch_size": [1, 4]}, progress=lambda d, t, _m: seen.append((d, t)))
    assert new["run"].tolist() == ["run-1", "run-2"]
    assert seen == [(0, 2), (1, 2), (2, 2)]
    session.run()
    assert session.results["run"].tolist() == ["run-1", "run-2", "run-3"]
    table = session.table()
    assert table["config"].tolist()[:2] == ["bs1", "bs4"]
    assert table["tokens/s"].tolist() == [100.0, 400.0, 100.0]


def test_vary_with_an_invalid_value_runs_nothing(session: ExplorerSession) -> None:
    with pytest.raises(ConfigError, match=r"llm\.dtype"):
        session.run(vary={"dtype": ["fp32", "fp64"]})
    assert session.results.empty


def test_compare_ratios_to_the_first_beside_each_runs_ci(session: ExplorerSession) -> None:
    session.run(vary={"dtype": ["fp32", "bf16"]})
    cmp = session.compare(["run-1", "run-2"])
    assert cmp.loc["tokens/s", "run-2 / run-1"] == pytest.approx(2.0)
    assert cmp.loc["latency (s)", "run-2 / run-1"] == pytest.approx(0.5)
    assert cmp.loc["tokens/s", "better"] == "higher"
    # never a bare ratio: each run's CI beside it, and no verdict the explorer cannot support
    assert (cmp.loc["tokens/s", "run-2 CI low"], cmp.loc["tokens/s", "run-2 CI high"]) == pytest.approx((180, 220))
    assert cmp.loc["tokens/s", "run-1 CI low"] == 90.0 and pd.isna(cmp.loc["peak RSS (bytes)", "run-1 CI low"])
    # tokens/s has CIs: the ratio gets its own CI (blaze_lab.metrics.compare) and a verdict it supports
    low, high = cmp.loc["tokens/s", "run-2 / run-1 CI low"], cmp.loc["tokens/s", "run-2 / run-1 CI high"]
    assert 1.0 < low < 2.0 < high and cmp.loc["tokens/s", "run-2 verdict"] == "faster"
    # metrics without a CI: the plain ratio, no verdict
    assert cmp.loc["peak RSS (bytes)", "run-2 verdict"] == "no verdict"
    assert pd.isna(cmp.loc["peak RSS (bytes)", "run-2 / run-1 CI low"])
    # the same setting twice: the CI holds 1
    session.run()
    same = session.compare(["run-1", "run-3"])  # both fp32
    assert same.loc["tokens/s", "run-3 verdict"] == "no difference at this precision"
    with pytest.raises(ConfigError, match="two or more"):
        session.compare(["run-1"])
    with pytest.raises(ConfigError, match="run-9"):
        session.compare(["run-1", "run-9"])


def test_figure_has_one_bar_per_ok_run(session: ExplorerSession) -> None:
    assert "no successful runs" in session.figure().layout.title.text
    session.run(vary={"batch_size": [1, 2]})
    bars = session.figure().data[0]
    assert list(bars.x) == [100.0, 200.0]  # horizontal bars: values on x, configs on y
    assert list(bars.y) == ["run-1 · bs1", "run-2 · bs2"]


def test_save_as_experiment_reproduces_the_runs(session: ExplorerSession, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nothing explored"):
        session.to_experiment(tmp_path / "none.yaml")
    session.select(new_tokens=4)
    session.run(vary={"dtype": ["fp32", "bf16"], "batch_size": [1, 2]})
    session.run()  # a repeat of run-1's config: saved once
    path = session.to_experiment(tmp_path / "explored.yaml")
    data = yaml.safe_load(path.read_text())
    part = data["parts"][0]
    assert part["kind"] == "llm" and part["base"]["new_tokens"] == 4 and part["reference"] is None
    assert part["zip"] == {"dtype": ["fp32", "fp32", "bf16", "bf16"], "batch_size": [1, 2, 1, 2]}
    runs = expand(load_spec(path))
    assert sorted(r.config.config_hash() for r in runs) == sorted(
        {session.configs[r].config_hash() for r in session.results["run"]}
    )
    assert runs[0].measure["quality"]["kl_tokens"] == 64  # the explorer's quality settings travel along


def test_router_simulation_runs_for_real(tmp_path: Path) -> None:
    s = ExplorerSession(kind="router", device=Device.cpu())
    s.select(n_requests=300, replicas=2)
    rows = s.run(vary={"strategy": ["round_robin", "least_connections"]})
    assert rows["status"].tolist() == ["ok", "ok"]
    cmp = s.compare(["run-1", "run-2"])
    assert cmp.loc["ok rate", "run-1"] == 1.0
    spec = load_spec(s.to_experiment(tmp_path / "router.yaml"))
    assert [r.config.strategy for r in expand(spec)] == ["round_robin", "least_connections"]  # type: ignore[attr-defined]


def test_mixed_kinds_save_as_parts_and_refuse_compare(session: ExplorerSession, tmp_path: Path) -> None:
    session.run()

    def fake_router(configs: Sequence[BaseConfig], run_ids: Sequence[str], _m: Any) -> pd.DataFrame:
        return pd.DataFrame([{"run_id": run_ids[0], "engine": "router", **configs[0].flat(), "status": "ok"}])

    session._runners["router"] = fake_router
    session.select(kind="router", strategy="random")
    session.run()
    with pytest.raises(ConfigError, match="different engines"):
        session.compare(["run-1", "run-2"])
    spec = load_spec(session.to_experiment(tmp_path / "mixed.yaml"))
    assert spec.kinds == ("llm", "router")


def test_save_validates_first_refuses_to_overwrite_and_writes_atomically(
    session: ExplorerSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session.run()
    mine = tmp_path / "mine.yaml"
    mine.write_text("kind: router\n")
    with pytest.raises(ConfigError, match="file exists"):
        session.to_experiment(mine)
    assert mine.read_text() == "kind: router\n"  # the user's own spec is untouched
    assert load_spec(session.to_experiment(mine, overwrite=True)).kinds == ("llm",)
    # A spec the sweep would refuse is never written, not even over an existing file with overwrite=True.
    before = mine.read_text()
    monkeypatch.setattr(session, "experiment", lambda *a, **k: {"kind": "llm", "grid": {"batch_size": [0]}})
    with pytest.raises(ConfigError, match=r"grid\.batch_size"):
        session.to_experiment(mine, overwrite=True)
    assert mine.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporaries left
