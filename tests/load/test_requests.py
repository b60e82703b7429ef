"""Workloads, length distributions, trace replay, SLOs and goodput."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from blaze_lab.errors import ConfigError
from blaze_lab.load.requests import (
    WorkloadConfig,
    iter_requests,
    replay_trace,
    sample_lengths,
    session_key,
    workload_arrays,
)
from blaze_lab.load.slo import SLO, goodput


def test_workload_is_seeded_and_shaped() -> None:
    cfg = WorkloadConfig(n_requests=5000, rate=100.0, prompt_mean=200, output_mean=50, sessions=7, seed=2)
    a, b = workload_arrays(cfg), workload_arrays(cfg)
    for key in a:
        assert np.array_equal(a[key], b[key])
    assert a["prompt_tokens"].mean() == pytest.approx(200, rel=0.05)
    assert a["output_tokens"].min() >= 1 and set(np.unique(a["session"])) <= set(range(7))
    reqs = list(iter_requests(a))
    assert [r.id for r in reqs[:3]] == [0, 1, 2] and reqs[10].arrival_s == a["arrival_s"][10]


@pytest.mark.parametrize("dist", ["fixed", "uniform", "lognormal"])
def test_length_distributions(dist: str) -> None:
    x = sample_lengths(dist, 100.0, 50_000, np.random.default_rng(0), cv=0.3, high=1000)
    assert x.mean() == pytest.approx(100, rel=0.02)
    if dist != "fixed":
        assert x.std() / x.mean() == pytest.approx(0.3, abs=0.03)


def test_bad_workload() -> None:
    with pytest.raises(ConfigError, match=r"load\.prompt_dist"):
        WorkloadConfig(prompt_dist="zipf")
    with pytest.raises(ConfigError, match=r"load\.rate"):
        WorkloadConfig(rate=0.0)


def test_replay_trace(tmp_path) -> None:  # type: ignore[no-untyped-def]
    trace = pd.DataFrame({"arrival_s": [10.5, 10.0, 11.0], "prompt_tokens": [3, 1, 2], "session": ["b", "a", "b"]})
    path = tmp_path / "trace.csv"
    trace.to_csv(path, index=False)
    cols = replay_trace(path)
    assert cols["arrival_s"].tolist() == [0.0, 0.5, 1.0]
    assert cols["prompt_tokens"].tolist() == [1, 3, 2]
    assert cols["session"][1] == cols["session"][2] == session_key("b")
    with pytest.raises(ConfigError, match="arrival_s"):
        replay_trace(pd.DataFrame({"t": [1.0]}))


def test_slo_goodput() -> None:
    df = pd.DataFrame({"latency_s": [0.1, 0.2, 0.5, 0.1], "ttft_s": [0.01, 0.2, 0.01, 0.01],
                       "outcome": ["ok", "ok", "ok", "error"]})
    slo = SLO(ttft_s=0.1, e2e_s=0.3)
    assert slo.meets(df).tolist() == [True, False, False, False]
    g = goodput(df, slo, duration_s=0.5)
    assert g == {"goodput_rps": 2.0, "slo_attainment": 0.25, "slo_met": 1}
    assert not SLO(tpot_s=0.1).meets(df).any()  # the frame has no tpot column: cannot claim the SLO
    with pytest.raises(ConfigError, match=r"slo\.e2e_s"):
        SLO(e2e_s=0.0)
