"""The overview: groups that never ran (header + table), one table per kind, a table of contents that links."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from blaze_lab.clock import VirtualClock
from blaze_lab.report.html import build_report, write_report
from blaze_lab.report.overview import group_status, groups_line, kind_table, missing_groups_table
from blaze_lab.sweep.collect import collect, load_manifest

DATA = Path(__file__).resolve().parents[1] / "data"
GPU = Path(__file__).resolve().parents[2] / "results" / "published" / "gpu-h200-2026-11-26"


def test_group_status_trusts_the_folders(tmp_path: Path) -> None:
    results = tmp_path / "q"
    shutil.copytree(DATA / "quickstart_sweep", results)
    manifest = load_manifest(results)
    assert groups_line(group_status(manifest, results)) == "6 of 6 groups done"
    shutil.rmtree(results / "router-646ffab312ea")  # a group whose results are gone has not run, whatever was said
    groups = group_status(manifest, results)
    assert groups_line(groups) == "5 of 6 groups done; 1 not run (12 planned runs without results)"
    table = missing_groups_table(groups, manifest)
    assert table["group"].tolist() == ["router-646ffab312ea"]
    assert "adaptive · seed=2" in table.loc[0, "configs"]  # planned configs named by the label formatter


def test_published_gpu_report_states_what_did_not_run() -> None:
    manifest = json.loads((GPU / "manifest.json").read_text())
    summary, raw = collect(GPU)
    groups = group_status(manifest, GPU)
    page = build_report(summary, raw, manifest, clock=VirtualClock(), groups=groups)
    assert "2 of 4 groups done; 2 not run (6 planned runs without results)" in page
    assert "Incomplete sweep" in page and "Every run has status ok." not in page
    assert "fp16 · quant=bnb-nf4 · bs32" in page  # a config that never ran, by name
    committed = (GPU / "report.html").read_text()  # the published page was regenerated with this report
    assert "2 of 4 groups done" in committed and "Groups not run" in committed


def test_kind_table_pools_seeds_and_has_units() -> None:
    summary, _ = collect(DATA / "quickstart_sweep")
    router = kind_table(summary[summary["engine"] == "router"])
    assert len(router) == 4 and set(router["seeds"]) == {3}  # 12 runs, 4 strategies x 3 seeds
    assert "goodput (req/s), mean over seeds [95% CI]" in router.columns
    llm = kind_table(summary[summary["engine"] == "llm"])
    assert "throughput mean (tokens/s) [95% CI]" in llm.columns
    assert not llm.iloc[0, 3].endswith("]")  # n=1: the collapsed CI is not shown


def test_toc_links_resolve_and_sections_are_wrapped(tmp_path: Path) -> None:
    results = tmp_path / "q"
    shutil.copytree(DATA / "quickstart_sweep", results)
    page = write_report(results, png=False).read_text()
    links = re.findall(r'<a href="#([^"]+)">', page)
    ids = set(re.findall(r' id="([^"]+)"', page))
    assert len(links) >= 20 and set(links) <= ids
    for section in ("overview", "llm", "diffusion", "router"):
        assert f'<section id="section-s_{section}">' in page
    assert page.count("<h3") == len(links) - 4  # every item is in the contents


def test_every_kind_has_a_best_config_table(tmp_path: Path) -> None:
    summary, raw = collect(DATA / "quickstart_sweep")
    page = build_report(summary, raw, load_manifest(DATA / "quickstart_sweep"), clock=VirtualClock())
    sections = page.split('<section id="section-s_')[1:]
    assert [s.split('"', 1)[0] for s in sections] == ["overview", "llm", "diffusion", "router"]
    assert all("Best config per objective" in s for s in sections[1:])


def test_kind_table_says_which_cis_are_between_replications() -> None:
    summary, _ = collect(DATA / "quickstart_sweep")
    llm = summary[summary["engine"] == "llm"].copy()
    assert "CIs from" not in kind_table(llm).columns  # one run per config: nothing to say
    llm["replications"] = 2
    for root in [c[: -len("_mean")] for c in llm.columns if c.endswith("_mean")]:
        llm[f"{root}_ci_source"] = "within run"
    llm.loc[llm.index[0], [c for c in llm.columns if c.endswith("_ci_source")]] = "between replications"
    sources = kind_table(llm)["CIs from"].tolist()
    assert sources[0] == "between 2 replications" and set(sources[1:]) == {"within run"}
