"""Prefix-cache-aware routing: the two strategies (threshold, imbalance fallback, weights, breaker interplay), the
replica caches in both modes, the per-run metrics and a small simulated comparison."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pandas as pd
import pytest

from blaze_lab.clock import VirtualClock
from blaze_lab.errors import ConfigError
from blaze_lab.replicas.prefix_cache import PrefixCacheModel, prefill_of
from blaze_lab.replicas.service import ServiceModel, fit_token_costs
from blaze_lab.router.bench import run_one
from blaze_lab.router.config import RouterConfig, RouterExperimentConfig
from blaze_lab.router.core import RouterCore
from blaze_lab.router.live import run_live
from blaze_lab.router.llm_metrics import prefix_metrics
from blaze_lab.router.simulate import simulate
from blaze_lab.router.strategies import ReplicaState, make_strategy


class Req:
    def __init__(self, id: int, blocks: tuple[int, ...], prompt: int = 64, output: int = 8) -> None:
        self.id, self.session, self.blocks, self.prompt_tokens, self.output_tokens = id, 0, blocks, prompt, output


def _reps(n: int = 4) -> list[ReplicaState]:
    return [ReplicaState(i, f"r{i}") for i in range(n)]


def test_affinity_follows_the_longest_match_only_above_the_threshold() -> None:
    reps = _reps()
    aff = make_strategy(RouterConfig(strategy="prefix_affinity", affinity_threshold=0.4), reps)
    aff.routed(reps[1], Req(0, (1, 2, 3, 4)))
    aff.routed(reps[2], Req(1, (1, 9)))
    rng = random.Random(0)
    assert aff.choose(reps, Req(2, (1, 2, 3, 7)), rng)[0].name == "r1"  # 3 of 4 blocks: 0.75 > 0.4
    # One shared block (16 of 64 tokens = 0.25) is below the threshold: the emptiest replica instead.
    chosen, why = aff.choose(reps, Req(3, (1, 5, 6, 7)), rng)
    assert chosen.name in ("r0", "r3") and "miss" in why


def test_affinity_imbalance_fallback_needs_both_thresholds() -> None:
    reps = _reps()
    aff = make_strategy(RouterConfig(strategy="prefix_affinity", balance_abs_threshold=4,
                                     balance_rel_threshold=2.0), reps)
    aff.routed(reps[0], Req(0, (1, 2, 3, 4)))
    hot = Req(1, (1, 2, 3, 4))
    rng = random.Random(0)
    for r in reps:
        r.outstanding = 10
    reps[0].outstanding = 16  # abs 6 > 4 but 16 <= 2 x 10: still balanced -> affinity
    assert aff.choose(reps, hot, rng)[0].name == "r0"
    reps[0].outstanding = 30  # abs 20 > 4 and 30 > 2 x 10: imbalanced -> least loaded
    chosen, why = aff.choose(reps, hot, rng)
    assert chosen.name != "r0" and "imbalance" in why
    for r in reps:
        r.outstanding = 0
    reps[0].outstanding = 3  # 3 > 2 x 0 but abs 3 <= 4 -> affinity
    assert aff.choose(reps, hot, rng)[0].name == "r0"


def test_scorer_weights_trade_affinity_for_queue() -> None:
    reps = _reps()
    reps[0].outstanding, reps[1].outstanding = 3, 0
    cfgs = {"affinity": RouterConfig(strategy="weighted_scorer", score_affinity=5.0, score_queue=1.0),
            "queue": RouterConfig(strategy="weighted_scorer", score_affinity=0.0, score_queue=1.0, score_kv=0.0)}
    picks = {}
    for name, cfg in cfgs.items():
        s = make_strategy(cfg, reps)
        s.routed(reps[0], Req(0, (1, 2, 3, 4)))
        picks[name] = s.choose(reps, Req(1, (1, 2, 3, 4)), random.Random(0))[0].name
    assert picks["affinity"] == "r0" and picks["queue"] != "r0"


def test_scorer_kv_use_follows_routed_and_released_attempts() -> None:
    reps = _reps(2)
    s = make_strategy(RouterConfig(strategy="weighted_scorer", kv_cache_tokens=1000, score_affinity=0.0,
                                   score_queue=0.0, score_kv=1.0), reps)
    big = Req(0, (), prompt=600, output=200)
    s.routed(reps[0], big)
    assert s.view.kv_use(0) == pytest.approx(0.8)  # type: ignore[attr-defined]
    assert s.choose(reps, Req(1, ()), random.Random(0))[0].name == "r1"
    s.released(reps[0], big)
    assert s.view.kv_use(0) == 0.0  # type: ignore[attr-defined]


@pytest.mark.parametrize("strategy", ["prefix_affinity", "weighted_scorer"])
def test_open_breaker_routes_around_the_holder_and_its_index_is_dropped_on_return(strategy: str) -> None:
    clock = VirtualClock()
    cfg = RouterConfig(strategy=strategy, breaker=RouterConfig().breaker.replace(failure_threshold=2, open_s=1.0),
                       retry_budget_min=0.0, max_attempts=1, score_queue=0.0, score_kv=0.0)
    core = RouterCore(cfg, ["a", "b", "c"], clock, seed=0)
    blocks = (11, 12, 13, 14)
    core.submit(Req(0, blocks))
    first = core.outbox.pop()
    holder = first.replica.name
    core.finish(first, ok=True)
    core.submit(Req(1, blocks))
    assert core.outbox[-1].replica.name == holder  # affinity: back to the replica holding the prefix
    core.finish(core.outbox.pop(), ok=False, error="EngineError")
    core.submit(Req(2, blocks))
    core.finish(core.outbox.pop(), ok=False, error="EngineError")  # second failure opens the holder's breaker
    core.submit(Req(3, blocks))
    assert core.outbox[-1].replica.name != holder  # breaker open: only candidates are scored
    core.finish(core.outbox.pop(), ok=True)
    view = core.strategy.view  # type: ignore[attr-defined]
    index = core.replicas[[r.name for r in core.replicas].index(holder)].index
    assert index in view.matches(blocks)
    clock.advance(1.5)
    core.candidates()  # the breaker goes half-open: the replica is back, its (possibly lost) cache forgotten
    assert index not in view.matches(blocks)


def test_prefill_of_and_the_token_cost_fit() -> None:
    cache = PrefixCacheModel(capacity_tokens=1024, block_tokens=16)
    assert prefill_of(cache, Req(0, (1, 2, 3), prompt=50)) == (50, 0)
    assert prefill_of(cache, Req(1, (1, 2, 3), prompt=50)) == (2, 48)
    rng = np.random.default_rng(0)
    prompt = rng.integers(16, 512, 40)
    new = rng.integers(1, 32, 40)
    y = (0.05 + 0.002 * prompt + 0.03 * new) * rng.lognormal(0, 0.02, 40)
    fit = fit_token_costs(pd.DataFrame({"prompt_tokens": prompt, "new_tokens": new, "latency_s": y}))
    assert fit["prefill_s_per_token"] == pytest.approx(0.002, rel=0.1)
    assert fit["decode_s_per_token"] == pytest.approx(0.03, rel=0.1)
    assert fit["r2"] > 0.98 and fit["rel_err_median"] < 0.05
    with pytest.raises(ConfigError, match=r"router\.calibration"):
        fit_token_costs(pd.DataFrame({"latency_s": [1.0]}))
    with pytest.raises(ConfigError, match=r"router\.decode_s_per_token"):
        ServiceModel(decode_s_per_token=-1.0)


def test_prefix_metrics_per_replica_and_nan_without_requests() -> None:
    ledger = pd.DataFrame({"replica": ["r0", "r1", "r1", "r2"], "outcome": ["ok", "ok", "ok", "error"],
                           "ttft_s": [0.1, 0.2, 0.3, np.nan], "prompt_tokens": [100, 100, 100, 100],
                           "cached_tokens": [100, 50, 0, 0]})
    m = prefix_metrics(ledger, pd.DataFrame({"replica": ["r0", "r1", "r2"], "dispatched": [1, 2, 3]}))
    assert m["cache_hit_rate"] == pytest.approx(0.5) and m["prefill_tokens_saved"] == 150
    assert (m["cache_hit_rate_min"], m["cache_hit_rate_max"]) == (0.25, 1.0)
    assert m["load_imbalance"] == pytest.approx(1.5) and m["ttft_s_mean"] == pytest.approx(0.2)
    assert np.isnan(m["ttft_s_p99"])  # 3 samples cannot support a p99
    empty = prefix_metrics(ledger.iloc[:0], pd.DataFrame({"replica": [], "dispatched": []}))
    assert np.isnan(empty["cache_hit_rate"]) and np.isnan(empty["load_imbalance"])


PREFIX: dict[str, Any] = {
    "workload": "prefix", "prefix_groups": 32, "prefix_tokens": 512, "suffix_tokens": 32, "output_tokens": 16,
    "prefix_zipf_s": 0.5, "kv_cache_tokens": 4096, "base_latency_s": 0.02, "per_request_s": 0.0,
    "prefill_s_per_token": 0.0005, "decode_s_per_token": 0.005,
}


def test_small_simulation_affinity_hits_more_and_first_tokens_sooner() -> None:
    rows = {s: run_one(RouterExperimentConfig(strategy=s, replicas=8, n_requests=1500, seed=3, **PREFIX))[0]
            for s in ("power_of_two_choices", "prefix_affinity", "weighted_scorer")}
    p2c, aff, score = rows["power_of_two_choices"], rows["prefix_affinity"], rows["weighted_scorer"]
    assert all(r["ok_rate"] == 1.0 for r in rows.values())
    assert aff["cache_hit_rate"] > p2c["cache_hit_rate"] + 0.3 and score["cache_hit_rate"] > p2c["cache_hit_rate"]
    assert aff["ttft_s_p50"] < p2c["ttft_s_p50"] and aff["prefill_tokens_saved"] > p2c["prefill_tokens_saved"]
    assert p2c["load_imbalance"] < aff["load_imbalance"]  # affinity pays in balance
    again = run_one(RouterExperimentConfig(strategy="prefix_affinity", replicas=8, n_requests=1500, seed=3, **PREFIX))
    assert again[0]["ttft_s_p99"] == aff["ttft_s_p99"]  # deterministic for a seed


def test_crash_empties_the_replica_cache_and_every_request_is_accounted() -> None:
    cfg = RouterExperimentConfig(strategy="prefix_affinity", replicas=4, n_requests=800, fault="crash", seed=1,
                                 **PREFIX)
    ledger = simulate(cfg).ledger
    assert len(ledger) == 800 and ledger["outcome"].isin(["ok", "error"]).all()
    assert (ledger["cached_tokens"] <= ledger["prompt_tokens"]).all()


def test_live_fake_replicas_share_the_cache_model_with_the_simulator() -> None:
    # Widely spaced arrivals: same routing, same cache hits, same service draws in both modes.
    cfg = RouterExperimentConfig(strategy="prefix_affinity", replicas=3, n_requests=60, load=0.02,
                                 health_interval_s=0.0, time_scale=1.0, seed=5, **PREFIX)
    sim = simulate(cfg).ledger
    live = run_live(cfg.replace(mode="live"), clock=VirtualClock()).ledger
    assert (sim["outcome"] == "ok").all() and (live["outcome"] == "ok").all()
    assert sim["replica"].tolist() == live["replica"].tolist()
    assert sim["cached_tokens"].tolist() == live["cached_tokens"].tolist() and sim["cached_tokens"].sum() > 0
    np.testing.assert_allclose(live["ttft_s"], sim["ttft_s"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(live["latency_s"], sim["latency_s"], rtol=1e-9, atol=1e-9)
    assert (sim["ttft_s"] < sim["latency_s"]).all()


def test_bad_prefix_knobs_name_their_field() -> None:
    with pytest.raises(ConfigError, match=r"router\.workload"):
        RouterExperimentConfig(workload="chat")
    with pytest.raises(ConfigError, match=r"router\.affinity_threshold"):
        RouterExperimentConfig(affinity_threshold=1.5)
    with pytest.raises(ConfigError, match=r"router\.balance_rel_threshold"):
        RouterExperimentConfig(balance_rel_threshold=0.5)
    with pytest.raises(ConfigError, match=r"router\.kv_cache_tokens"):
        RouterExperimentConfig(kv_cache_tokens=-1)


def test_router_report_shows_the_prefix_panels_only_for_cached_runs() -> None:
    import plotly.graph_objects as go

    from blaze_lab.report.router_figures import router_sections
    from blaze_lab.router.bench import benchmark_group

    runs = [{"run_id": f"{s}-{k}", "config": {"strategy": s, "seed": k, "n_requests": 300, "replicas": 4, **PREFIX}}
            for s in ("power_of_two_choices", "prefix_affinity") for k in (0, 1)]
    summary, raw = benchmark_group(runs)
    titles = [title for title, _ in router_sections(summary, raw)]
    item = dict(router_sections(summary, raw))[titles[2]]
    assert titles[2].startswith("Prefix-cache routing") and isinstance(item, go.Figure)
    assert len(item.data) == 4  # one bar trace per scenario (one here) and panel
    plain = summary.assign(cache_hit_rate=0.0)
    assert not any(t.startswith("Prefix-cache") for t, _ in router_sections(plain, raw))


def test_kendall_tau_b_and_agreement_per_metric() -> None:
    from blaze_lab.router.parity import agreement, kendall

    assert kendall([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0 and kendall([1, 2, 3], [3, 2, 1]) == -1.0
    assert kendall([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / np.sqrt(2 * 3))  # tau-b with a tie
    assert np.isnan(kendall([1, float("nan")], [1, 2]))
    runs = pd.DataFrame({"seed": [0] * 4 + [1] * 4, "strategy": ["a", "b"] * 4,
                         "mode": (["live"] * 2 + ["sim"] * 2) * 2,
                         "ttft_s_p50": [1.0, 2.0, 1.1, 2.2, 2.0, 1.0, 1.0, 2.0]})
    out = agreement(runs, "ttft_s_p50")
    assert out["same_best"].tolist() == [True, False] and out["kendall"].tolist() == [1.0, -1.0]
