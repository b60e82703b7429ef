"""One service model, one fault model: simulated and live fake replicas with the same seed draw the same times."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError
from blaze_lab.replicas.faults import FaultEvent, FaultState
from blaze_lab.replicas.service import ServiceModel, replica_rngs
from blaze_lab.router.config import RouterExperimentConfig
from blaze_lab.router.live import run_live
from blaze_lab.router.simulate import simulate


@pytest.mark.parametrize("dist", ["lognormal", "exponential"])
def test_simulated_and_live_fake_replicas_draw_the_same_service_times(dist: str) -> None:
    # Widely spaced arrivals: every request runs alone, so its latency is exactly its service time.
    cfg = RouterExperimentConfig(strategy="round_robin", replicas=3, n_requests=60, load=0.02, service_cv=0.5,
                                 service_dist=dist, health_interval_s=0.0, time_scale=1.0, seed=7)
    sim = simulate(cfg).ledger
    live = run_live(cfg.replace(mode="live"), clock=VirtualClock()).ledger
    assert (sim["outcome"] == "ok").all() and (live["outcome"] == "ok").all()
    assert sim["replica"].tolist() == live["replica"].tolist()
    np.testing.assert_allclose(live["latency_s"], sim["latency_s"], rtol=1e-9, atol=1e-9)
    assert sim["latency_s"].std() > 0.1 * sim["latency_s"].mean()  # really random, not a constant
    other = simulate(cfg.replace(seed=8)).ledger
    assert not np.allclose(other["latency_s"], sim["latency_s"])


def test_distributions_have_mean_one_noise_and_their_cv() -> None:
    rng = random.Random(0)
    for dist, cv in (("lognormal", 0.5), ("exponential", 1.0), ("deterministic", 0.0)):
        m = ServiceModel(base_s=2.0, per_request_s=0.0, cv=0.5, distribution=dist)
        x = np.array([m.sample(1, rng) for _ in range(40_000)])
        assert x.mean() == pytest.approx(2.0, rel=0.03)
        assert x.std() / x.mean() == pytest.approx(cv, abs=0.03)
    emp = ServiceModel(base_s=1.0, per_request_s=0.0, distribution="empirical", samples=(1.0, 3.0))
    assert set(np.round([emp.sample(1, rng) for _ in range(100)], 6)) == {0.5, 1.5}  # normalised to mean 1
    with pytest.raises(ConfigError, match="service_dist"):
        ServiceModel(distribution="pareto")
    with pytest.raises(ConfigError, match="calibration"):
        ServiceModel(distribution="empirical")


def test_empirical_fit_keeps_measured_tail() -> None:
    rows = pd.DataFrame({"batch_size": [1] * 9 + [4] * 9, "latency_s": [0.1] * 8 + [0.5] + [0.16] * 8 + [0.8]})
    m = ServiceModel.fit(rows, distribution="empirical")
    assert m.distribution == "empirical" and len(m.samples) == 18 and max(m.samples) > 2.5


def test_replica_streams_are_independent_and_reproducible() -> None:
    s0, f0 = replica_rngs(3, 0)
    s1, _ = replica_rngs(3, 1)
    a = [s0.random() for _ in range(3)]
    again = replica_rngs(3, 0)[0]
    assert a == [again.random() for _ in range(3)]
    assert a != [s1.random() for _ in range(3)] and f0.random() != a[0]


def test_one_fault_state_for_both_modes() -> None:
    st = FaultState()
    st.apply(FaultEvent(1.0, 0, "errors", True, value=1.0))
    assert st.fails(random.Random(0))
    st.apply(FaultEvent(2.0, 0, "errors", False))
    assert not st.fails(random.Random(0))
