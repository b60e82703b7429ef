"""Busy-machine detection: how much of the machine other work used while a call was being measured.

A shared machine silently produces numbers 10–30× off when another process competes for the cores (two torch
processes with OpenMP threads on 2 cores wait on each other's descheduled threads). Each measured call is therefore
bracketed by two cheap snapshots of the kernel's counters:

- ``/proc/stat``: CPU time spent by *all* processes on every core (user, nice, system, irq, softirq) and ``steal``
  (time a hypervisor gave our virtual CPUs to someone else);
- our own process's CPU time (``os.times``, all threads) and involuntary context switches (``getrusage``);
- the 1-minute load average; on CUDA, the other processes NVML sees on the device.

**Other processes' CPU share** = (all busy CPU time − our CPU time) / (wall time × cores): 0 on a quiet machine,
0.5 when one other process keeps one of two cores busy. A call is ``contended`` when that share exceeds
:data:`OTHER_CPU_THRESHOLD` (0.25: a quarter of the machine's CPU capacity was taken by others — far above the
background of an idle system, ~0.01–0.05 here) or steal exceeds :data:`STEAL_THRESHOLD`, or another process used the
GPU. A summary row is ``contended`` when the mean share over its measured calls exceeds the threshold or a quarter
of its calls were contended; the row is then ``valid=False`` with the figures in its reason.

Example:
    >>> probe = ContentionProbe()
    >>> before = probe.snapshot()
    >>> _ = sum(i * i for i in range(200_000))
    >>> cols = probe.since(before)
    >>> sorted(cols)
    ['contended', 'gpu_other_processes', 'involuntary_switches', 'load_1m', 'other_cpu_frac', 'steal_frac']
    >>> 0.0 <= cols["other_cpu_frac"] <= 1.0
    True
"""

from __future__ import annotations

import dataclasses
import math
import os
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# A quarter of the machine's CPU capacity used by other processes during a call: several times the background of an
# idle machine, and well below what one competing busy process takes on these 2-core machines (0.5).
OTHER_CPU_THRESHOLD = 0.25
# Hypervisor steal above a tenth of the call: the virtual CPUs were not ours for that share of the time.
STEAL_THRESHOLD = 0.10
# A row is contended when at least this share of its measured calls were (or the mean share exceeds the threshold).
CONTENDED_CALL_SHARE = 0.25

_STAT = Path("/proc/stat")
_LOADAVG = Path("/proc/loadavg")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """Counters at one instant (seconds; NaN where the platform does not provide them)."""

    wall_s: float
    busy_s: float
    steal_s: float
    self_cpu_s: float
    involuntary: int


def _read_stat() -> tuple[float, float]:
    try:
        first = _STAT.read_text().split("\n", 1)[0].split()
    except OSError:
        return math.nan, math.nan
    # cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user/nice)
    values = [int(v) for v in first[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = values[:7]
    steal = values[7] if len(values) > 7 else 0
    return (user + nice + system + irq + softirq) / _TICKS, steal / _TICKS


def _load_1m() -> float:
    try:
        return float(_LOADAVG.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return math.nan


class ContentionProbe:
    """Takes :class:`Snapshot` s and turns a pair into contention columns (see the module docstring).

    ``device`` ``"cuda..."`` also counts other processes on that GPU through NVML (0 when NVML is absent).
    """

    def __init__(self, device: str = "cpu", cores: int | None = None) -> None:
        self.device = device
        self.cores = cores or os.cpu_count() or 1
        self._nvml_handle: Any = None
        if device.startswith("cuda"):
            self._nvml_handle = _nvml_handle(device)

    def snapshot(self) -> Snapshot:
        busy, steal = _read_stat()
        times = os.times()
        return Snapshot(
            wall_s=time.monotonic(),
            busy_s=busy,
            steal_s=steal,
            self_cpu_s=times.user + times.system,
            involuntary=resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw,
        )

    def since(self, before: Snapshot) -> dict[str, Any]:
        """Contention columns for the interval from ``before`` to now."""
        after = self.snapshot()
        wall = max(after.wall_s - before.wall_s, 1e-9)
        capacity = wall * self.cores
        other = (after.busy_s - before.busy_s) - (after.self_cpu_s - before.self_cpu_s)
        # /proc/stat counts in clock ticks (10 ms): a short call's share is rounded; clamp to the possible range.
        other_frac = min(max(other / capacity, 0.0), 1.0) if not math.isnan(other) else math.nan
        steal_frac = min(max((after.steal_s - before.steal_s) / capacity, 0.0), 1.0)
        gpu_others = self._gpu_other_processes()
        contended = bool(
            (other_frac == other_frac and other_frac > OTHER_CPU_THRESHOLD)
            or (steal_frac == steal_frac and steal_frac > STEAL_THRESHOLD)
            or gpu_others > 0
        )
        return {
            "other_cpu_frac": other_frac,
            "steal_frac": steal_frac,
            "load_1m": _load_1m(),
            "involuntary_switches": after.involuntary - before.involuntary,
            "gpu_other_processes": gpu_others,
            "contended": contended,
        }

    def _gpu_other_processes(self) -> int:
        if self._nvml_handle is None:
            return 0
        try:
            import pynvml

            procs = pynvml.nvmlDeviceGetComputeRunningProcesses(self._nvml_handle)
        except Exception:  # NVML errors vary by driver; no figure is better than a crash here
            return 0
        return sum(1 for p in procs if p.pid != os.getpid())


def _nvml_handle(device: str) -> Any:
    try:
        import pynvml

        pynvml.nvmlInit()
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        return pynvml.nvmlDeviceGetHandleByIndex(index)
    except Exception:  # NVML absent or not initialisable: the GPU part of the probe is off
        return None


def row_contention(calls: Sequence[dict[str, Any]]) -> tuple[bool, str, dict[str, float]]:
    """Row-level verdict from the measured calls' columns: ``(contended, reason, summary columns)``.

    >>> quiet = [{"other_cpu_frac": 0.02, "steal_frac": 0.0, "contended": False}] * 4
    >>> row_contention(quiet)[0]
    False
    >>> busy = quiet[:2] + [{"other_cpu_frac": 0.5, "steal_frac": 0.0, "contended": True}] * 2
    >>> contended, reason, _ = row_contention(busy)
    >>> contended, reason
    (True, 'contended: other processes used 26% of the CPU on average (2/4 calls over 25%)')
    """
    fracs = [float(c["other_cpu_frac"]) for c in calls if c.get("other_cpu_frac") is not None]
    fracs = [f for f in fracs if f == f]
    flagged = sum(1 for c in calls if c.get("contended"))
    mean = sum(fracs) / len(fracs) if fracs else math.nan
    peak = max(fracs) if fracs else math.nan
    cols = {"other_cpu_frac_mean": mean, "other_cpu_frac_max": peak, "contended_calls": float(flagged)}
    share = flagged / len(calls) if calls else 0.0
    contended = bool(calls) and ((mean == mean and mean > OTHER_CPU_THRESHOLD) or share >= CONTENDED_CALL_SHARE)
    reason = ""
    if contended:
        reason = (
            f"contended: other processes used {mean:.0%} of the CPU on average "
            f"({flagged}/{len(calls)} calls over {OTHER_CPU_THRESHOLD:.0%})"
        )
    return contended, reason, cols


def thread_settings() -> dict[str, Any]:
    """The threading settings a CPU number depends on: torch intra-op threads (when torch is loaded) and OpenMP env.

    >>> sorted(thread_settings())
    ['mkl_num_threads', 'omp_num_threads', 'omp_wait_policy', 'torch_threads']
    """
    import sys

    torch = sys.modules.get("torch")
    return {
        "torch_threads": int(torch.get_num_threads()) if torch is not None else -1,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
        "mkl_num_threads": os.environ.get("MKL_NUM_THREADS", ""),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    }


__all__ = [
    "CONTENDED_CALL_SHARE",
    "OTHER_CPU_THRESHOLD",
    "STEAL_THRESHOLD",
    "ContentionProbe",
    "Snapshot",
    "row_contention",
    "thread_settings",
]
