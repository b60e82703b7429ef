"""Metrics layer: timing, per-token timing, memory, energy, roofline, statistics and row recording.

Nothing here imports an engine; engines import this.
"""

from blaze_lab.metrics.loop import run_configs
from blaze_lab.metrics.memory import MemoryTracker, model_bytes
from blaze_lab.metrics.recorder import Recorder, summarize_frame
from blaze_lab.metrics.roofline import decode_bytes_per_s, peak_bandwidth, roofline_fraction
from blaze_lab.metrics.stats import ValidityRules, bootstrap_ci, summarize, summarize_columns
from blaze_lab.metrics.timing import MeasureSettings, RegionTimer
from blaze_lab.metrics.tokens import GenerationTimings, TokenTimer

__all__ = [
    "GenerationTimings",
    "MeasureSettings",
    "MemoryTracker",
    "Recorder",
    "RegionTimer",
    "TokenTimer",
    "ValidityRules",
    "bootstrap_ci",
    "decode_bytes_per_s",
    "model_bytes",
    "peak_bandwidth",
    "roofline_fraction",
    "run_configs",
    "summarize",
    "summarize_columns",
    "summarize_frame",
]
