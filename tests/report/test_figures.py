"""Shared figure blocks: Pareto front, labels, CI bars, CDF, status/invalid tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from blaze_lab.errors import ReportError
from blaze_lab.report.cdf import cdf_figure
from blaze_lab.report.figures import ci_bars, pareto_front, scatter_with_front
from blaze_lab.report.labels import config_label, config_labels, varying_columns
from blaze_lab.report.tables import invalid_rows, status_rows, status_table


# -- pareto_front ---------------------------------------------------------------------------------------------------
def test_pareto_front_minimize_both_hand_case() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 2.0, 0.5], "y": [3.0, 1.0, 3.0, 2.0, 5.0]})
    # (1,3), (2,1), (0.5,5) are non-dominated; (3,3) dominated by (1,3); (2,2) dominated by (2,1).
    assert pareto_front(df, "x", "y").tolist() == [True, True, False, False, True]


def test_pareto_front_identical_points_both_stay() -> None:
    df = pd.DataFrame({"x": [1.0, 1.0, 2.0], "y": [1.0, 1.0, 0.5]})
    assert pareto_front(df, "x", "y").tolist() == [True, True, True]


def test_pareto_front_tie_on_one_axis_is_dominated() -> None:
    # same x, worse y -> dominated; same y, worse x -> dominated
    df = pd.DataFrame({"x": [1.0, 1.0, 2.0], "y": [1.0, 2.0, 1.0]})
    assert pareto_front(df, "x", "y").tolist() == [True, False, False]


def test_pareto_front_maximize_axis() -> None:
    # maximize throughput (x), minimize perplexity (y)
    df = pd.DataFrame({"tps": [100.0, 150.0, 120.0, 150.0], "ppl": [10.0, 12.0, 13.0, 11.0]})
    assert pareto_front(df, "tps", "ppl", minimize=(False, True)).tolist() == [True, False, False, True]


def test_pareto_front_nan_rows_excluded_and_index_kept() -> None:
    df = pd.DataFrame({"x": [1.0, np.nan, 0.5], "y": [1.0, 0.1, np.nan]}, index=[10, 20, 30])
    front = pareto_front(df, "x", "y")
    assert front.index.tolist() == [10, 20, 30]
    assert front.tolist() == [True, False, False]


def test_pareto_front_empty_and_missing_column() -> None:
    assert pareto_front(pd.DataFrame({"x": [], "y": []}), "x", "y").tolist() == []
    with pytest.raises(ReportError, match="'y'"):
        pareto_front(pd.DataFrame({"x": [1.0]}), "x", "y")


# -- labels ---------------------------------------------------------------------------------------------------------
def test_config_label_formats_fields() -> None:
    row = {"llm.dtype": "bf16", "llm.quantization": "bnb-nf4", "llm.batch_size": 8, "env.device": "cpu"}
    assert config_label(row) == "bf16 · quant=bnb-nf4 · bs8"
    assert config_label({"llm.quantization": "none", "llm.torch_compile": False}) == "quant=none · compile=off"
    assert config_label({"llm.dtype": float("nan")}) == "(default)"
    assert config_label({"llm.model": "/data/models/SmolLM2-135M/"}) == "SmolLM2-135M"


def test_config_labels_one_style_per_field() -> None:
    # every value of a non-self-describing field carries its name: "quant=none" beside "quant=bnb-8bit", and
    # offload=model never reads as a model name
    df = pd.DataFrame({"llm.dtype": ["fp32", "fp32"], "llm.quantization": ["none", "bnb-8bit"]})
    df2 = pd.DataFrame(
        {
            "diffusion.attention": ["sdpa", "sliced"],
            "diffusion.vae_slicing": [False, True],
            "diffusion.offload": ["model", "none"],
        }
    )
    assert config_labels(df).tolist() == ["quant=none", "quant=bnb-8bit"]
    assert config_labels(df2).tolist() == [
        "attn=sdpa · vae_slicing=off · offload=model",
        "attn=sliced · vae_slicing=on · offload=none",
    ]


def test_config_labels_show_only_varying_fields(summary: pd.DataFrame) -> None:
    ok = summary[summary["status"] == "ok"]
    assert varying_columns(ok) == ["llm.dtype", "llm.quantization"]
    assert config_labels(ok).tolist() == ["fp32 · quant=none", "bf16 · quant=none", "bf16 · quant=bnb-nf4"]


def test_config_labels_per_engine_kind_and_duplicates() -> None:
    df = pd.DataFrame(
        {
            "engine": ["llm", "llm", "router", "router"],
            "llm.dtype": ["fp32", "bf16", None, None],
            "llm.model": ["m", "m", None, None],
            "router.strategy": [None, None, "p2c", "p2c"],
        }
    )
    labels = config_labels(df).tolist()
    assert labels[:2] == ["fp32", "bf16"]  # llm.model constant within llm rows: not shown
    assert labels[2:] == ["p2c", "p2c #2"]  # identical labels are made distinct


# -- bars, scatter, cdf ---------------------------------------------------------------------------------------------
def test_ci_bars_have_asymmetric_error_bars_and_skip_non_ok(summary: pd.DataFrame) -> None:
    fig = ci_bars(summary, "tokens_per_s", "mean")
    bar = fig.data[0]
    assert len(bar.y) == 3  # the unsupported row has no bar
    assert list(bar.x) == [90.0, 170.0, 150.0]
    assert bar.error_x.array == pytest.approx([9.0, 17.0, 15.0])  # ci_high - mean
    assert bar.error_x.arrayminus == pytest.approx([4.5, 8.5, 7.5])  # mean - ci_low
    assert bar.error_x.symmetric is False
    # the invalid row (r3) is hatched
    assert list(bar.marker.pattern.shape) == ["", "", "/"]


def test_ci_bars_p50_uses_median_ci(summary: pd.DataFrame) -> None:
    bar = ci_bars(summary, "latency_s", "p50").data[0]
    assert bar.error_x.array == pytest.approx([2.8 * 0.2, 1.5 * 0.2, 1.7 * 0.2])


def test_ci_bars_missing_metric_raises_report_error(summary: pd.DataFrame) -> None:
    with pytest.raises(ReportError, match="images_per_s_mean"):
        ci_bars(summary, "images_per_s")
    with pytest.raises(ReportError, match="stat"):
        ci_bars(summary, "tokens_per_s", "p99")


def test_ci_bars_without_ci_columns_still_draws(summary: pd.DataFrame) -> None:
    fig = ci_bars(summary.drop(columns=["tokens_per_s_ci_low", "tokens_per_s_ci_high"]), "tokens_per_s")
    assert fig.data[0].error_x.visible is False


def test_scatter_with_front_marks_frontier(summary: pd.DataFrame) -> None:
    fig = scatter_with_front(summary, "latency_s_p50", "peak_rss_bytes", title="t", x_title="x", y_title="y")
    names = [t.name for t in fig.data]
    assert "Pareto frontier" in names and "Pareto-optimal" in names
    front = next(t for t in fig.data if t.name == "Pareto-optimal")
    # bf16 (1.5 s, 800 MB) and nf4 (1.7 s, 500 MB) are optimal; fp32 (2.8 s, 1200 MB) is dominated
    assert sorted(front.x) == [1.5, 1.7]
    line = next(t for t in fig.data if t.name == "Pareto frontier")
    assert list(line.x) == [1.5, 1.7]


def test_cdf_figure_one_line_per_config_monotone(raw: pd.DataFrame) -> None:
    labels = pd.Series({"r1": "fp32", "r2": "bf16"})
    fig = cdf_figure(raw, "latency_s", labels, title="t")
    assert [t.name for t in fig.data] == ["fp32 (n=5)", "bf16 (n=5)"]
    ys = list(fig.data[0].y)
    assert ys[0] == 0.0 and ys[-1] == 1.0 and ys == sorted(ys)  # every line starts at 0: one sample still draws
    assert list(fig.data[0].x) == sorted(fig.data[0].x)


def test_cdf_figure_pools_list_cells() -> None:
    raw = pd.DataFrame({"run_id": ["a", "a"], "itl_s": [[0.1, 0.3], [0.2]]})
    fig = cdf_figure(raw, "itl_s", pd.Series({"a": "A"}), title="t")
    assert list(fig.data[0].x) == pytest.approx([0.1, 0.1, 0.2, 0.3])


def test_cdf_figure_missing_column_raises(raw: pd.DataFrame) -> None:
    with pytest.raises(ReportError, match="itl_s"):
        cdf_figure(raw, "itl_s", pd.Series({"r1": "x"}), title="t")


# -- status and validity --------------------------------------------------------------------------------------------
def test_status_rows_lists_unsupported_with_error(summary: pd.DataFrame) -> None:
    rows = status_rows(summary)
    assert len(rows) == 1
    assert rows.loc[0, "status"] == "unsupported"
    assert "torchao-int4-weight-only" in rows.loc[0, "config"]
    assert rows.loc[0, "detail"] == "torchao int4: no CPU packing format"  # the library's words, kept
    assert rows.loc[0, "reason"] == (  # the explorer's words for the same setting on a CPU
        "needs an accelerator (torchao int4 weight-only has no CPU kernel); this device is CPU-only"
    )
    table = status_table(summary).data[0]
    assert "unsupported" in table.cells.values[2]


def test_status_rows_all_ok_is_empty(summary: pd.DataFrame) -> None:
    assert status_rows(summary[summary["status"] == "ok"]).empty
    with pytest.raises(ReportError):
        status_table(summary[summary["status"] == "ok"])


def test_human_reason_sources() -> None:
    from blaze_lab.report.reasons import human_reason

    gpu = {"engine": "llm", "env.device": "cuda", "llm.quantization": "torchao-int4-weight-only"}
    assert human_reason({**gpu, "error": "torchao: ImportError: Requires mslk >= 1.0.0"}).startswith(
        "needs the mslk kernel package"
    )
    assert human_reason({"engine": "x", "error": "ModuleNotFoundError: No module named 'optimum.quanto'"}) == (
        "the optimum.quanto package is not installed"
    )
    assert human_reason({"engine": "x", "error": "weird\nsecond line"}) == "weird"
    assert human_reason({"engine": "x", "status": "error", "error": None}) == "status error, no error recorded"


def test_invalid_rows_lists_reason(summary: pd.DataFrame) -> None:
    rows = invalid_rows(summary)
    assert rows["validity_reason"].tolist() == ["cv=0.8 > 0.5"]  # the unsupported row is not a measurement
    assert not math.isnan(rows.loc[0, "n"])


def test_image_grid_html_embeds_images(tmp_path: Path) -> None:
    from blaze_lab.report.html import image_grid_html

    (tmp_path / "b.png").write_bytes(b"\x89PNG-b")
    out = image_grid_html([("fp32 <ref>", b"\x89PNG-a"), ("bf16", tmp_path / "b.png")])
    assert out.count("<img ") == 2 and "data:image/png;base64,iVBORy1h" in out
    assert "fp32 &lt;ref&gt;" in out and 'src="http' not in out
