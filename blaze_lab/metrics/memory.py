"""Memory: peak allocated / reserved (torch.cuda), peak process RSS, NVML process VRAM, NVML energy.

Peak RSS uses the kernel's own high-water mark: writing ``5`` to ``/proc/self/clear_refs`` resets ``VmHWM`` (Linux
≥ 4.0), so the peak of a region costs nothing while it runs — no sampling thread competing with the workload for the
GIL. Where that reset is not allowed, a light sampling thread takes over. NVML figures are NaN when NVML is absent.

Example:
    >>> with MemoryTracker("cpu") as mem:
    ...     block = bytearray(50_000_000)
    >>> mem.result()["peak_rss_bytes"] > 50_000_000
    True
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any

import psutil

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _read_hwm() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


class _RssSampler(threading.Thread):
    def __init__(self, interval_s: float = 0.01) -> None:
        super().__init__(daemon=True)
        self._proc = psutil.Process()
        self._stop_event = threading.Event()
        self.interval_s = interval_s
        self.peak = self._proc.memory_info().rss

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return max(self.peak, self._proc.memory_info().rss)


class Nvml:
    """Thin NVML access for one device; every method returns NaN when NVML is unusable."""

    def __init__(self, index: int = 0) -> None:
        self._handle: Any = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception:  # no NVML library / no GPU / sandbox without NVML: figures stay NaN
            self._handle = None

    @property
    def available(self) -> bool:
        return self._handle is not None

    def process_vram_bytes(self, pid: int | None = None) -> float:
        if self._handle is None:
            return math.nan
        pid = pid or os.getpid()
        try:
            procs = self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle)
        except Exception:
            return math.nan
        used = [p.usedGpuMemory for p in procs if p.pid == pid and p.usedGpuMemory is not None]
        return float(sum(used)) if used else math.nan

    def energy_mj(self) -> float:
        """Total energy since driver load, millijoules (Volta+)."""
        if self._handle is None:
            return math.nan
        try:
            return float(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))
        except Exception:
            return math.nan


class MemoryTracker:
    """Context manager measuring the peak memory of a region.

    ``result()`` gives ``peak_allocated_bytes``, ``peak_reserved_bytes`` (CUDA; NaN on CPU), ``peak_rss_bytes``,
    ``nvml_vram_bytes`` and ``energy_j`` (NVML; NaN when absent).
    """

    def __init__(self, device: str = "cpu", nvml: Nvml | None = None) -> None:
        self.device = device
        self._cuda = device.startswith("cuda")
        self._nvml = nvml if nvml is not None else (Nvml() if self._cuda else None)
        self._sampler: _RssSampler | None = None
        self._energy0 = math.nan
        self._result: dict[str, float] = {}

    def __enter__(self) -> MemoryTracker:
        if self._cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        if not _reset_hwm():
            self._sampler = _RssSampler()
            self._sampler.start()
        if self._nvml is not None:
            self._energy0 = self._nvml.energy_mj()
        return self

    def __exit__(self, *exc: object) -> None:
        nan = math.nan
        res: dict[str, float] = {"peak_allocated_bytes": nan, "peak_reserved_bytes": nan}
        if self._cuda:
            import torch

            torch.cuda.synchronize()
            res["peak_allocated_bytes"] = float(torch.cuda.max_memory_allocated())
            res["peak_reserved_bytes"] = float(torch.cuda.max_memory_reserved())
        if self._sampler is not None:
            res["peak_rss_bytes"] = float(self._sampler.stop())
        else:
            hwm = _read_hwm()
            res["peak_rss_bytes"] = float(hwm) if hwm is not None else nan
        if self._nvml is not None:
            res["nvml_vram_bytes"] = self._nvml.process_vram_bytes()
            res["energy_j"] = (self._nvml.energy_mj() - self._energy0) / 1000.0
        else:
            res["nvml_vram_bytes"] = nan
            res["energy_j"] = nan
        self._result = res

    def result(self) -> dict[str, float]:
        return dict(self._result)


def model_bytes(model: Any) -> int:
    """Bytes of a torch module's parameters and buffers as stored (quantized weights count at their real size)."""
    total = 0
    for tensor in list(model.parameters()) + list(model.buffers()):
        total += tensor.numel() * tensor.element_size()
    return total


__all__ = ["MemoryTracker", "Nvml", "model_bytes"]
