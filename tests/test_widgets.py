"""The explorer panel (blaze_lab.widgets) driven without a browser: widgets in, HTML/figure/progress out.

Engines are faked (a summary row per config); the real tiny-model run is covered by tests/browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from blaze_lab.cli import app
from blaze_lab.config import BaseConfig
from blaze_lab.errors import ConfigError
from blaze_lab.explorer.capabilities import Device
from blaze_lab.metrics.timing import MeasureSettings
from blaze_lab.widgets import Explorer, parse_vary

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 16


def fake_runner(configs: Sequence[BaseConfig], run_ids: Sequence[str], measure: MeasureSettings) -> pd.DataFrame:
    rows = []
    for cfg, run_id in zip(configs, run_ids, strict=True):
        speed = 50.0 * getattr(cfg, "batch_size", 1)
        kind = cfg.PREFIX
        rows.append(
            {
                "run_id": run_id,
                "engine": kind,
                **cfg.flat(),
                "status": "ok",
                "error": "",
                "tokens_per_s_mean": speed,
                "tokens_per_s_ci_low": speed - 1,
                "tokens_per_s_ci_high": speed + 1,
                "step_latency_s_mean": 1 / speed,
                "images_per_s_mean": speed,
                "thumbnail_png": PNG,
                "peak_rss_bytes": 1e8,
                "valid": True,
                "validity_reason": "",
            }
        )
    return pd.DataFrame(rows)


def broken_runner(configs: Sequence[BaseConfig], run_ids: Sequence[str], measure: MeasureSettings) -> pd.DataFrame:
    raise RuntimeError("engine exploded")


@pytest.fixture
def explorer(tmp_path: Path) -> Explorer:
    return Explorer(
        device=Device.cpu(),
        runners={"llm": fake_runner, "diffusion": fake_runner},
        experiment_path=tmp_path / "explored.yaml",
    )


def test_unavailable_values_are_labelled_with_the_reason(explorer: Explorer) -> None:
    quant = explorer.fields["llm"]["quantization"]
    assert ("torchao-int4-weight-only (unavailable)", "torchao-int4-weight-only") in quant.options
    assert ("none", "none") in quant.options
    assert "no CPU kernel" in explorer.capability.value
    explorer.engine.value = "diffusion"  # the engine picker, as clicked
    assert explorer.settings_box.children[0] is explorer.fields["diffusion"]["model"]
    assert explorer.capability.value.count("needs an accelerator") == 3  # model, sequential, group offload


def test_invalid_choice_shows_the_reason_not_a_traceback(explorer: Explorer) -> None:
    explorer.engine.value = "diffusion"
    explorer.fields["diffusion"]["offload"].value = "sequential"  # as chosen in the dropdown
    assert "UnsupportedError" in explorer.status.value and "needs an accelerator" in explorer.status.value
    assert explorer.run_button.disabled
    explorer.fields["diffusion"]["offload"].value = "none"
    assert not explorer.run_button.disabled and "blaze-problem" not in explorer.status.value
    explorer.fields["diffusion"]["steps"].value = 0
    assert "diffusion.steps" in explorer.status.value and explorer.run_button.disabled


def test_caveat_is_a_note(explorer: Explorer) -> None:
    explorer.fields["llm"]["dtype"].value = "fp16"
    assert "note:" in explorer.status.value and not explorer.run_button.disabled


def test_run_in_background_fills_table_plot_progress_and_compare(explorer: Explorer) -> None:
    explorer.vary.value = "batch_size=1,4"
    explorer.run_button.click()
    explorer.join(timeout=30)
    assert explorer.progress.value == explorer.progress.max == 2
    assert explorer.run_button.description == "Run" and not explorer.run_button.disabled
    assert "run-1" in explorer.results_html.value and "run-2" in explorer.results_html.value
    (output,) = explorer.plot.outputs
    bars = output["data"]["application/vnd.plotly.v1+json"]["data"][0]
    assert bars["x"] == [50.0, 200.0]  # horizontal bars: values on x
    assert list(explorer.compare_select.options) == [("run-1 · bs1", "run-1"), ("run-2 · bs4", "run-2")]
    explorer.compare_select.value = ("run-1", "run-2")
    explorer.compare_button.click()
    assert "run-2 / run-1" in explorer.compare_html.value and "run-2 95% CI" in explorer.compare_html.value
    table = explorer.compare()
    assert table is not None and table.loc["tokens/s", "run-2 / run-1"] == pytest.approx(4.0)


def test_compare_needs_two_runs(explorer: Explorer) -> None:
    explorer.run()
    explorer.compare_select.value = ("run-1",)
    explorer.compare_button.click()
    assert "select two or more runs" in explorer.compare_html.value


def test_engine_failure_is_shown_in_the_panel(tmp_path: Path) -> None:
    ex = Explorer(device=Device.cpu(), runners={"llm": broken_runner})
    ex.run_button.click()
    ex.join(timeout=30)
    assert "RuntimeError: engine exploded" in ex.status.value
    assert not ex.run_button.disabled
    with pytest.raises(RuntimeError):
        ex.run()


def test_bad_vary_text_is_explained(explorer: Explorer) -> None:
    explorer.vary.value = "batch_size"
    explorer.run_button.click()
    assert "field=value1,value2" in explorer.status.value
    assert explorer.session.results.empty
    with pytest.raises(ConfigError):
        parse_vary("=1,2")
    assert parse_vary("amp=off; torch_compile=true") == {"amp": ["off"], "torch_compile": [True]}


def test_diffusion_runs_show_their_images(explorer: Explorer) -> None:
    explorer.select(kind="diffusion", steps=2)
    assert explorer.engine.value == "diffusion" and explorer.fields["diffusion"]["steps"].value == 2
    explorer.run()
    assert explorer.images_html.value.count("data:image/png;base64,") == 1


def test_save_as_experiment_passes_the_sweep_dry_run(explorer: Explorer, tmp_path: Path) -> None:
    explorer.save_button.click()
    assert "nothing explored yet" in explorer.save_status.value
    explorer.select(new_tokens=4)
    explorer.run(vary={"dtype": ["fp32", "bf16"]})
    explorer.save_button.click()
    path = tmp_path / "explored.yaml"
    assert path.exists() and "blaze-lab sweep" in explorer.save_status.value
    result = CliRunner().invoke(app, ["sweep", str(path), "--dry-run", "--results", str(tmp_path / "results")])
    assert result.exit_code == 0, result.output
    assert "2 runs in 2 load-time group" in result.output  # fp32 and bf16: one model load each
    assert not (tmp_path / "results").exists()


def test_mixed_engines_save_as_parts_the_dry_run_accepts(explorer: Explorer, tmp_path: Path) -> None:
    explorer.run()
    explorer.select(kind="diffusion", steps=2)
    explorer.run()
    path = explorer.to_experiment(tmp_path / "mixed.yaml")
    assert path is not None
    result = CliRunner().invoke(app, ["sweep", str(path), "--dry-run", "--results", str(tmp_path / "results")])
    assert result.exit_code == 0, result.output
    assert "2 runs in 2 load-time groups" in result.output


def test_a_switch_the_device_cannot_turn_on_is_disabled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from blaze_lab.explorer import capabilities

    monkeypatch.setitem(
        capabilities.RULES, ("llm", "torch_compile", True), lambda device, target: capabilities.Verdict(False, "no")
    )
    ex = Explorer(device=Device.cpu(), runners={"llm": fake_runner})
    box = ex.fields["llm"]["torch_compile"]
    assert box.disabled and box.tooltip == "no"
    assert "<code>torch_compile</code> disabled: no" in ex.capability.value
    assert not ex.fields["llm"]["amp"].disabled
