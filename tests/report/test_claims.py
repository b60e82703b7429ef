"""The Claims section on synthetic rows: each verdict outcome, not-measured claims, and where it is shown."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from blaze_lab.metrics.claims import CANNOT_TELL, NOT_MEASURED, NOT_SUPPORTED, SUPPORTED
from blaze_lab.report.claim_serving import request_units
from blaze_lab.report.claims import claim_items, measure_claims
from blaze_lab.report.html import build_report

BASE = {"serving.batching": "none", "serving.max_batch_size": 8, "serving.max_wait_ms": 5.0, "serving.dtype": "fp32"}
BEST = {
    "serving.batching": "dynamic",
    "serving.max_batch_size": 8,
    "serving.max_wait_ms": 50.0,
    "serving.dtype": "bf16",
}
ENV = {"env.device": "cpu", "env.cpu": "Test CPU", "env.cpu_count": 2, "engine": "serving", "status": "ok"}
N_REQ = 8
SAT, FIXED = 1000.0, 0.5


def _requests(run_id: str, rep: int, window: float, latency: float, rate: float) -> list[dict[str, object]]:
    """``N_REQ`` ok requests whose window (first arrival -> last completion) is ``window`` seconds."""
    if rate == SAT:
        arrivals = np.zeros(N_REQ)
        latencies = np.linspace(window / N_REQ, window, N_REQ)
    else:
        arrivals = np.arange(N_REQ) / rate
        latencies = latency * np.linspace(0.9, 1.1, N_REQ)
    return [
        {"run_id": run_id, "replication": rep, "status": "ok", "outcome": "ok", "engine": "serving",
         "group": f"claims-serving-{rep}", "arrival_s": a, "latency_s": lat, "ttft_s": lat / 4, "output_tokens": 8}
        for a, lat in zip(arrivals, latencies, strict=True)
    ]  # fmt: skip


def serving_sweep(speedups: list[float], latency_ratios: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Baseline and one better setting, at saturation and at a fixed load, one replication per entry."""
    configs = [("base-sat", BASE, SAT), ("best-sat", BEST, SAT), ("base-fix", BASE, FIXED), ("best-fix", BEST, FIXED)]
    summary = pd.DataFrame(
        [{"run_id": r, **cfg, "serving.rate_rps": rate, **ENV, "group": "claims-serving-0"} for r, cfg, rate in configs]
    )
    raw = []
    for rep, (speedup, lat_ratio) in enumerate(zip(speedups, latency_ratios, strict=True)):
        window = 10.0 * (1 + 0.02 * rep)
        raw += _requests("base-sat", rep, window, 0.0, SAT) + _requests("best-sat", rep, window / speedup, 0.0, SAT)
        raw += _requests("base-fix", rep, 0.0, 1.2, FIXED) + _requests("best-fix", rep, 0.0, 1.2 * lat_ratio, FIXED)
    return summary, pd.DataFrame(raw)


def _verdicts(summary: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    return measure_claims(summary, raw)["verdicts"]


@pytest.mark.parametrize(
    ("speedups", "expected"),
    [
        ([12.0, 12.6, 11.7], SUPPORTED),
        ([5.0, 5.3, 4.8], NOT_SUPPORTED),
        ([7.0, 14.0, 10.0], CANNOT_TELL),
    ],
)
def test_throughput_claim_each_outcome(speedups: list[float], expected: str) -> None:
    v = _verdicts(*serving_sweep(speedups, [0.4, 0.42, 0.39]))
    row = v[v["claim"] == "throughput"].iloc[0]
    assert row["verdict"] == expected
    assert row["ci_low"] <= row["estimate"] <= row["ci_high"]
    assert abs(row["estimate"] - np.exp(np.mean(np.log(speedups)))) < 0.05 * row["estimate"]
    assert row["where"] == "cpu: Test CPU, 2 cores" and row["n"] == 3
    if expected == CANNOT_TELL:
        assert row["n_needed"] > 3
    else:
        assert math.isnan(row["n_needed"])


@pytest.mark.parametrize(
    ("ratios", "expected"),
    [([0.30, 0.32, 0.29], SUPPORTED), ([0.80, 0.85, 0.78], NOT_SUPPORTED), ([0.30, 0.70, 0.50], CANNOT_TELL)],
)
def test_latency_claim_p50_each_outcome_and_p99_needs_more_requests(ratios: list[float], expected: str) -> None:
    v = _verdicts(*serving_sweep([12.0, 12.6, 11.7], ratios))
    lat = v[v["claim"] == "latency"].set_index("metric")
    assert set(lat.index) == {"E2E p50", "E2E p99", "TTFT p50", "TTFT p99"}
    assert lat.loc["E2E p50", "verdict"] == expected == lat.loc["TTFT p50", "verdict"]
    # 8 requests per replication: a p99 has no interval (368 needed), whatever its point estimate says
    assert lat.loc["E2E p99", "verdict"] == CANNOT_TELL and "368" in lat.loc["E2E p99", "note"]


def test_claims_without_rows_say_not_measured_and_no_section_without_claims_parts() -> None:
    summary, raw = serving_sweep([12.0, 12.6, 11.7], [0.4, 0.42, 0.39])
    v = _verdicts(summary, raw)
    assert v.loc[v["claim"] == "availability", "verdict"].tolist() == [NOT_MEASURED]
    assert v.loc[v["claim"] == "scaling", "verdict"].tolist() == [NOT_MEASURED, NOT_MEASURED]
    assert v.loc[v["claim"] == "scaling", "#"].tolist() == ["4a", "4b"]
    other = summary.assign(group="serving-abc")
    assert claim_items(other, raw.assign(group="serving-abc")) == []


def test_one_replication_cannot_tell() -> None:
    v = _verdicts(*serving_sweep([12.0], [0.4]))
    assert v.loc[v["claim"] == "throughput", "verdict"].item() == CANNOT_TELL


def test_request_units_window_throughput() -> None:
    _, raw = serving_sweep([4.0], [0.5])
    units = request_units(raw).set_index("run_id")
    assert units.loc["base-sat", "tokens_per_s"] == pytest.approx(8 * N_REQ / 10.0)
    assert units.loc["best-sat", "tokens_per_s"] == pytest.approx(4 * 8 * N_REQ / 10.0)


def _router_rows() -> pd.DataFrame:
    common = {"engine": "router", "status": "ok", "group": "claims-availability-1", "env.device": "cpu"}
    rows = [
        {"run_id": "live", "router.mode": "live", "router.mtbf_s": 30.0, "router.restart_s": 2.0,
         "availability": 0.9995, "availability_ci_low": 0.9985, "availability_ci_high": 0.9999,
         "availability_n": 4000},
        {"run_id": "sim", "router.mode": "sim", "router.mtbf_s": 30.0, "router.restart_s": 2.0,
         "availability": 0.9996, "availability_ci_low": 0.99956, "availability_ci_high": 0.99964,
         "availability_n": 1_000_000},
        {"run_id": "harsh", "router.mode": "sim", "router.mtbf_s": 3.0, "router.restart_s": 2.0,
         "availability": 0.98, "availability_ci_low": 0.975, "availability_ci_high": 0.985, "availability_n": 10_000},
    ]  # fmt: skip
    rng = np.random.default_rng(0)
    scaling = [
        {"run_id": f"s{n}-{seed}", "router.mode": "sim", "router.replicas": n, "router.seed": seed,
         "max_rate_slo_rps": rate * (1 + 0.01 * rng.standard_normal()), "knee_rps": 0.8 * rate,
         "group": "claims-scaling-1"}
        for n, rate in ((1, 10.0), (8, 78.0), (64, 610.0))
        for seed in range(4)
    ]  # fmt: skip
    return pd.DataFrame([{**common, **r} for r in rows + scaling])


def test_availability_and_scaling_rows(tmp_path: Path) -> None:
    (tmp_path / "ray_scaling.json").write_text(
        json.dumps(
            {
                "efficiency": 0.62,
                "efficiency_ci_low": 0.55,
                "efficiency_ci_high": 0.7,
                "repeats": 3,
                "cpu_count": 2,
                "wall_s": {"1": 100.0, "2": 80.0},
            }
        )
    )
    found = measure_claims(_router_rows(), pd.DataFrame(), tmp_path)
    v = found["verdicts"]
    avail = v[v["claim"] == "availability"]
    verdicts = sorted(avail["verdict"])
    assert verdicts == [CANNOT_TELL, SUPPORTED]  # live: [0.9985, 0.9999]; sim at 10^6: clears 0.999
    table = found["details"]["Claim 3: availability by scenario"]
    assert len(table) == 3 and (table["verdict"] == NOT_SUPPORTED).sum() == 1  # the harsh MTBF
    scaling = v[v["claim"] == "scaling"].set_index("#")
    assert scaling.loc["4a", "verdict"] == SUPPORTED  # 610 / (64 · 10) = 0.953, 1% noise per seed
    assert scaling.loc["4a", "estimate"] == pytest.approx(610 / 640, rel=0.02) and scaling.loc["4a", "n"] == 4
    table = found["details"]["Claim 4a: scaling efficiency by number of replicas (simulated)"]
    assert table["replicas"].tolist() == [1, 8, 64] and (table["ci_low"] < table["efficiency"]).iloc[1:].all()
    assert scaling.loc["4b", "verdict"] == NOT_SUPPORTED and "2 cores" in scaling.loc["4b", "measurement"]
    assert v.loc[v["claim"] == "throughput", "verdict"].tolist() == [NOT_MEASURED]


def test_report_has_a_claims_section_after_the_overview() -> None:
    summary, raw = serving_sweep([12.0, 12.6, 11.7], [0.4, 0.42, 0.39])
    page = build_report(summary, raw, {"sweep": "claims"})
    assert 'id="section-s_claims"' in page
    assert page.index("section-s_overview") < page.index("section-s_claims") < page.index("section-s_serving")
    assert "not measured in this sweep" in page and "supported" in page


def test_latency_claim_needs_the_throughput_winner_at_the_fixed_load() -> None:
    summary, raw = serving_sweep([12.0, 12.6, 11.7], [0.4, 0.42, 0.39])
    keep = summary["run_id"] != "best-fix"
    found = measure_claims(summary[keep], raw[raw["run_id"] != "best-fix"])
    assert found["verdicts"].loc[found["verdicts"]["claim"] == "latency", "verdict"].tolist() == [NOT_MEASURED]
    assert any("claim 2 untested" in n for n in found["notes"])


def test_the_claims_spec_feeds_the_section() -> None:
    """experiments/claims.yaml: every part is a ``claims…`` part, and its serving runs hold the naive baseline at the
    saturation load and at a lower fixed load, beside batched settings measured at both."""
    from blaze_lab.report.claims import PART_PREFIX
    from blaze_lab.sweep.plan import expand
    from blaze_lab.sweep.spec import load_spec

    spec = load_spec(Path(__file__).resolve().parents[2] / "experiments" / "claims.yaml")
    assert spec.parts and all(part.name.startswith(PART_PREFIX) for part in spec.parts)
    from blaze_lab.serving.config import ServingConfig

    serving = [run.config for run in expand(spec) if isinstance(run.config, ServingConfig)]
    top = max(c.rate_rps for c in serving)
    naive = [c for c in serving if c.batching == "none" and c.dtype == "fp32"]
    assert {c.rate_rps == top for c in naive} == {True, False}
    batched = {(c.batching, c.max_batch_size, c.dtype, c.rate_rps == top) for c in serving if c.batching != "none"}
    assert batched and all((b, s, d, not at_top) in batched for b, s, d, at_top in batched)


def test_latency_at_a_load_the_baseline_cannot_sustain_tests_nothing() -> None:
    summary, raw = serving_sweep([12.0, 12.6, 11.7], [0.4, 0.42, 0.39])
    fixed = summary["serving.rate_rps"] == FIXED
    summary.loc[fixed, "serving.rate_rps"] = 5.0  # 5 req/s offered: above the baseline's 0.78 req/s at saturation
    v = measure_claims(summary, raw)["verdicts"]
    lat = v[v["claim"] == "latency"]
    assert set(lat["verdict"]) == {NOT_MEASURED} and lat["note"].str.contains("overloaded").all()


def test_a_page_of_several_sweeps_reads_each_sweeps_own_ray_file(tmp_path: Path) -> None:
    import shutil

    from blaze_lab.report.combined import build_combined

    data = Path(__file__).resolve().parent.parent / "data"
    claims, other = tmp_path / "claims", tmp_path / "quickstart"
    shutil.copytree(data / "claims_sweep", claims)
    shutil.copytree(data / "quickstart_sweep", other)
    assert "Claim 4b: Ray executor" not in build_combined([claims, other])
    (claims / "ray_scaling.json").write_text(json.dumps({"efficiency": 0.98, "repeats": 1, "cpu_count": 2}))
    assert "Claim 4b: Ray executor" in build_combined([claims, other])
