"""blaze_lab.load — workloads: arrivals, request lengths, trace replay, shared-prefix mixes, SLOs and goodput."""

from blaze_lab.load.arrivals import ARRIVAL_KINDS, arrival_times, interarrival_gaps, run_closed_loop
from blaze_lab.load.prefix import PrefixRequest, PrefixWorkloadConfig, block_hashes, prefix_workload
from blaze_lab.load.requests import Request, WorkloadConfig, iter_requests, replay_trace, workload_arrays
from blaze_lab.load.slo import SLO, goodput

__all__ = [
    "ARRIVAL_KINDS",
    "SLO",
    "PrefixRequest",
    "PrefixWorkloadConfig",
    "Request",
    "WorkloadConfig",
    "arrival_times",
    "block_hashes",
    "goodput",
    "interarrival_gaps",
    "iter_requests",
    "prefix_workload",
    "replay_trace",
    "run_closed_loop",
    "workload_arrays",
]
