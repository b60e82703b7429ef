"""blaze_lab.load — workloads: arrival processes, request lengths, trace replay, SLOs and goodput."""

from blaze_lab.load.arrivals import ARRIVAL_KINDS, arrival_times, interarrival_gaps, run_closed_loop
from blaze_lab.load.requests import Request, WorkloadConfig, iter_requests, replay_trace, workload_arrays
from blaze_lab.load.slo import SLO, goodput

__all__ = [
    "ARRIVAL_KINDS",
    "SLO",
    "Request",
    "WorkloadConfig",
    "arrival_times",
    "goodput",
    "interarrival_gaps",
    "iter_requests",
    "replay_trace",
    "run_closed_loop",
    "workload_arrays",
]
