"""The router section's saturation items on a tiny simulated replicas x seeds sweep."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from blaze_lab.report.router_figures import router_sections
from blaze_lab.router.bench import benchmark_group


def test_router_section_leads_with_saturation_and_scaling() -> None:
    runs = [{"run_id": f"r{n}s{seed}", "config": {"replicas": n, "seed": seed, "n_requests": 60,
                                                  "schedule": "saturation", "saturation_steps": 3,
                                                  "saturation_step_s": "40x", "scaling_baseline": True}}
            for n in (1, 2) for seed in (0, 1)]
    summary, raw = benchmark_group(runs)
    assert (summary["status"] == "ok").all()
    items = dict(router_sections(summary, raw))
    curves = items["Saturation: latency vs throughput (seed 0)"]
    assert isinstance(curves, go.Figure) and {t.name for t in curves.data} >= {"replicas=1", "replicas=2"}
    assert curves.layout.xaxis.type == "log"
    scaling = items["Replica scaling"]
    assert isinstance(scaling, pd.DataFrame) and scaling["replicas"].tolist() == [1, 2]
    assert scaling["seeds"].tolist() == [2, 2] and 0.5 < scaling["scaling_efficiency"].iloc[1] < 1.5
    assert isinstance(items["Max SLO-meeting rate vs replicas (mean over seeds, 95% CI)"], go.Figure)
    assert isinstance(items["Saturation: knee and max rate meeting the SLO per run"], pd.DataFrame)
